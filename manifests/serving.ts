/**
 * KServe serving as plain data: one InferenceService per served model (its storageUri already resolved from
 * the MLflow registry, its lineage in `mlflow.org/*` annotations), the serving ServiceAccount that lets
 * KServe's storage initializer read the bucket, and the project's `mlflow-pyfunc` ClusterServingRuntime.
 * The component in components/model-serving.ts only creates them.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Input } from "@pulumi/pulumi";
import { servingProcesses, type Resources, type ServedModel } from "../config";
import type { ResolvedModel } from "../lib/registry/resolver";
import {
    CLUSTER_SERVING_RUNTIME_KIND,
    CLUSTER_STORAGE_CONTAINER_KIND,
    ClusterServingRuntime,
    ClusterStorageContainer,
    INFERENCE_SERVICE_API_VERSION,
    INFERENCE_SERVICE_KIND,
    InferenceService,
    KSERVE_CONTAINER,
    MODEL_MOUNT_PATH,
    ProtocolVersion,
    SERVING_RUNTIME_API_VERSION,
    STORAGE_INITIALIZER_CONTAINER,
} from "./kserve-types";
import { AwsCredentialSource, mapInput, containerSecurityContext, env, labels, meta, podSecurityContext, resourceRequirements, telemetryEnv, TMP_MOUNT, TMP_VOLUME } from "./common";

export const SERVING_COMPONENT = "model-serving";
export const SERVING_SERVICE_ACCOUNT = "mlflow-serving";
import { MLFLOW_PYFUNC_RUNTIME } from "../lib/terms";
/** The model format of every served model (an MLflow pyfunc model). */
export const MODEL_FORMAT = "mlflow";
/** Port of the runtime's scoring server (KServe's default HTTP port). */
export const RUNTIME_PORT = 8080;
/** Default requests/limits of the runtime's container template (each InferenceService sets its own). */
export const DEFAULT_RUNTIME_RESOURCES: Resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } };

/** Lineage annotations of an InferenceService: what a preview diff shows when a new version goes live. */
export const LINEAGE = {
    registeredModel: "mlflow.org/registered-model",
    version: "mlflow.org/model-version",
    alias: "mlflow.org/alias",
    runId: "mlflow.org/run-id",
    source: "mlflow.org/source",
} as const;

/** What KServe reads from an InferenceService's metadata (pkg/constants of KServe 0.20). */
export const KSERVE_METADATA = {
    /** Standard or Knative; KServe's defaulting webhook rewrites RawDeployment/Serverless and adds it when missing. */
    deploymentMode: "serving.kserve.io/deploymentMode",
    /** hpa (default), none (fixed replicas = minReplicas), external, keda. */
    autoscalerClass: "serving.kserve.io/autoscalerClass",
    /** The defaulting webhook copies predictor.model.modelFormat.name here (the key has no prefix). */
    modelFormat: "modelFormat",
    /** Label: `cluster-local` makes KServe create no Ingress/HTTPRoute for the InferenceService. */
    visibility: "networking.kserve.io/visibility",
} as const;

/** The ClusterStorageContainer of a stack: cluster-scoped, so named after the stack's namespace. */
export function storageContainerName(namespace: string): string {
    return `mlflow-platform-${namespace}`;
}

/**
 * A storage URI as the directory it names: with a trailing slash. KServe's downloader matches the key prefix as
 * a string, so `…/artifacts` would also pull a sibling `…/artifacts-old/` (found with kserve-storage 0.20).
 */
export function storageDirectoryUri(uri: string): string {
    return uri.endsWith("/") ? uri : `${uri}/`;
}

/** Annotations KServe's credential builder reads (pkg/credentials/s3): on the keys Secret, or on an IRSA ServiceAccount. */
export const KSERVE_S3 = {
    endpoint: "serving.kserve.io/s3-endpoint",
    region: "serving.kserve.io/s3-region",
    useHttps: "serving.kserve.io/s3-usehttps",
    verifySsl: "serving.kserve.io/s3-verifyssl",
} as const;
/** KServe only reads a ServiceAccount's own s3-* annotations when it carries this one (IRSA). */
export const IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn";

