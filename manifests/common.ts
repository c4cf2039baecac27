/**
 * Pieces every workload manifest shares: labels, the restricted security context, resources,
 * and env-var helpers. Plain functions over plain data (values may be pulumi.Input).
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Input } from "@pulumi/pulumi";
import type { Resources } from "../config";

type I = k8s.types.input.core.v1.EnvVar;

export const PART_OF = "mlflow-platform";

/** The recommended app.kubernetes.io labels of one part of the platform. */
export function labels(component: string, name = component): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The subset of labels that selects the pods of one part (stable across label additions). */
export function selectorLabels(component: string, name = component): Record<string, string> {
    return { "app.kubernetes.io/name": name, "app.kubernetes.io/component": component };
}

/** Pod-level security: non-root, a fixed uid/gid, RuntimeDefault seccomp (Pod Security "restricted"). */
export function podSecurityContext(uid = 10001): k8s.types.input.core.v1.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level security: no privilege escalation, no capabilities, read-only root filesystem. */
export function containerSecurityContext(readOnlyRootFilesystem = true): k8s.types.input.core.v1.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
    };
}

export function resourceRequirements(r: Resources): k8s.types.input.core.v1.ResourceRequirements {
    return {
        requests: { cpu: r.requests.cpu, memory: r.requests.memory },
        limits: { cpu: r.limits.cpu, memory: r.limits.memory },
    };
}

/** A plain env var. */
export function env(name: string, value: Input<string>): I {
    return { name, value };
}

/**
 * MLflow's usage telemetry (mlflow/telemetry reads both variables; the platform's images default them to true):
 * off in every container unless `telemetry.enabled` turns it on for an MLflow workload. Set either way, so a
 * render shows what each container does.
 */
export function telemetryEnv(enabled = false): I[] {
    const off = enabled ? "false" : "true";
    return [env("MLFLOW_DISABLE_TELEMETRY", off), env("DO_NOT_TRACK", off)];
}

