/**
 * The pre-flight check of the custom resources a stack declares: KServe's API for served models, the
 * Prometheus Operator's ServiceMonitor for observability.serviceMonitor, the Gateway API's HTTPRoute for
 * access.mode gateway. Each must be on the cluster before
 * any resource is registered. Without it the provider previews the objects as creates and `pulumi up` fails
 * only after it has changed other objects ("no matches for kind InferenceService", after six retries: found
 * on the real engine). This check fails the preview instead, naming what to install.
 */
import { kubeGet, KubeconfigError, resolveKubeConnection, type KubeConnection, type KubeconfigSource } from "./kube-api";
import { servingRuntimeUsed, type PlatformConfig } from "../config";

/** The pinned KServe release this project's CRDs and tests come from (toolchain/files.tsv). */
export const KSERVE_VERSION = "v0.20.0";

/** Who serves a custom kind: the product an operator installs to get it. */
export type KindProvider = "KServe" | "the Prometheus Operator" | "the Gateway API";

/** A custom kind the stack declares, with the config key that declares it. */
export interface ClusterKind {
    readonly provider: KindProvider;
    readonly group: string;
    readonly version: string;
    readonly kind: string;
    readonly plural: string;
    readonly declaredBy: string;
}

/** The KServe kinds a stack declares: none for a stack that serves no model. */
export function kserveKindsNeeded(cfg: PlatformConfig): ClusterKind[] {
    if (cfg.serving.models.length === 0) return [];
    const kserve = { provider: "KServe", group: "serving.kserve.io" } as const;
    const kinds: ClusterKind[] = [{ ...kserve, version: "v1beta1", kind: "InferenceService", plural: "inferenceservices", declaredBy: "serving.models" }];
    // The platform's storage initializer (KServe ≥ 0.20; an older KServe has no storageContainerName either).
    kinds.push({ ...kserve, version: "v1alpha1", kind: "ClusterStorageContainer", plural: "clusterstoragecontainers", declaredBy: "serving.storageInitializer" });
    if (servingRuntimeUsed(cfg)) kinds.push({ ...kserve, version: "v1alpha1", kind: "ClusterServingRuntime", plural: "clusterservingruntimes", declaredBy: "serving.installRuntime" });
    return kinds;
}

/** Every custom kind the stack declares (KServe's, the ServiceMonitor, the HTTPRoute). */
export function clusterKindsNeeded(cfg: PlatformConfig): ClusterKind[] {
    const kinds = kserveKindsNeeded(cfg);
    if (cfg.observability.serviceMonitor)
        kinds.push({ provider: "the Prometheus Operator", group: "monitoring.coreos.com", version: "v1", kind: "ServiceMonitor", plural: "servicemonitors", declaredBy: "observability.serviceMonitor" });
    if (cfg.access.mode === "gateway")
        kinds.push({ provider: "the Gateway API", group: "gateway.networking.k8s.io", version: "v1", kind: "HTTPRoute", plural: "httproutes", declaredBy: "access.mode" });
    return kinds;
}

const what = (kinds: readonly ClusterKind[]) => kinds.map((k) => `${k.kind} (${k.group}/${k.version}, for ${k.declaredBy})`).join(" and ");

/** The error of a cluster without KServe's kinds: what is missing, where, and how to install it. */
export function missingKserveMessage(missing: readonly ClusterKind[], conn: Pick<KubeConnection, "server" | "label">): string {
    return (
        `KServe is not installed on the cluster ${conn.server} (${conn.label}): the API server does not serve ${what(missing)}. ` +
        `Install KServe ${KSERVE_VERSION} (with cert-manager) first: kubectl apply --server-side -f https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve.yaml ` +
        `(or the kserve-crd and kserve Helm charts; docs/serving-runtime.md), then run the preview again; ` +
        `or set serving.models to [] to deploy without serving. Nothing was changed.`
    );
}