/**
 * The inference protocol each known runtime speaks, as KServe names it. The project's `mlflow-pyfunc` speaks
 * MLflow's scoring protocol (POST /invocations, GET /ping; images/serving/scoring_server.py): MLflow's own protocol, neither KServe v1 nor v2, so
 * neither side declares one (KServe checks protocol compatibility only when both do). `kserve-mlserver`
 * speaks the Open Inference Protocol (v2) and declares only v2.
 */
export const RUNTIME_PROTOCOLS: Readonly<Record<string, ProtocolVersion | undefined>> = {
    [MLFLOW_PYFUNC_RUNTIME]: undefined,
    "kserve-mlserver": "v2",
};

/** The protocolVersion an InferenceService on `runtime` declares; undefined for MLflow's scoring server and unknown runtimes. */
export function protocolVersionFor(runtime: string): ProtocolVersion | undefined {
    return RUNTIME_PROTOCOLS[runtime];
}

/** KServe's InferenceService name rule (a DNS-1035 label: starts with a letter). */
const ISVC_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The `mlflow.org/*` annotations of one served model; only the fields that are known. */
export function lineageAnnotations(model: ServedModel, resolved: ResolvedModel): Record<string, string> {
    const out: Record<string, string> = {};
    const put = (key: string, value: string | undefined) => {
        if (value !== undefined && value !== "") out[key] = value;
    };
    put(LINEAGE.registeredModel, resolved.name || model.registeredModel);
    put(LINEAGE.version, resolved.version);
    put(LINEAGE.alias, resolved.alias ?? model.alias);
    put(LINEAGE.runId, resolved.runId);
    put(LINEAGE.source, resolved.source);
    return out;
}

export interface InferenceServiceOptions {
    readonly namespace: string;
    readonly serviceAccountName: Input<string>;
    /** Runtime of a model that names none (serving.runtime). */
    readonly runtime: string;
    /** serving.deploymentMode. Defaults to Standard. */
    readonly deploymentMode?: "Standard" | "Knative";
    /** The ClusterStorageContainer that downloads the model (storageContainerName). Defaults to the namespace's. */
    readonly storageContainer?: string;
    /** uid/gid of the predictor pod. Defaults to 10001. */
    readonly uid?: number;
}

/** Throws unless `resolved` is the lookup of `model` and points at S3. */
export function checkResolved(model: ServedModel, resolved: ResolvedModel): void {
    if (!ISVC_NAME.test(model.name) || model.name.length > 63)
        throw new Error(`serving.models: InferenceService name "${model.name}" is invalid: KServe needs a DNS-1035 label (lower-case letters, digits and '-', starting with a letter, at most 63 characters)`);
    const expected = model.registeredModel || model.name;
    if (resolved.name !== expected)
        throw new Error(`serving model "${model.name}": the resolved model is "${resolved.name}" but serving.models names "${expected}" (resolved list not in serving.models order?)`);
    if (!/^s3:\/\/[^/]+/.test(resolved.storageUri))
        throw new Error(`serving model "${model.name}": storageUri must be an s3:// URI, got "${resolved.storageUri}"`);
}

/**
 * KServe's autoscaler for a model: `none` (a fixed count of minReplicas, no HPA) when min equals max, else `hpa`
 * on CPU. KServe creates an HPA for every Standard predictor by default, also when min equals max.
 */
export function autoscalerClass(model: Pick<ServedModel, "minReplicas" | "maxReplicas">): "none" | "hpa" {
    return model.minReplicas === model.maxReplicas ? "none" : "hpa";
}

/**
 * The InferenceService of one served model, its storageUri from the registry lookup. It states everything KServe
 * would otherwise take from how it was installed or default in its webhook (so `pulumi up` never fights it): the
 * deployment mode, the autoscaler, no ingress unless exposed, the storage container, and the modelFormat
 * annotation the defaulting webhook adds.
 */
