/**
 * The pre-flight check of a stack that serves models: KServe's API must be on the cluster before any
 * resource is registered. Without it the provider previews the InferenceServices as creates and `pulumi
 * up` fails only after it has changed other objects ("no matches for kind InferenceService", after six
 * retries: found on the real engine). This check fails the preview instead, naming what to install.
 */
import type { PlatformConfig } from "../config";
import { kubeGet, KubeconfigError, resolveKubeConnection, type KubeConnection, type KubeconfigSource } from "./kube-api";
import { servingRuntimeUsed } from "./stack-images";

/** The pinned KServe release this project's CRDs and tests come from (toolchain/files.tsv). */
export const KSERVE_VERSION = "v0.20.0";

/** A KServe kind the stack declares, with the config key that declares it. */
export interface KserveKind {
    readonly group: string;
    readonly version: string;
    readonly kind: string;
    readonly plural: string;
    readonly declaredBy: string;
}

/** The KServe kinds a stack declares: none for a stack that serves no model. */
export function kserveKindsNeeded(cfg: PlatformConfig): KserveKind[] {
    if (cfg.serving.models.length === 0) return [];
    const kinds: KserveKind[] = [{ group: "serving.kserve.io", version: "v1beta1", kind: "InferenceService", plural: "inferenceservices", declaredBy: "serving.models" }];
    if (servingRuntimeUsed(cfg))
        kinds.push({ group: "serving.kserve.io", version: "v1alpha1", kind: "ClusterServingRuntime", plural: "clusterservingruntimes", declaredBy: "serving.installRuntime" });
    return kinds;
}

/** The error of a cluster without the kinds: what is missing, where, and how to install it. */
export function missingKserveMessage(missing: readonly KserveKind[], conn: Pick<KubeConnection, "server" | "label">): string {
    const what = missing.map((k) => `${k.kind} (${k.group}/${k.version}, for ${k.declaredBy})`).join(" and ");
    return (
        `KServe is not installed on the cluster ${conn.server} (${conn.label}): the API server does not serve ${what}. ` +
        `Install KServe ${KSERVE_VERSION} (with cert-manager) first: kubectl apply --server-side -f https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve.yaml ` +
        `(or the kserve-crd and kserve Helm charts; docs/serving-runtime.md), then run the preview again; ` +
        `or set serving.models to [] to deploy without serving. Nothing was changed.`
    );
}

/** Switched off by the offline render, which has no cluster. */
export const clusterChecks = { enabled: true };

/** Where the provider's kubeconfig comes from, read from this stack's config and environment. */
export type KubeconfigReader = () => KubeconfigSource;

/**
 * Fails when the cluster lacks a KServe kind the stack declares. A stack serving nothing is not checked
 * (it needs no KServe and may run where there is none).
 */
export async function requireKserve(cfg: PlatformConfig, source: KubeconfigReader): Promise<void> {
    const needed = kserveKindsNeeded(cfg);
    if (needed.length === 0 || !clusterChecks.enabled) return;
    let conn: KubeConnection;
    try {
        conn = resolveKubeConnection(source());
    } catch (e) {
        if (e instanceof KubeconfigError) throw new Error(`cannot check that KServe is installed (serving.models is set): ${e.message}`);
        throw e;
    }
    const missing: KserveKind[] = [];
    for (const groupVersion of [...new Set(needed.map((k) => `${k.group}/${k.version}`))]) {
        const r = await kubeGet(conn, `/apis/${groupVersion}`);
        const kinds = needed.filter((k) => `${k.group}/${k.version}` === groupVersion);
        if (r.status === 404) {
            missing.push(...kinds);
            continue;
        }
        if (r.status !== 200)
            throw new Error(`cannot check that KServe is installed on ${conn.server} (${conn.label}): GET /apis/${groupVersion} answered HTTP ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 200)}`);
        const served = new Set(((JSON.parse(r.body) as { resources?: { name: string }[] }).resources ?? []).map((x) => x.name));
        missing.push(...kinds.filter((k) => !served.has(k.plural)));
    }
    if (missing.length > 0) throw new Error(missingKserveMessage(missing, conn));
}
