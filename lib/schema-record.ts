/**
 * The pre-flight read of what the cluster records about the tracking server's database: the ConfigMap
 * `mlflow-schema` (the MLflow version the schema was last migrated to, written by the program after each
 * migration) and whether the tracking Deployment exists. Read before any resource is registered, so a refused
 * upgrade changes nothing.
 */
import { kubeGet, KubeconfigError, resolveKubeConnection, type KubeconfigSource } from "./kube-api";
import type { SchemaRecord } from "./mlflow-version";

/** The ConfigMap that records the schema's MLflow version (manifests/tracking-server.ts writes it). */
export const SCHEMA_CONFIGMAP = "mlflow-schema";
/** Its annotation holding the version. */
export const SCHEMA_VERSION_ANNOTATION = "mlflow-platform.io/mlflow-version";
/** Its annotation holding the version the last upgrade came from. */
export const UPGRADED_FROM_ANNOTATION = "mlflow-platform.io/upgraded-from";

/** GETs the record and the Deployment `deployment` in `namespace`. A 404 is "not there"; any other failure is an error naming the call. */
export async function readSchemaRecord(source: KubeconfigSource, namespace: string, deployment: string): Promise<SchemaRecord> {
    let conn;
    try {
        conn = resolveKubeConnection(source);
    } catch (e) {
        if (e instanceof KubeconfigError) throw new Error(`cannot read the MLflow version the database was migrated to (ConfigMap ${namespace}/${SCHEMA_CONFIGMAP}): ${e.message}`);
        throw e;
    }
    const get = async (what: string, apiPath: string): Promise<Record<string, unknown> | undefined> => {
        const r = await kubeGet(conn, apiPath);
        if (r.status === 404) return undefined;
        if (r.status !== 200)
            throw new Error(`cannot read ${what} on ${conn.server} (${conn.label}) before the upgrade check: GET ${apiPath} answered HTTP ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 200)}`);
        return JSON.parse(r.body) as Record<string, unknown>;
    };
    const ns = encodeURIComponent(namespace);
    const cm = await get(`ConfigMap ${namespace}/${SCHEMA_CONFIGMAP}`, `/api/v1/namespaces/${ns}/configmaps/${SCHEMA_CONFIGMAP}`);
    const dep = await get(`Deployment ${namespace}/${deployment}`, `/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(deployment)}`);
    const annotations = ((cm?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {});
    return { mlflowVersion: annotations[SCHEMA_VERSION_ANNOTATION], upgradedFrom: annotations[UPGRADED_FROM_ANNOTATION], trackingDeployed: dep !== undefined };
}