export function inferenceService(model: ServedModel, resolved: ResolvedModel, opts: InferenceServiceOptions): InferenceService {
    checkResolved(model, resolved);
    const runtime = model.runtime ?? opts.runtime;
    const protocolVersion = protocolVersionFor(runtime);
    const mode = opts.deploymentMode ?? "Standard";
    const scaler = mode === "Standard" ? autoscalerClass(model) : undefined;
    const kserveAnnotations: Record<string, string> = {
        [KSERVE_METADATA.deploymentMode]: mode,
        ...(scaler ? { [KSERVE_METADATA.autoscalerClass]: scaler } : {}),
        [KSERVE_METADATA.modelFormat]: MODEL_FORMAT,
    };
    const visibility: Record<string, string> = model.visibility === "exposed" ? {} : { [KSERVE_METADATA.visibility]: "cluster-local" };
    return {
        apiVersion: INFERENCE_SERVICE_API_VERSION,
        kind: INFERENCE_SERVICE_KIND,
        metadata: {
            name: model.name,
            namespace: opts.namespace,
            labels: { ...labels(SERVING_COMPONENT, model.name), ...visibility },
            annotations: { ...lineageAnnotations(model, resolved), ...kserveAnnotations },
        },
        spec: {
            predictor: {
                serviceAccountName: opts.serviceAccountName,
                minReplicas: model.minReplicas,
                maxReplicas: model.maxReplicas,
                ...(scaler === "hpa" ? { scaleMetric: "cpu" as const, scaleTarget: model.targetCPUUtilization } : {}),
                storageContainerName: opts.storageContainer ?? storageContainerName(opts.namespace),
                ...(model.canaryTrafficPercent !== undefined ? { canaryTrafficPercent: model.canaryTrafficPercent } : {}),
                securityContext: podSecurityContext(opts.uid),
                model: {
                    modelFormat: { name: MODEL_FORMAT },
                    ...(protocolVersion ? { protocolVersion } : {}),
                    runtime,
                    storageUri: storageDirectoryUri(resolved.storageUri),
                    resources: resourceRequirements(model.resources),
                    ...(runtime === MLFLOW_PYFUNC_RUNTIME ? { env: runtimeProcessEnv(model) } : {}),
                    // No readOnlyRootFilesystem here: it would override the runtime's own setting.
                    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
                },
            },
        },
    };
}

/**
 * The env of a model on the project's runtime that sets its processes (serving.models[].workers, .threadsPerWorker):
 * the scoring server (images/serving/scoring_server.py) reads MLFLOW_MODELS_WORKERS, the name `mlflow models serve`
 * gives its --workers option, for its uvicorn workers; the OpenMP and BLAS libraries scikit-learn, numpy and scipy
 * predict with read the thread counts. KServe merges the model's env
 * over the runtime container's by name.
 */
export function runtimeProcessEnv(model: Pick<ServedModel, "workers" | "threadsPerWorker" | "resources">): { name: string; value: string }[] {
    const p = servingProcesses(model);
    const threads = String(p.threadsPerWorker);
    return [
        { name: "MLFLOW_MODELS_WORKERS", value: String(p.workers) },
        ...["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"].map((name) => ({ name, value: threads })),
    ];
}

/** The public S3 endpoint (host, no scheme) of a region. */
export function awsS3Endpoint(region: string): string {
    return `s3.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

/** Splits an endpoint such as http://minio.mlflow:9000 into KServe's host[:port] and whether it is https. */
export function s3EndpointParts(endpoint: string): { host: string; https: boolean } {
    const m = /^(https?):\/\/([^/]+)\/?$/.exec(endpoint.trim());
    if (m) return { host: m[2], https: m[1] === "https" };
    if (/^[^/:]+(:[0-9]+)?$/.test(endpoint.trim())) return { host: endpoint.trim(), https: true };
    throw new Error(`S3 endpoint "${endpoint}" is invalid: use http(s)://host[:port] or host[:port]`);
}

/**
 * KServe's S3 annotations: the endpoint (the configured one for MinIO, else s3.<region>.amazonaws.com),
 * the region, https and certificate checks. Empty without region and endpoint (KServe's configmap applies).
 */
