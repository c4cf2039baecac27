/**
 * JSON Schemas (draft-07) of the part of KServe's InferenceService (serving.kserve.io/v1beta1),
 * ClusterServingRuntime and ClusterStorageContainer (serving.kserve.io/v1alpha1) this project writes: types, formats, enums and
 * required fields as KServe v0.20's CRDs state them. Written for the tests, which must not read the CRDs
 * (a clone has no ../shared); scripts/check-kserve-crd.ts checks renders against the real CRDs.
 *
 * Stricter than the CRD in one way, on purpose: `additionalProperties: false` on every object described
 * here. The API server silently prunes fields a structural schema does not know, so a misspelt or
 * misplaced field would deploy as if it were not there; here it fails the test instead.
 */
import Ajv, { ValidateFunction } from "ajv";

type Schema = Record<string, unknown>;

const str: Schema = { type: "string" };
const bool: Schema = { type: "boolean" };
const int32: Schema = { type: "integer", minimum: -2147483648, maximum: 2147483647 };
const int64: Schema = { type: "integer" };
const strMap: Schema = { type: "object", additionalProperties: str };
const closed = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
    type: "object",
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
});
/** A resource.Quantity: int-or-string with Kubernetes' quantity pattern. */
const quantity: Schema = {
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
};
const intOrString: Schema = { anyOf: [{ type: "integer" }, { type: "string" }] };
const resources = closed({ limits: { type: "object", additionalProperties: quantity }, requests: { type: "object", additionalProperties: quantity } });
const capabilities = closed({ add: { type: "array", items: str }, drop: { type: "array", items: str } });
const seccompProfile = closed({ localhostProfile: str, type: str }, ["type"]);
const containerSecurityContext = closed({
    allowPrivilegeEscalation: bool,
    capabilities,
    privileged: bool,
    readOnlyRootFilesystem: bool,
    runAsGroup: int64,
    runAsNonRoot: bool,
    runAsUser: int64,
    seccompProfile,
});
const podSecurityContext = closed({
    fsGroup: int64,
    fsGroupChangePolicy: str,
    runAsGroup: int64,
    runAsNonRoot: bool,
    runAsUser: int64,
    seccompProfile,
    supplementalGroups: { type: "array", items: int64 },
});
const env = {
    type: "array",
    items: closed(
        {
            name: str,
            value: str,
            valueFrom: closed({ secretKeyRef: closed({ key: str, name: str, optional: bool }, ["key"]), configMapKeyRef: closed({ key: str, name: str, optional: bool }, ["key"]) }),
        },
        ["name"],
    ),
};
/** ObjectMeta (the CRDs leave it to the API server); a cluster-scoped object has no namespace. */
const metadata = (namespaced: boolean): Schema =>
    namespaced
        ? closed({ name: { type: "string", minLength: 1 }, namespace: { type: "string", minLength: 1 }, labels: strMap, annotations: strMap }, ["name", "namespace"])
        : closed({ name: { type: "string", minLength: 1 }, labels: strMap, annotations: strMap }, ["name"]);

