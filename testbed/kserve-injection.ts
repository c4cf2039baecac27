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

/** A container as the merge below reads it (rendered JSON: only these fields). */
export interface MergeableContainer {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * KServe's MergeRuntimeContainers (v0.20, pkg/controller/v1beta1/inferenceservice/utils): the InferenceService's
 * model container strategically merged over the runtime's container: env merged by name (the model's value wins,
 * new names appended), resources merged per requests/limits key, securityContext merged field by field, any other
 * field the model sets replaces the runtime's; args are concatenated (runtime's first), not replaced.
 */
export function mergeRuntimeContainer(runtime: MergeableContainer, model: MergeableContainer): MergeableContainer {
  const out: MergeableContainer = { ...runtime };
  for (const [k, v] of Object.entries(model)) {
    if (v === undefined || ["env", "args", "resources", "securityContext"].includes(k)) continue;
    out[k] = v;
  }
  const env = [...(runtime.env ?? [])].map((e) => ({ ...e }));
  for (const e of model.env ?? []) {
    const i = env.findIndex((x) => x.name === e.name);
    if (i >= 0) env[i] = { ...e };
    else env.push({ ...e });
  }
  if (env.length > 0) out.env = env;
  const args = [...(runtime.args ?? []), ...(model.args ?? [])];
  if (args.length > 0) out.args = args;
  if (runtime.resources || model.resources) {
    out.resources = {
      requests: { ...runtime.resources?.requests, ...model.resources?.requests },
      limits: { ...runtime.resources?.limits, ...model.resources?.limits },
    };
  }
  if (runtime.securityContext || model.securityContext) out.securityContext = { ...runtime.securityContext, ...model.securityContext };
  return out;
}

/** KServe v0.20's image for kserve-mlserver (config/runtimes/kustomization.yaml). */
export const KSERVE_MLSERVER_IMAGE = "docker.io/seldonio/mlserver:1.7.1";

/**
 * The `kserve-container` of KServe v0.20's stock `kserve-mlserver` ClusterServingRuntime
 * (config/runtimes/kserve-mlserver.yaml), with `{{.Labels.modelClass}}` as KServe's defaulting webhook fills it for
 * an mlflow model (SetMlServerDefaults: label modelClass = mlserver_mlflow.MLflowRuntime), and the env that webhook
 * adds to the InferenceService's model container when it has a storageUri: MLSERVER_MODEL_NAME (the
 * InferenceService's name) and MLSERVER_MODEL_URI (/mnt/models). No command or args: the image's own.
 */
export function kserveMlserverContainers(isvcName: string, image = KSERVE_MLSERVER_IMAGE): { runtime: MergeableContainer; modelDefaults: MergeableContainer } {
  return {
    runtime: {
      name: "kserve-container",
      image,
      env: [
        { name: "MLSERVER_MODEL_IMPLEMENTATION", value: "mlserver_mlflow.MLflowRuntime" },
        { name: "MLSERVER_HTTP_PORT", value: "8080" },
        { name: "MLSERVER_GRPC_PORT", value: "9000" },
      ],
      securityContext: { allowPrivilegeEscalation: false, privileged: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
      resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    },
    modelDefaults: {
      env: [
        { name: "MLSERVER_MODEL_NAME", value: isvcName },
        { name: "MLSERVER_MODEL_URI", value: MODEL_VOLUME_MOUNT },
      ],
    },
  };
}

/**
 * The container part of an InferenceService's `predictor.model` (KServe's ModelSpec embeds a container spec beside
 * modelFormat, runtime, storageUri, protocolVersion, storage): what MergeRuntimeContainers merges over the runtime.
 */
export function isvcModelContainer(model: Record<string, unknown>): MergeableContainer {
  const { modelFormat: _f, runtime: _r, storageUri: _s, protocolVersion: _p, storage: _st, ...container } = model;
  return container as MergeableContainer;
}