export function kserveS3Annotations(src: Pick<AwsCredentialSource, "region" | "s3Endpoint">): Record<string, Input<string>> {
    const out: Record<string, Input<string>> = {};
    if (src.s3Endpoint !== undefined) {
        const parts = mapInput(src.s3Endpoint, s3EndpointParts);
        out[KSERVE_S3.endpoint] = mapInput(parts, (p) => p.host);
        out[KSERVE_S3.useHttps] = mapInput(parts, (p) => (p.https ? "1" : "0"));
        out[KSERVE_S3.verifySsl] = mapInput(parts, (p) => (p.https ? "1" : "0"));
    } else if (src.region !== undefined) {
        out[KSERVE_S3.endpoint] = mapInput(src.region, awsS3Endpoint);
        out[KSERVE_S3.useHttps] = "1";
        out[KSERVE_S3.verifySsl] = "1";
    }
    if (src.region !== undefined) out[KSERVE_S3.region] = src.region;
    return out;
}

/** a, then b over it; plain when b is plain. */
function mergeAnnotations(a: Record<string, Input<string>>, b?: Input<Record<string, Input<string>>>): Input<Record<string, Input<string>>> {
    if (b === undefined) return a;
    if (pulumi.Output.isInstance(b) || b instanceof Promise) return pulumi.output(b).apply((bb) => pulumi.output({ ...a, ...bb }));
    return { ...a, ...b };
}

export interface ServingServiceAccountOptions {
    readonly namespace: string;
    /** Static keys: `keysSecretName` (listed in `secrets:`); IRSA: none. Region/endpoint become KServe's s3-* annotations. */
    readonly aws: AwsCredentialSource;
    /** More annotations, e.g. eks.amazonaws.com/role-arn (IRSA). */
    readonly annotations?: Input<Record<string, Input<string>>>;
}

/**
 * The predictor pods' ServiceAccount `mlflow-serving`. Current state: the keys Secret in `secrets:` (KServe
 * reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from it for the storage initializer). Future state (IRSA):
 * the role annotation and no Secret. The s3-* annotations are on it in both states.
 */
export function servingServiceAccount(opts: ServingServiceAccountOptions): k8s.core.v1.ServiceAccountArgs {
    const annotations = mergeAnnotations(kserveS3Annotations(opts.aws), opts.annotations);
    const staticKeys = opts.aws.keysSecretName !== undefined;
    return {
        metadata: { ...meta(SERVING_SERVICE_ACCOUNT, opts.namespace, SERVING_COMPONENT), annotations },
        ...(staticKeys ? { secrets: [{ name: opts.aws.keysSecretName }] } : {}),
        automountServiceAccountToken: !staticKeys,
    };
}