/** The InferenceService fields the project emits. */
export const inferenceServiceSchema: Schema = closed(
    {
        apiVersion: { const: "serving.kserve.io/v1beta1" },
        kind: { const: "InferenceService" },
        metadata: metadata(true),
        spec: closed(
            {
                predictor: closed({
                    serviceAccountName: str,
                    minReplicas: int32,
                    maxReplicas: int32,
                    canaryTrafficPercent: int64,
                    scaleMetric: { type: "string", enum: ["cpu", "memory", "concurrency", "rps"] },
                    scaleTarget: int32,
                    timeout: int64,
                    automountServiceAccountToken: bool,
                    securityContext: podSecurityContext,
                    labels: strMap,
                    annotations: strMap,
                    storageContainerName: str,
                    model: closed({
                        modelFormat: closed({ name: str, version: str }, ["name"]),
                        protocolVersion: str,
                        runtime: str,
                        runtimeVersion: str,
                        storageUri: str,
                        resources,
                        env,
                        args: { type: "array", items: str },
                        securityContext: containerSecurityContext,
                    }),
                }),
            },
            ["predictor"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
);

const probe = closed({
    httpGet: closed({ host: str, path: str, port: intOrString, scheme: str }, ["port"]),
    tcpSocket: closed({ host: str, port: intOrString }, ["port"]),
    initialDelaySeconds: int32,
    periodSeconds: int32,
    timeoutSeconds: int32,
    successThreshold: int32,
    failureThreshold: int32,
});

/** The ClusterServingRuntime fields the project emits. */
export const clusterServingRuntimeSchema: Schema = closed(
    {
        apiVersion: { const: "serving.kserve.io/v1alpha1" },
        kind: { const: "ClusterServingRuntime" },
        metadata: metadata(false),
        spec: closed(
            {
                annotations: strMap,
                labels: strMap,
                disabled: bool,
                multiModel: bool,
                nodeSelector: strMap,
                protocolVersions: { type: "array", items: str },
                supportedModelFormats: { type: "array", items: closed({ name: str, version: str, autoSelect: bool, priority: { ...int32, minimum: 1 } }, ["name"]) },
                containers: {
                    type: "array",
                    items: closed(
                        {
                            name: str,
                            image: str,
                            command: { type: "array", items: str },
                            args: { type: "array", items: str },
                            env,
                            ports: { type: "array", items: closed({ containerPort: int32, hostPort: int32, name: str, protocol: str }, ["containerPort"]) },
                            resources,
                            securityContext: containerSecurityContext,
                            startupProbe: probe,
                            readinessProbe: probe,
                            livenessProbe: probe,
                            volumeMounts: { type: "array", items: closed({ mountPath: str, name: str, readOnly: bool, subPath: str }, ["mountPath", "name"]) },
                            workingDir: str,
                        },
                        ["name"],
                    ),
                },
                volumes: {
                    type: "array",
                    items: closed({ name: str, emptyDir: closed({ medium: str, sizeLimit: quantity }) }, ["name"]),
                },
            },
            ["containers"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
);

/** The ClusterStorageContainer fields the project emits (`disabled` sits beside `spec` in the CRD). */
export const clusterStorageContainerSchema: Schema = closed(
    {
        apiVersion: { const: "serving.kserve.io/v1alpha1" },
        kind: { const: "ClusterStorageContainer" },
        metadata: metadata(false),
        disabled: bool,
        spec: closed(
            {
                container: closed(
                    { name: str, image: str, imagePullPolicy: { type: "string", enum: ["Always", "IfNotPresent", "Never"] }, args: { type: "array", items: str }, env, resources, securityContext: containerSecurityContext },
                    ["name"],
                ),
                supportedUriFormats: { type: "array", items: closed({ prefix: str, regex: str }) },
                supportsMultiModelDownload: bool,
                workloadType: str,
            },
            ["container", "supportedUriFormats"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
);

const ajv = new Ajv({ strict: false, allErrors: true });
const validators: Record<string, ValidateFunction> = {
    InferenceService: ajv.compile(inferenceServiceSchema),
    ClusterServingRuntime: ajv.compile(clusterServingRuntimeSchema),
    ClusterStorageContainer: ajv.compile(clusterStorageContainerSchema),
};

/** Validates one emitted KServe object; returns one line per error (empty: valid). */
export function kserveErrors(obj: unknown): string[] {
    const kind = (obj as { kind?: unknown } | null)?.kind;
    const validate = typeof kind === "string" ? validators[kind] : undefined;
    if (!validate) return [`not a KServe kind this schema covers: ${String(kind)}`];
    if (validate(obj)) return [];
    return (validate.errors ?? []).map((e) => {
        const extra = e.keyword === "additionalProperties" ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : "";
        return `${kind}${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
    });
}
