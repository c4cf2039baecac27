/**
 * What KServe's pod webhook (v0.20) makes of the platform's ClusterStorageContainer for one InferenceService, for
 * running the storage initializer outside a cluster: the init container `storage-initializer` with args
 * `[<storageUri>, /mnt/models]`, the S3 environment it derives from the annotations of the keys Secret the
 * predictor's ServiceAccount lists (pkg/credentials/s3), and its always-added Hugging Face defaults; the
 * container of the ClusterStorageContainer merged over it. The real-node suite checks the same pod as KServe's
 * real webhook injects it.
 */
import type { KubernetesObject } from "../lib/render";

export const MODEL_VOLUME_MOUNT = "/mnt/models";

/** The S3 environment KServe injects for a keys Secret with serving.kserve.io/s3-* annotations (keys given as values). */
export function kserveS3Env(secret: KubernetesObject, keys: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string }, endpointOverride?: string): Record<string, string> {
  const a = (secret.metadata.annotations ?? {}) as Record<string, string>;
  const env: Record<string, string> = { ...keys };
  const https = a["serving.kserve.io/s3-usehttps"] ?? "1";
  const endpoint = endpointOverride ?? a["serving.kserve.io/s3-endpoint"];
  if (endpoint) {
    const host = endpoint.replace(/^https?:\/\//, "");
    env.S3_ENDPOINT = host;
    env.AWS_ENDPOINT_URL = /^https?:\/\//.test(endpoint) ? endpoint : `${https === "0" ? "http" : "https"}://${host}`;
    env.S3_USE_HTTPS = https;
  }
  if (a["serving.kserve.io/s3-verifyssl"] !== undefined) env.S3_VERIFY_SSL = a["serving.kserve.io/s3-verifyssl"];
  if (a["serving.kserve.io/s3-region"] !== undefined) env.AWS_DEFAULT_REGION = a["serving.kserve.io/s3-region"];
  return { ...env, HF_HUB_ENABLE_HF_TRANSFER: "1", HF_XET_HIGH_PERFORMANCE: "1", HF_XET_NUM_CONCURRENT_RANGE_GETS: "8" };
}

/** The init container KServe injects, the ClusterStorageContainer's container merged over it. */
export function injectedInitializer(csc: KubernetesObject, storageUri: string): Record<string, unknown> & { name: string; image: string; args: string[] } {
  const container = (csc.spec as { container: Record<string, unknown> & { image: string } }).container;
  return { ...container, name: "storage-initializer", image: container.image, args: [storageUri, MODEL_VOLUME_MOUNT] };
}