export interface ClusterServingRuntimeOptions {
    /** Image of images/serving (MLflow with the model's dependencies). */
    readonly image: Input<string>;
    /** Defaults to `mlflow-pyfunc`. */
    readonly name?: string;
    /** Defaults to DEFAULT_RUNTIME_RESOURCES. */
    readonly resources?: Resources;
    /** MLflow's usage telemetry on (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/**
 * The scoring server's command line: the model KServe downloaded, served by images/serving/scoring_server.py
 * (MLflow's scoring protocol answered by MLflow's own `invocations()`, one prediction thread per worker), no
 * per-model environment. Under dumb-init (images/serving): it forwards SIGTERM to the server and its workers and
 * reaps them.
 */
export function runtimeCommand(): string[] {
    return ["dumb-init", "--", "python", SCORING_SERVER_PATH, "--model", MODEL_MOUNT_PATH, "--host", "0.0.0.0", "--port", String(RUNTIME_PORT)];
}

/** Where images/serving installs scoring_server.py. */
export const SCORING_SERVER_PATH = "/opt/serving/scoring_server.py";

/**
 * The project's ClusterServingRuntime: MLflow's scoring server over `/mnt/models`, for modelFormat mlflow
 * (version 3), non-root with a read-only root filesystem and a writable /tmp. No protocolVersions: see
 * RUNTIME_PROTOCOLS.
 */
export function clusterServingRuntime(opts: ClusterServingRuntimeOptions): ClusterServingRuntime {
    const name = opts.name ?? MLFLOW_PYFUNC_RUNTIME;
    const [command, ...args] = runtimeCommand();
    return {
        apiVersion: SERVING_RUNTIME_API_VERSION,
        kind: CLUSTER_SERVING_RUNTIME_KIND,
        metadata: { name, labels: labels(SERVING_COMPONENT, name) },
        spec: {
            supportedModelFormats: [{ name: "mlflow", version: "3", autoSelect: true }],
            containers: [
                {
                    name: KSERVE_CONTAINER,
                    image: opts.image,
                    command: [command],
                    args,
                    env: [env("HOME", "/tmp"), env("PYTHONDONTWRITEBYTECODE", "1"), ...telemetryEnv(opts.telemetry)],
                    ports: [{ name: "http1", containerPort: RUNTIME_PORT, protocol: "TCP" }],
                    // Loading the model (unpickling, importing scikit-learn) takes seconds to a minute: the startup
                    // probe allows 5 minutes before liveness applies; then a hung server is restarted.
                    startupProbe: { httpGet: { path: "/ping", port: RUNTIME_PORT }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 60 },
                    readinessProbe: { httpGet: { path: "/ping", port: RUNTIME_PORT }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                    livenessProbe: { httpGet: { path: "/health", port: RUNTIME_PORT }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
                    resources: resourceRequirements(opts.resources ?? DEFAULT_RUNTIME_RESOURCES),
                    securityContext: containerSecurityContext(true),
                    volumeMounts: [TMP_MOUNT],
                },
            ],
            volumes: [TMP_VOLUME],
        },
    };
}

/** Default requests/limits of the storage initializer (serving.storageInitializer.resources). */
export const DEFAULT_INITIALIZER_RESOURCES: Resources = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } };

export interface ClusterStorageContainerOptions {
    /** The stack's namespace: the object is named mlflow-platform-<namespace>. */
    readonly namespace: string;
    /** Image of images/storage-initializer. */
    readonly image: Input<string>;
    /** The s3:// prefixes the stack serves from (the artifact bucket, serving.allowedStoragePrefixes). */
    readonly prefixes: Input<string>[];
    /** Defaults to DEFAULT_INITIALIZER_RESOURCES. */
    readonly resources?: Resources;
    /** uid/gid the initializer runs as. Defaults to 10001 (the predictor pod's). */
    readonly uid?: number;
}

/**
 * The platform's ClusterStorageContainer: KServe's pod webhook merges its container over the init container it
 * injects into each predictor pod (name, args, the model volume and the S3 env are KServe's). It supports only the
 * stack's own S3 prefixes, and each InferenceService names it, so a KServe install's own `default` container (which
 * also matches s3://) is never picked for the platform's models, and the platform's is never picked for others'.
 * The container passes Pod Security `restricted` on its own (KServe's default sets no securityContext).
 */
export function clusterStorageContainer(opts: ClusterStorageContainerOptions): ClusterStorageContainer {
    const name = storageContainerName(opts.namespace);
    return {
        apiVersion: SERVING_RUNTIME_API_VERSION,
        kind: CLUSTER_STORAGE_CONTAINER_KIND,
        metadata: { name, labels: labels(SERVING_COMPONENT, name) },
        spec: {
            container: {
                name: STORAGE_INITIALIZER_CONTAINER,
                image: opts.image,
                imagePullPolicy: "IfNotPresent",
                env: telemetryEnv(),
                resources: resourceRequirements(opts.resources ?? DEFAULT_INITIALIZER_RESOURCES),
                securityContext: {
                    ...containerSecurityContext(true),
                    runAsUser: opts.uid ?? 10001,
                    runAsGroup: opts.uid ?? 10001,
                    seccompProfile: { type: "RuntimeDefault" },
                },
            },
            supportedUriFormats: opts.prefixes.map((p) => ({ prefix: mapInput(p, storageDirectoryUri) })),
            workloadType: "initContainer",
        },
    };
}