/**
 * The KServe fields this project writes, typed after KServe's CRDs (config/crd/full in kserve/kserve, v0.20):
 * InferenceService (serving.kserve.io/v1beta1, namespaced), ClusterServingRuntime and ClusterStorageContainer
 * (serving.kserve.io/v1alpha1, cluster-scoped). Only the subset the project uses; optional where the CRD
 * does not require a field. Values may be pulumi.Input, as Kubernetes CustomResource args are.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";

type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;
type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;
type Probe = k8s.types.input.core.v1.Probe;
type ContainerPort = k8s.types.input.core.v1.ContainerPort;
type LocalObjectReference = k8s.types.input.core.v1.LocalObjectReference;

export const KSERVE_GROUP = "serving.kserve.io";
export const INFERENCE_SERVICE_API_VERSION = "serving.kserve.io/v1beta1";
export const INFERENCE_SERVICE_KIND = "InferenceService";
export const SERVING_RUNTIME_API_VERSION = "serving.kserve.io/v1alpha1";
export const CLUSTER_SERVING_RUNTIME_KIND = "ClusterServingRuntime";
export const CLUSTER_STORAGE_CONTAINER_KIND = "ClusterStorageContainer";
/** The init container KServe's pod webhook injects to download `storageUri` (pkg/constants). */
export const STORAGE_INITIALIZER_CONTAINER = "storage-initializer";
/** The container name KServe merges the predictor's `model` fields into. */
export const KSERVE_CONTAINER = "kserve-container";
/** Where KServe's storage initializer puts the model (`storageUri`'s content) in the predictor pod. */
export const MODEL_MOUNT_PATH = "/mnt/models";

/** KServe's protocol enums (pkg/constants: v1, v2, grpc-v1, grpc-v2); the CRD types it as a plain string. */
export type ProtocolVersion = "v1" | "v2" | "grpc-v1" | "grpc-v2";

/** Object metadata of a KServe resource (the CRD leaves metadata to the API server's ObjectMeta). */
export interface KServeMetadata {
    readonly name: Input<string>;
    /** Unset for cluster-scoped kinds (ClusterServingRuntime). */
    readonly namespace?: Input<string>;
    readonly labels?: Input<Record<string, Input<string>>>;
    readonly annotations?: Input<Record<string, Input<string>>>;
}

/** `spec.predictor.model.modelFormat` (required: name). */
export interface ModelFormat {
    readonly name: Input<string>;
    readonly version?: Input<string>;
}

/** `spec.predictor.model`: a container spec merged into the runtime's `kserve-container`, plus the model fields. */
export interface ModelSpec {
    readonly modelFormat: ModelFormat;
    /** Unset: KServe accepts any protocol of the runtime (it only checks when both sides declare one). */
    readonly protocolVersion?: Input<ProtocolVersion>;
    /** A ServingRuntime / ClusterServingRuntime name; unset: KServe auto-selects by modelFormat. */
    readonly runtime?: Input<string>;
    readonly runtimeVersion?: Input<string>;
    /** Where the storage initializer downloads the model from (s3://bucket/path). */
    readonly storageUri: Input<string>;
    readonly resources?: Input<ResourceRequirements>;
    /** `x-kubernetes-list-type: map` keyed by name. */
    readonly env?: Input<Input<EnvVar>[]>;
    readonly securityContext?: Input<SecurityContext>;
    readonly args?: Input<Input<string>[]>;
}

/** `spec.predictor`: component fields plus the pod-level fields the project sets. */
export interface PredictorSpec {
    readonly model: ModelSpec;
    readonly serviceAccountName?: Input<string>;
    /** int32; 0 lets Knative scale to zero (serverless mode). */
    readonly minReplicas?: Input<number>;
    /** int32. */
    readonly maxReplicas?: Input<number>;
    /** int64, percent of traffic to the latest revision; unset: all traffic to it. */
    readonly canaryTrafficPercent?: Input<number>;
    /** CRD enum. */
    readonly scaleMetric?: Input<"cpu" | "memory" | "concurrency" | "rps">;
    readonly scaleTarget?: Input<number>;
    /** Seconds per request (int64). */
    readonly timeout?: Input<number>;
    readonly securityContext?: Input<PodSecurityContext>;
    readonly imagePullSecrets?: Input<Input<LocalObjectReference>[]>;
    readonly automountServiceAccountToken?: Input<boolean>;
    readonly labels?: Input<Record<string, Input<string>>>;
    readonly annotations?: Input<Record<string, Input<string>>>;
    /**
     * The ClusterStorageContainer whose container downloads `storageUri` (KServe ≥ 0.20). Unset: KServe takes the
     * first enabled one whose formats match, in no defined order when several do.
     */
    readonly storageContainerName?: Input<string>;
}