/** An env var read from one key of a Secret. */
export function secretEnv(name: string, secretName: Input<string>, key: string): I {
    return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Where a workload's AWS credentials come from: a keys Secret (static keys) or nothing (IRSA/none). */
export interface AwsCredentialSource {
    /** Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; unset: IRSA (the pod's service account). */
    readonly keysSecretName?: Input<string>;
    /** AWS region of the bucket. */
    readonly region?: Input<string>;
    /** S3 endpoint override (MinIO in local stacks). */
    readonly s3Endpoint?: Input<string>;
}

/** The AWS env vars of a pod that reaches the artifact store. */
export function awsEnv(src: AwsCredentialSource): I[] {
    const out: I[] = [];
    if (src.keysSecretName !== undefined) {
        out.push(secretEnv("AWS_ACCESS_KEY_ID", src.keysSecretName, "AWS_ACCESS_KEY_ID"));
        out.push(secretEnv("AWS_SECRET_ACCESS_KEY", src.keysSecretName, "AWS_SECRET_ACCESS_KEY"));
    }
    if (src.region !== undefined) {
        out.push(env("AWS_REGION", src.region));
        out.push(env("AWS_DEFAULT_REGION", src.region));
    }
    if (src.s3Endpoint !== undefined) {
        out.push(env("MLFLOW_S3_ENDPOINT_URL", src.s3Endpoint));
        out.push(env("AWS_ENDPOINT_URL_S3", src.s3Endpoint));
    }
    return out;
}

/** A writable emptyDir for /tmp under a read-only root filesystem. */
export const TMP_VOLUME: k8s.types.input.core.v1.Volume = { name: "tmp", emptyDir: { sizeLimit: "1Gi" } };
export const TMP_MOUNT: k8s.types.input.core.v1.VolumeMount = { name: "tmp", mountPath: "/tmp" };

/** The provider's annotation that forces a server-side apply over other field managers' ownership. */
export const PATCH_FORCE = "pulumi.com/patchForce";

/** ObjectMeta of a namespaced object with the platform labels. */
export function meta(name: Input<string>, namespace: Input<string>, component: string, extra: Record<string, Input<string>> = {}): k8s.types.input.meta.v1.ObjectMeta {
    return { name, namespace, labels: labels(component), ...(Object.keys(extra).length ? { annotations: extra } : {}) };
}

/**
 * A one-replica StatefulSet whose `data` volume claim outlives it (retention Retain on delete and scale):
 * the shape of every stateful store the platform runs in the cluster (PostgreSQL, MinIO).
 */
export function persistentStatefulSet(p: {
    name: string;
    namespace: Input<string>;
    component: string;
    pod: k8s.types.input.core.v1.PodSpec;
    storageSize: string;
    storageClassName?: string;
}): k8s.types.input.apps.v1.StatefulSet {
    return {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: meta(p.name, p.namespace, p.component),
        spec: {
            serviceName: p.name,
            replicas: 1,
            selector: { matchLabels: selectorLabels(p.component, p.name) },
            persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
            template: { metadata: { labels: labels(p.component, p.name) }, spec: p.pod },
            volumeClaimTemplates: [
                {
                    metadata: { name: "data", labels: labels(p.component, p.name) },
                    spec: {
                        accessModes: ["ReadWriteOnce"],
                        ...(p.storageClassName ? { storageClassName: p.storageClassName } : {}),
                        resources: { requests: { storage: p.storageSize } },
                    },
                },
            ],
        },
    };
}

/** The claim a StatefulSet's controller makes from its `data` template for pod `ordinal`: data-<name>-<ordinal>. */
export function dataClaimName(statefulSet: string, ordinal = 0): string {
    return `data-${statefulSet}-${ordinal}`;
}

/**
 * Where a StatefulSet's claim size lives after the first `up`. The API server refuses any change to
 * `volumeClaimTemplates`, so the Kubernetes provider would replace the StatefulSet for a bigger volume
 * (found on the real engine). The platform leaves the template's size as created (ignoreChanges on this
 * path) and grows the claim itself, in place, with a PersistentVolumeClaimPatch (see claimSizePatch).
 */
export const CLAIM_TEMPLATE_SIZE_PATH = "spec.volumeClaimTemplates[0].spec.resources.requests.storage";

/**
 * A server-side-apply patch of the claim's requested size: the same size at creation (a no-op), a bigger
 * one later expands the volume in place where the StorageClass allows expansion (the API server refuses
 * a smaller one, and expansion on a class without allowVolumeExpansion, naming the claim).
 */
export function claimSizePatch(p: { statefulSet: string; namespace: Input<string>; storageSize: string }): k8s.types.input.core.v1.PersistentVolumeClaimPatch {
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        // Only the size: the claim's labels and the rest stay the StatefulSet controller's. The controller
        // created the claim, so it owns the size too; taking it over needs a forced apply (found on the real
        // engine: without it a bigger size is an SSA conflict with kube-controller-manager).
        metadata: { name: dataClaimName(p.statefulSet), namespace: p.namespace, annotations: { [PATCH_FORCE]: "true" } },
        spec: { resources: { requests: { storage: p.storageSize } } },
    };
}

/** Applies f to a plain value directly (so pure callers get plain data), to an Output/Promise through apply. */
export function mapInput<T, U>(value: Input<T>, f: (v: T) => U): Input<U> {
    if (pulumi.Output.isInstance(value) || value instanceof Promise) return pulumi.output(value).apply((v) => f(v as T));
    return f(value as T);
}

const S3_ROOT = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

/** `s3://bucket[/prefix][/]` without trailing slashes; throws naming `who` on anything else. */
export function normalizeArtifactRoot(root: string, who: string): string {
    if (!S3_ROOT.test(root)) throw new Error(`${who}: artifactRoot must be an s3://<bucket>[/<prefix>] URI, got "${root}"`);
    return root.replace(/\/+$/, "");
}

/** `<root>/<subPath>` under an artifact root (plain when the root is plain): batch inputs, backups. */
export function underArtifactRoot(artifactRoot: Input<string>, subPath: string, who: string): Input<string> {
    return mapInput(artifactRoot, (root) => `${normalizeArtifactRoot(root, who)}/${subPath}`);
}
