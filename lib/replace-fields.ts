/**
 * When the Kubernetes provider replaces an object (delete + create) instead of updating it in place: its
 * replace-on-change ("force new") fields per apiVersion and kind, as data, for the offline diff
 * (lib/diff.ts).
 *
 * Written from the source of the provider the engine tests run: pulumi-kubernetes v4.25.0, Go module
 * github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199 (see
 * toolchain/binaries.tsv). Paths below (`pkg/provider/diff.go`, …) are inside that module. To correct an
 * entry after comparing with `pulumi preview --diff`, edit its `fields` and say why in its comment.
 *
 * How the provider decides (pkg/provider/provider.go, `Diff` and `convertPatchToDiff`):
 * - It diffs the old object (live state pruned to the old inputs) against the new inputs, leaf by leaf;
 *   arrays element by element **by position** (`spec.template.spec.containers[0].image`), maps by key.
 * - A changed leaf forces a replacement when one of the kind's force-new paths matches it
 *   (pkg/openapi/match.go `PatchPropertiesChanged`: a JSONPath over a patch holding only that change). So a
 *   force-new path covers every change under it (`spec.template` covers
 *   `spec.template.spec.containers[0].image`), `[*]` stands for any array element, and a change above it
 *   counts when the new value contains the path (adding a whole container with an `image`).
 * - The force-new paths are `metadata.name` and `metadata.namespace` for every kind, plus the kind's entry
 *   below, chosen by the **new** object's group, version and kind (pkg/provider/diff.go
 *   `forceNewProperties`). A kind with no entry, a custom resource among them, replaces only on those two.
 * - Namespaces are canonical first: unset is `default` for a namespaced kind, and cleared for a
 *   cluster-scoped one (provider.go `Diff`, `canonicalNamespace`).
 * - Replacement deletes first (`deleteBeforeReplace`) when the new object has a name set by the program
 *   (not auto-named), equal to the old name, in the same namespace: two objects of one name cannot
 *   coexist. Otherwise the engine creates the replacement first, then deletes the old object
 *   (provider.go `Diff`; auto-naming in pkg/metadata/naming.go).
 * - A change of apiVersion or kind changes the Pulumi type (`kubernetes:apps/v1:StatefulSet`), so the
 *   engine sees a different resource: delete and create, which the offline diff already shows as
 *   remove + add. The SDK's built-in aliases join old API versions of one kind (e.g.
 *   `kubernetes:apps/v1beta2:StatefulSet` → `apps/v1`); then it is a Diff like any other and apiVersion
 *   is not a force-new field.
 * - A Patch resource (`kubernetes:core/v1:PersistentVolumeClaimPatch`, …) replaces only on
 *   metadata.name/namespace (provider.go `Diff`, pkg/kinds/util.go `IsPatchResource`).
 * - `ignoreChanges` paths are dropped before anything is decided (the engine keeps the old value; the
 *   provider also drops them from its diff). The engine's own `replaceOnChanges` / `deleteBeforeReplace`
 *   resource options would add to this; the program sets neither, and the render does not record them.
 */

/** The provider build this table was written from. */
export const PROVIDER_SOURCE = {
    name: "pulumi-kubernetes",
    version: "4.25.0",
    module: "github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199",
} as const;

/**
 * Provider config that changes the table: `kubernetes:enableSecretMutable` /
 * `kubernetes:enableConfigMapMutable` (env `PULUMI_K8S_ENABLE_SECRET_MUTABLE` /
 * `PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE`), both false by default (provider.go `Configure`). This project sets
 * neither.
 */
export interface ProviderFlags {
    readonly enableSecretMutable?: boolean;
    readonly enableConfigMapMutable?: boolean;
}

export interface ReplaceRule {
    /** apiVersion as a manifest writes it: `v1`, `apps/v1`. */
    readonly apiVersion: string;
    readonly kind: string;
    /** Force-new paths besides metadata.name/namespace: dotted, `[*]` for any array element. */
    readonly fields: readonly string[];
    /** Where in the provider module the entry comes from. */
    readonly source: string;
    /** The fields instead, when `flag` is on and the object is not `immutable: true`. */
    readonly whenMutable?: { readonly flag: keyof ProviderFlags; readonly fields: readonly string[] };
}

/** Force-new for every kind: the object's identity (diff.go `metadataForceNewProperties`; provider.go `Diff`). */
export const IDENTITY_FIELDS: readonly string[] = ["metadata.name", "metadata.namespace"];

// The provider's container fields of a Pod, for each of containers[*] and initContainers[*]
// (diff.go `containerForceNewProperties`; its extra `env.value` is covered by `env`).
const POD_CONTAINER_FIELDS = [
    "args", "command", "env", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "ports", "readinessProbe", "resources",
    "securityContext", "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices",
    "volumeMounts", "workingDir",
];