export interface InferenceServiceSpec {
    /** The only required field of the spec. */
    readonly predictor: PredictorSpec;
}

export interface InferenceService {
    readonly apiVersion: typeof INFERENCE_SERVICE_API_VERSION;
    readonly kind: typeof INFERENCE_SERVICE_KIND;
    readonly metadata: KServeMetadata & { readonly namespace: Input<string> };
    readonly spec: InferenceServiceSpec;
}

/** `spec.supportedModelFormats[]` (required: name; priority ≥ 1). */
export interface SupportedModelFormat {
    readonly name: Input<string>;
    readonly version?: Input<string>;
    /** Let KServe pick this runtime for an InferenceService that names no runtime. */
    readonly autoSelect?: Input<boolean>;
    readonly priority?: Input<number>;
}

/** A container of a serving runtime (required: name); `kserve-container` is the one the predictor's model fields merge into. */
export interface RuntimeContainer {
    readonly name: Input<string>;
    readonly image: Input<string>;
    readonly command?: Input<Input<string>[]>;
    readonly args?: Input<Input<string>[]>;
    readonly env?: Input<Input<EnvVar>[]>;
    readonly ports?: Input<Input<ContainerPort>[]>;
    readonly resources?: Input<ResourceRequirements>;
    readonly securityContext?: Input<SecurityContext>;
    readonly startupProbe?: Input<Probe>;
    readonly readinessProbe?: Input<Probe>;
    readonly livenessProbe?: Input<Probe>;
    readonly volumeMounts?: Input<Input<VolumeMount>[]>;
    readonly workingDir?: Input<string>;
}

/** ServingRuntimeSpec, shared by ServingRuntime and ClusterServingRuntime (required: containers). */
export interface ServingRuntimeSpec {
    readonly containers: Input<RuntimeContainer>[];
    readonly supportedModelFormats?: Input<SupportedModelFormat>[];
    /** Unset or empty: KServe treats the runtime as compatible with every protocol. */
    readonly protocolVersions?: Input<ProtocolVersion>[];
    /** Annotations copied onto the predictor (e.g. prometheus.kserve.io/port, prometheus.kserve.io/path). */
    readonly annotations?: Input<Record<string, Input<string>>>;
    readonly labels?: Input<Record<string, Input<string>>>;
    readonly disabled?: Input<boolean>;
    readonly multiModel?: Input<boolean>;
    readonly volumes?: Input<Input<Volume>[]>;
    readonly imagePullSecrets?: Input<Input<LocalObjectReference>[]>;
    readonly nodeSelector?: Input<Record<string, Input<string>>>;
}

export interface ClusterServingRuntime {
    readonly apiVersion: typeof SERVING_RUNTIME_API_VERSION;
    readonly kind: typeof CLUSTER_SERVING_RUNTIME_KIND;
    readonly metadata: KServeMetadata;
    readonly spec: ServingRuntimeSpec;
}

/** `spec.supportedUriFormats[]` of a ClusterStorageContainer: a URI prefix or a regular expression. */
export interface SupportedUriFormat {
    readonly prefix?: Input<string>;
    readonly regex?: Input<string>;
}

/** ClusterStorageContainer (required: container, supportedUriFormats); `disabled` sits beside `spec`. */
export interface ClusterStorageContainer {
    readonly apiVersion: typeof SERVING_RUNTIME_API_VERSION;
    readonly kind: typeof CLUSTER_STORAGE_CONTAINER_KIND;
    readonly metadata: KServeMetadata;
    readonly spec: {
        /** Merged over KServe's base init container (name, args, env, the model volume) by strategic merge. */
        readonly container: Input<k8s.types.input.core.v1.Container>;
        readonly supportedUriFormats: Input<SupportedUriFormat>[];
        /** Defaults to initContainer. */
        readonly workloadType?: Input<"initContainer" | "localModelDownloadJob">;
    };
    readonly disabled?: Input<boolean>;
}