/** The error of a cluster without the ServiceMonitor kind. */
export function missingPrometheusOperatorMessage(missing: readonly ClusterKind[], conn: Pick<KubeConnection, "server" | "label">): string {
    return (
        `The Prometheus Operator is not installed on the cluster ${conn.server} (${conn.label}): the API server does not serve ${what(missing)}. ` +
        `Install it first (its CRDs, e.g. with the kube-prometheus-stack or prometheus-operator-crds Helm chart), then run the preview again; ` +
        `or set observability.serviceMonitor to false (the tracking server still serves /metrics). Nothing was changed.`
    );
}

/** The error of a cluster without the HTTPRoute kind. */
export function missingGatewayApiMessage(missing: readonly ClusterKind[], conn: Pick<KubeConnection, "server" | "label">): string {
    return (
        `The Gateway API is not installed on the cluster ${conn.server} (${conn.label}): the API server does not serve ${what(missing)}. ` +
        `Install its standard CRDs and a Gateway controller with the Gateway access.gateway names first, then run the preview again; ` +
        `or set access.mode to "ingress". Nothing was changed.`
    );
}

/** Every missing kind, one message per product, KServe first. */
export function missingKindsMessage(missing: readonly ClusterKind[], conn: Pick<KubeConnection, "server" | "label">): string {
    const of = (p: KindProvider) => missing.filter((k) => k.provider === p);
    return [
        ...(of("KServe").length > 0 ? [missingKserveMessage(of("KServe"), conn)] : []),
        ...(of("the Prometheus Operator").length > 0 ? [missingPrometheusOperatorMessage(of("the Prometheus Operator"), conn)] : []),
        ...(of("the Gateway API").length > 0 ? [missingGatewayApiMessage(of("the Gateway API"), conn)] : []),
    ].join(" ");
}

/** Switched off by the offline render, which has no cluster. */
export const clusterChecks = { enabled: true };

/** Where the provider's kubeconfig comes from, read from this stack's config and environment. */
export type KubeconfigReader = () => KubeconfigSource;

/**
 * Fails when the cluster lacks a custom kind the stack declares. A stack declaring none (serving nothing,
 * no ServiceMonitor) is not checked: it needs no KServe and may run where there is none.
 */
export async function requireClusterApis(cfg: PlatformConfig, source: KubeconfigReader): Promise<void> {
    const needed = clusterKindsNeeded(cfg);
    if (needed.length === 0 || !clusterChecks.enabled) return;
    const products = [...new Set(needed.map((k) => k.provider))];
    // One key per product: the one that asks for it (serving.models, observability.serviceMonitor).
    const keys = products.map((p) => needed.find((k) => k.provider === p)?.declaredBy);
    const subject = `${products.join(" and ")} ${products.length > 1 ? "are" : "is"} installed (${keys.join(" and ")} ${keys.length > 1 ? "are" : "is"} set)`;
    let conn: KubeConnection;
    try {
        conn = resolveKubeConnection(source());
    } catch (e) {
        if (e instanceof KubeconfigError) throw new Error(`cannot check that ${subject}: ${e.message}`);
        throw e;
    }
    const missing: ClusterKind[] = [];
    for (const groupVersion of [...new Set(needed.map((k) => `${k.group}/${k.version}`))]) {
        const r = await kubeGet(conn, `/apis/${groupVersion}`);
        const kinds = needed.filter((k) => `${k.group}/${k.version}` === groupVersion);
        if (r.status === 404) {
            missing.push(...kinds);
            continue;
        }
        if (r.status !== 200)
            throw new Error(`cannot check that ${kinds[0].provider} is installed on ${conn.server} (${conn.label}): GET /apis/${groupVersion} answered HTTP ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 200)}`);
        const served = new Set(((JSON.parse(r.body) as { resources?: { name: string }[] }).resources ?? []).map((x) => x.name));
        missing.push(...kinds.filter((k) => !served.has(k.plural)));
    }
    if (missing.length > 0) throw new Error(missingKindsMessage(missing, conn));
}