/**
 * The table. The provider also lists `selector.matchLabels` / `selector.matchExpressions[...]` next to
 * every `spec.selector` (diff.go `labelSelectorForceNewProperties`); `spec.selector` already covers them.
 * Left out, as no cluster this platform targets serves them: apps/v1beta1, apps/v1beta2, batch/v1beta1 and
 * batch/v2alpha1 Job, policy/v1beta1 PodDisruptionBudget (`spec`), rbac v1alpha1/v1beta1 bindings.
 */
export const REPLACE_ON_CHANGE: readonly ReplaceRule[] = [
    // core/v1 Namespace: not in the provider's table (diff.go `core`): only a new name replaces it.
    { apiVersion: "v1", kind: "Namespace", fields: [], source: "pkg/provider/diff.go (no entry under `core`)" },
    // core/v1 Secret: with the provider's defaults every change of type, data or stringData replaces it
    // (diff.go `forceNewProperties`, the `clients.IsSecret` branch, before the per-kind lookup). With
    // enableSecretMutable on and the Secret not immutable, the per-kind entry applies: only `type`.
    {
        apiVersion: "v1",
        kind: "Secret",
        fields: ["type", "data", "stringData"],
        whenMutable: { flag: "enableSecretMutable", fields: ["type"] },
        source: "pkg/provider/diff.go forceNewProperties (IsSecret branch), `core` Secret; pkg/clients/clients.go IsSecret/IsImmutable",
    },
    // core/v1 ConfigMap: no per-kind entry; with the defaults data and binaryData replace it
    // (diff.go `forceNewProperties`, the `clients.IsConfigMap` branch). enableConfigMapMutable on and not
    // immutable: updated in place.
    {
        apiVersion: "v1",
        kind: "ConfigMap",
        fields: ["data", "binaryData"],
        whenMutable: { flag: "enableConfigMapMutable", fields: [] },
        source: "pkg/provider/diff.go forceNewProperties (IsConfigMap branch); pkg/clients/clients.go IsConfigMap/IsImmutable",
    },
    // core/v1 Service: only spec.clusterIP; spec.type and ports update in place.
    { apiVersion: "v1", kind: "Service", fields: ["spec.clusterIP"], source: "pkg/provider/diff.go `core` Service" },
    // core/v1 ServiceAccount: no entry.
    { apiVersion: "v1", kind: "ServiceAccount", fields: [], source: "pkg/provider/diff.go (no entry under `core`)" },
    // core/v1 PersistentVolumeClaim: access modes, selector, class, bound volume; a resources.requests
    // change (a volume expansion) is an update.
    {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        fields: ["spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
        source: "pkg/provider/diff.go `core` PersistentVolumeClaim",
    },
    // core/v1 PersistentVolume: any change of the volume source.
    {
        apiVersion: "v1",
        kind: "PersistentVolume",
        fields: [
            "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume", "flocker", "gcePersistentDisk",
            "glusterfs", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO",
            "storageos", "vsphereVolume",
        ].map((f) => `spec.${f}`),
        source: "pkg/provider/diff.go `core` PersistentVolume",
    },
    // core/v1 Pod (the platform makes none; its controllers do): most of the spec, and per container.
    {
        apiVersion: "v1",
        kind: "Pod",
        fields: [
            ...[
                "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "enableServiceLinks", "hostAliases", "hostIPC",
                "hostNetwork", "hostPID", "hostname", "imagePullSecrets", "nodeName", "nodeSelector", "overhead", "preemptionPolicy",
                "priority", "priorityClassName", "readinessGates", "restartPolicy", "runtimeClassName", "schedulerName", "securityContext",
                "serviceAccount", "serviceAccountName", "shareProcessNamespace", "subdomain", "terminationGracePeriodSeconds", "volumes",
            ].map((f) => `spec.${f}`),
            ...["containers", "initContainers"].flatMap((list) => POD_CONTAINER_FIELDS.map((f) => `spec.${list}[*].${f}`)),
        ],
        source: "pkg/provider/diff.go `core` Pod, containerForceNewProperties",
    },
    // core/v1 ResourceQuota.
    { apiVersion: "v1", kind: "ResourceQuota", fields: ["spec.scopes"], source: "pkg/provider/diff.go `core` ResourceQuota" },
    // apps/v1 Deployment and DaemonSet: only the selector; a pod template change is a rollout (update).
    { apiVersion: "apps/v1", kind: "Deployment", fields: ["spec.selector"], source: "pkg/provider/diff.go var deployment" },
    { apiVersion: "apps/v1", kind: "DaemonSet", fields: ["spec.selector"], source: "pkg/provider/diff.go var daemonset" },
    // apps/v1 StatefulSet: the fields the API server will not update, and revisionHistoryLimit too.
    // replicas, template, updateStrategy, persistentVolumeClaimRetentionPolicy update in place.
    {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        fields: ["spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"],
        source: "pkg/provider/diff.go var statefulSet",
    },
    // batch/v1 Job: the whole pod template, so any image, env or command change of a Job replaces it.
    {
        apiVersion: "batch/v1",
        kind: "Job",
        fields: ["spec.completions", "spec.parallelism", "spec.selector", "spec.template"],
        source: "pkg/provider/diff.go var job",
    },
    // batch/v1 CronJob: no entry; spec.jobTemplate changes update in place (the next Job gets them).
    { apiVersion: "batch/v1", kind: "CronJob", fields: [], source: "pkg/provider/diff.go (no `CronJob` under `batch`)" },
    // policy/v1 PodDisruptionBudget: no entry (only policy/v1beta1 has one, `spec`): updates in place.
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", fields: [], source: "pkg/provider/diff.go (`policy` lists only v1beta1)" },
    // networking.k8s.io/v1: no group in the table.
    { apiVersion: "networking.k8s.io/v1", kind: "Ingress", fields: [], source: "pkg/provider/diff.go (no `networking.k8s.io` group)" },
    { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", fields: [], source: "pkg/provider/diff.go (no `networking.k8s.io` group)" },
    // rbac.authorization.k8s.io/v1: bindings replace on roleRef (which the API server never updates); Roles update.
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", fields: [], source: "pkg/provider/diff.go (no `Role` under rbac)" },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", fields: [], source: "pkg/provider/diff.go (no `ClusterRole` under rbac)" },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", fields: ["roleRef"], source: "pkg/provider/diff.go var roleBinding" },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", fields: ["roleRef"], source: "pkg/provider/diff.go var roleBinding" },
    // storage.k8s.io/v1 StorageClass.
    { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", fields: ["parameters", "provisioner"], source: "pkg/provider/diff.go `storage.k8s.io` StorageClass" },
    // autoscaling/v2: no group in the table: the autoscaler's bounds and target update in place.
    { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", fields: [], source: "pkg/provider/diff.go (no `autoscaling` group)" },
    // Prometheus Operator and Gateway API custom resources: like every CR, only metadata.name / namespace replace.
    { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", fields: [], source: "pkg/provider/diff.go (no `monitoring.coreos.com` group)" },
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", fields: [], source: "pkg/provider/diff.go (no `gateway.networking.k8s.io` group)" },
    // KServe custom resources: groups the provider has no entry for, like every CR: only metadata.name /
    // namespace replace; a spec change (new storageUri, runtime, replicas) is an update.
    { apiVersion: "serving.kserve.io/v1alpha1", kind: "ClusterServingRuntime", fields: [], source: "pkg/provider/diff.go (no `serving.kserve.io` group)" },
    { apiVersion: "serving.kserve.io/v1alpha1", kind: "ClusterStorageContainer", fields: [], source: "pkg/provider/diff.go (no `serving.kserve.io` group)" },
    { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", fields: [], source: "pkg/provider/diff.go (no `serving.kserve.io` group)" },
];

/**
 * Cluster-scoped kinds among those above and the platform's CRs: the provider clears their namespace
 * before diffing (provider.go `Diff`, `clients.IsNamespacedKind`). Any other kind is treated as namespaced.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
    "Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass", "ClusterServingRuntime", "ClusterStorageContainer",
]);

/**
 * Kinds whose replacement can lose data or cut off what depends on them: the diff makes their replacement
 * stand out. A StatefulSet's claims survive it (they are separate objects), but its pods all go at once.
 */
export const STATEFUL_KINDS: ReadonlySet<string> = new Set(["StatefulSet", "PersistentVolumeClaim", "PersistentVolume", "Namespace", "Secret"]);

export function ruleFor(apiVersion: string, kind: string): ReplaceRule | undefined {
    return REPLACE_ON_CHANGE.find((r) => r.apiVersion === apiVersion && r.kind === kind);
}

/**
 * The force-new paths for an object as the provider chooses them: identity fields plus its kind's
 * entry (the mutable variant when the flag is on and the object is not immutable). An unknown kind gets
 * the identity fields only, which is what the provider does too.
 */
export function forceNewFields(obj: Readonly<Record<string, unknown>>, flags: ProviderFlags = {}): string[] {
    const rule = typeof obj.apiVersion === "string" && typeof obj.kind === "string" ? ruleFor(obj.apiVersion, obj.kind) : undefined;
    if (!rule) return [...IDENTITY_FIELDS];
    const mutable = rule.whenMutable && flags[rule.whenMutable.flag] === true && obj.immutable !== true;
    return [...IDENTITY_FIELDS, ...(mutable && rule.whenMutable ? rule.whenMutable.fields : rule.fields)];
}

/** The flags from a stack's config values (`kubernetes:enableSecretMutable`), else the environment, as the provider reads them. */
export function providerFlagsFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ProviderFlags {
    const flag = (key: string, envName: string): boolean => {
        const v = values[`kubernetes:${key}`];
        if (v !== undefined) return String(v) === "true";
        return env[envName] === "true";
    };
    return {
        enableSecretMutable: flag("enableSecretMutable", "PULUMI_K8S_ENABLE_SECRET_MUTABLE"),
        enableConfigMapMutable: flag("enableConfigMapMutable", "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE"),
    };
}
