import * as assert from "node:assert/strict";
import type { ServedModel } from "../../config";
import type { ResolvedModel } from "../../lib/registry/resolver";
import {
    autoscalerClass,
    clusterStorageContainer,
    storageContainerName,
    storageDirectoryUri,
    awsS3Endpoint,
    clusterServingRuntime,
    inferenceService,
    IRSA_ROLE_ANNOTATION,
    kserveS3Annotations,
    lineageAnnotations,
    protocolVersionFor,
    runtimeCommand,
    runtimeProcessEnv,
    s3EndpointParts,
    servingServiceAccount,
    SERVING_SERVICE_ACCOUNT,
} from "../../manifests/serving";
import { MLFLOW_PYFUNC_RUNTIME, runtimeNeeded } from "../../lib/terms";
import { clusterServingRuntimeSchema, inferenceServiceSchema, kserveErrors } from "../support/kserve-schema";

const RESOURCES = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } };
const model = (over: Partial<ServedModel> = {}): ServedModel => ({
    name: "california-housing",
    registeredModel: "CaliforniaHousingRegressor",
    alias: "production",
    minReplicas: 1,
    maxReplicas: 3,
    targetCPUUtilization: 80,
    visibility: "clusterLocal",
    resources: RESOURCES,
    ...over,
});
const STORAGE = "s3://mlflow-artifacts-dev/1/models/m-7065bfbb8b9f436fb9eafdcb97e192a9/artifacts";
const resolved = (over: Partial<ResolvedModel> = {}): ResolvedModel => ({
    name: "CaliforniaHousingRegressor",
    version: "7",
    alias: "production",
    runId: "0e4508d276a0427cb67da7630acb2e14",
    source: "models:/m-7065bfbb8b9f436fb9eafdcb97e192a9",
    storageUri: STORAGE,
    ...over,
});
const OPTS = { namespace: "mlflow", serviceAccountName: SERVING_SERVICE_ACCOUNT, runtime: MLFLOW_PYFUNC_RUNTIME };

describe("serving manifests: InferenceService", () => {
    it("serves the resolved storageUri with the mlflow format, the runtime, replicas and resources", () => {
        const isvc = inferenceService(model(), resolved(), OPTS);
        assert.equal(isvc.apiVersion, "serving.kserve.io/v1beta1");
        assert.equal(isvc.kind, "InferenceService");
        assert.equal(isvc.metadata.name, "california-housing");
        assert.equal(isvc.metadata.namespace, "mlflow");
        const p = isvc.spec.predictor;
        assert.equal(p.serviceAccountName, "mlflow-serving");
        assert.equal(p.minReplicas, 1);
        assert.equal(p.maxReplicas, 3);
        assert.equal("canaryTrafficPercent" in p, false, "no canary unless configured");
        assert.deepEqual(p.model.modelFormat, { name: "mlflow" });
        assert.equal(p.model.runtime, "mlflow-pyfunc");
        assert.equal(p.model.storageUri, `${STORAGE}/`, "the version's directory: a trailing slash, so no sibling prefix is downloaded");
        assert.deepEqual(p.model.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } });
        assert.deepEqual(kserveErrors(isvc), []);
    });

    it("writes every known lineage field as an mlflow.org annotation", () => {
        assert.deepEqual(inferenceService(model(), resolved(), OPTS).metadata.annotations, {
            "mlflow.org/registered-model": "CaliforniaHousingRegressor",
            "mlflow.org/model-version": "7",
            "mlflow.org/alias": "production",
            "mlflow.org/run-id": "0e4508d276a0427cb67da7630acb2e14",
            "mlflow.org/source": "models:/m-7065bfbb8b9f436fb9eafdcb97e192a9",
            "serving.kserve.io/deploymentMode": "Standard",
            "serving.kserve.io/autoscalerClass": "hpa",
            modelFormat: "mlflow",
        });
    });

    it("states what KServe would otherwise take from its install or add in its webhook: mode, autoscaler, no ingress, the storage container", () => {
        const isvc = inferenceService(model(), resolved(), OPTS);
        const ann = isvc.metadata.annotations as Record<string, string>;
        assert.equal(ann["serving.kserve.io/deploymentMode"], "Standard", "never the install's default (the chart's is Knative)");
        assert.equal(ann.modelFormat, "mlflow", "the defaulting webhook's annotation, declared so the next up does not remove it");
        assert.equal((isvc.metadata.labels as Record<string, string>)["networking.kserve.io/visibility"], "cluster-local", "no Ingress unless exposed");
        assert.equal(isvc.spec.predictor.storageContainerName, "mlflow-platform-mlflow", "the platform's initializer, never KServe's default");
        assert.equal(isvc.spec.predictor.scaleMetric, "cpu");
        assert.equal(isvc.spec.predictor.scaleTarget, 80);
        const exposed = inferenceService(model({ visibility: "exposed" }), resolved(), OPTS);
        assert.equal("networking.kserve.io/visibility" in (exposed.metadata.labels as Record<string, string>), false);
        const knative = inferenceService(model(), resolved(), { ...OPTS, deploymentMode: "Knative" });
        assert.equal((knative.metadata.annotations as Record<string, string>)["serving.kserve.io/deploymentMode"], "Knative");
        assert.equal("serving.kserve.io/autoscalerClass" in (knative.metadata.annotations as Record<string, string>), false, "Knative scales with its own autoscaler");
        assert.deepEqual(kserveErrors(isvc), []);
    });

    it("a fixed replica count gets no HPA (autoscalerClass none); a range gets KServe's HPA on CPU", () => {
        assert.equal(autoscalerClass({ minReplicas: 2, maxReplicas: 2 }), "none");
        assert.equal(autoscalerClass({ minReplicas: 1, maxReplicas: 3 }), "hpa");
        const fixed = inferenceService(model({ minReplicas: 2, maxReplicas: 2 }), resolved(), OPTS);
        assert.equal((fixed.metadata.annotations as Record<string, string>)["serving.kserve.io/autoscalerClass"], "none");
        assert.equal("scaleMetric" in fixed.spec.predictor, false);
        assert.equal("scaleTarget" in fixed.spec.predictor, false);
    });

    it("a storage URI is served as the directory it names", () => {
        assert.equal(storageDirectoryUri("s3://b/1/models/m-1/artifacts"), "s3://b/1/models/m-1/artifacts/");
        assert.equal(storageDirectoryUri("s3://b/1/models/m-1/artifacts/"), "s3://b/1/models/m-1/artifacts/");
    });

    it("a new version changes the model-version annotation and the storageUri, nothing else in the spec", () => {
        const v6 = inferenceService(model(), resolved({ version: "6", storageUri: `${STORAGE}-6` }), OPTS);
        assert.equal(v6.spec.predictor.model.storageUri, `${STORAGE}-6/`);
        const v7 = inferenceService(model(), resolved(), OPTS);
        assert.equal((v6.metadata.annotations as Record<string, string>)["mlflow.org/model-version"], "6");
        assert.equal((v7.metadata.annotations as Record<string, string>)["mlflow.org/model-version"], "7");
        assert.deepEqual({ ...v6.spec.predictor.model, storageUri: "" }, { ...v7.spec.predictor.model, storageUri: "" });
    });

    it("omits lineage fields that are unknown (a pinned storageUri has no version, run or source)", () => {
        const pinned = model({ alias: undefined, storageUri: STORAGE });
        const ann = lineageAnnotations(pinned, { name: "CaliforniaHousingRegressor", storageUri: STORAGE });
        assert.deepEqual(ann, { "mlflow.org/registered-model": "CaliforniaHousingRegressor" });
        const byVersion = lineageAnnotations(model({ alias: undefined, version: "3" }), resolved({ alias: undefined, version: "3", runId: undefined, source: "" }));
        assert.deepEqual(Object.keys(byVersion).sort(), ["mlflow.org/model-version", "mlflow.org/registered-model"]);
    });

    it("sets canaryTrafficPercent when configured, including 0", () => {
        assert.equal(inferenceService(model({ canaryTrafficPercent: 10 }), resolved(), OPTS).spec.predictor.canaryTrafficPercent, 10);
        assert.equal(inferenceService(model({ canaryTrafficPercent: 0 }), resolved(), OPTS).spec.predictor.canaryTrafficPercent, 0);
    });

    it("uses the default runtime unless the model names one; protocolVersion follows the runtime", () => {
        const dflt = inferenceService(model(), resolved(), { ...OPTS, runtime: "custom-default" });
        assert.equal(dflt.spec.predictor.model.runtime, "custom-default");
        assert.equal("protocolVersion" in dflt.spec.predictor.model, false);
        const own = inferenceService(model({ runtime: "kserve-mlserver" }), resolved(), OPTS);
        assert.equal(own.spec.predictor.model.runtime, "kserve-mlserver");
        assert.equal(own.spec.predictor.model.protocolVersion, "v2");
        // MLflow's scoring server speaks neither KServe protocol: nothing declared, so KServe does not mismatch it.
        assert.equal(protocolVersionFor(MLFLOW_PYFUNC_RUNTIME), undefined);
        assert.equal("protocolVersion" in inferenceService(model(), resolved(), OPTS).spec.predictor.model, false);
    });

    it("sets the project runtime's workers and native threads per model as the env the runtime reads; other runtimes get none", () => {
        const envOf = (m: ServedModel) => inferenceService(m, resolved(), OPTS).spec.predictor.model.env as { name: string; value: string }[] | undefined;
        assert.deepEqual(envOf(model()), [
            { name: "MLFLOW_MODELS_WORKERS", value: "1" },
            { name: "OMP_NUM_THREADS", value: "1" },
            { name: "OPENBLAS_NUM_THREADS", value: "1" },
            { name: "MKL_NUM_THREADS", value: "1" },
        ]);
        const two = envOf(model({ workers: 3, threadsPerWorker: 2 }))!;
        assert.equal(two.find((e) => e.name === "MLFLOW_MODELS_WORKERS")?.value, "3");
        assert.deepEqual(two.filter((e) => e.name.endsWith("_NUM_THREADS")).map((e) => e.value), ["2", "2", "2"]);
        // The default follows the CPU limit: one worker per core, rounded up.
        const big = envOf(model({ resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2500m", memory: "4Gi" } } }))!;
        assert.equal(big.find((e) => e.name === "MLFLOW_MODELS_WORKERS")?.value, "3");
        assert.deepEqual(runtimeProcessEnv(model({ workers: 2 })), envOf(model({ workers: 2 })));
        assert.equal("env" in inferenceService(model({ runtime: "kserve-mlserver" }), resolved(), OPTS).spec.predictor.model, false);
        assert.deepEqual(kserveErrors(inferenceService(model({ workers: 4 }), resolved(), OPTS)), []);
    });

    it("runs the predictor pod non-root without overriding the runtime's read-only root filesystem", () => {
        const p = inferenceService(model(), resolved(), OPTS).spec.predictor;
        assert.equal((p.securityContext as { runAsNonRoot?: boolean }).runAsNonRoot, true);
        const sc = p.model.securityContext as Record<string, unknown>;
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.equal("readOnlyRootFilesystem" in sc, false);
    });

    it("refuses a resolved model that is not this model's lookup, a non-S3 URI and a name KServe rejects", () => {
        assert.throws(() => inferenceService(model(), resolved({ name: "OtherModel" }), OPTS), /resolved model is "OtherModel".*"CaliforniaHousingRegressor"/);
        assert.throws(() => inferenceService(model(), resolved({ storageUri: "models:/CaliforniaHousingRegressor/7" }), OPTS), /must be an s3:\/\/ URI, got "models:\//);
        assert.throws(() => inferenceService(model({ name: "1-housing" }), resolved(), OPTS), /"1-housing" is invalid: KServe needs a DNS-1035 label/);
    });
});

describe("serving manifests: the platform's ClusterStorageContainer", () => {
    const csc = clusterStorageContainer({ namespace: "mlflow", image: "r/storage-initializer@sha256:" + "a".repeat(64), prefixes: ["s3://mlflow-artifacts-dev", "s3://shared-models/team-a/"] });
    it("is named after the namespace, supports only the stack's S3 prefixes as directories, and is valid against the CRD subset", () => {
        assert.equal(csc.metadata.name, "mlflow-platform-mlflow");
        assert.equal(csc.metadata.name, storageContainerName("mlflow"));
        assert.deepEqual(csc.spec.supportedUriFormats, [{ prefix: "s3://mlflow-artifacts-dev/" }, { prefix: "s3://shared-models/team-a/" }]);
        assert.equal(csc.spec.workloadType, "initContainer");
        assert.deepEqual(kserveErrors(csc), []);
    });
    it("runs the platform's image as the injected init container, passing Pod Security restricted on its own", () => {
        const c = csc.spec.container as { name: string; image: string; imagePullPolicy: string; securityContext: Record<string, unknown>; resources: unknown };
        assert.equal(c.name, "storage-initializer", "the name KServe's injector gives it (the merge key)");
        assert.equal(c.imagePullPolicy, "IfNotPresent");
        assert.deepEqual(c.securityContext, {
            allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] },
            runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" },
        });
        assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } });
    });
});

describe("serving manifests: ServiceAccount", () => {
    const sa = (opts: Parameters<typeof servingServiceAccount>[0]) => servingServiceAccount(opts) as { metadata: { name: string; annotations: Record<string, string> }; secrets?: { name: string }[]; automountServiceAccountToken?: boolean };

    it("static keys: lists the keys Secret and carries KServe's S3 annotations for the region", () => {
        const s = sa({ namespace: "mlflow", aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" } });
        assert.equal(s.metadata.name, "mlflow-serving");
        assert.deepEqual(s.secrets, [{ name: "mlflow-aws-credentials" }]);
        assert.deepEqual(s.metadata.annotations, {
            "serving.kserve.io/s3-endpoint": "s3.eu-west-1.amazonaws.com",
            "serving.kserve.io/s3-region": "eu-west-1",
            "serving.kserve.io/s3-usehttps": "1",
            "serving.kserve.io/s3-verifyssl": "1",
        });
        assert.equal(s.automountServiceAccountToken, false);
        assert.equal(IRSA_ROLE_ANNOTATION in s.metadata.annotations, false);
    });

    it("IRSA: the role annotation, no Secret, the s3 annotations kept", () => {
        const role = "arn:aws:iam::123456789012:role/mlflow-serving";
        const s = sa({ namespace: "mlflow", aws: { region: "eu-west-1" }, annotations: { [IRSA_ROLE_ANNOTATION]: role } });
        assert.equal(s.secrets, undefined);
        assert.equal(s.metadata.annotations[IRSA_ROLE_ANNOTATION], role);
        assert.equal(s.metadata.annotations["serving.kserve.io/s3-region"], "eu-west-1");
        assert.equal(s.metadata.annotations["serving.kserve.io/s3-endpoint"], "s3.eu-west-1.amazonaws.com");
    });

    it("MinIO: the configured endpoint, plain http, no TLS verification", () => {
        const s = sa({ namespace: "mlflow", aws: { keysSecretName: "mlflow-aws-credentials", s3Endpoint: "http://minio.mlflow.svc.cluster.local:9000" } });
        assert.deepEqual(s.metadata.annotations, {
            "serving.kserve.io/s3-endpoint": "minio.mlflow.svc.cluster.local:9000",
            "serving.kserve.io/s3-usehttps": "0",
            "serving.kserve.io/s3-verifyssl": "0",
        });
    });

    it("parses endpoints and names the bad one", () => {
        assert.deepEqual(s3EndpointParts("https://s3.example.com/"), { host: "s3.example.com", https: true });
        assert.deepEqual(s3EndpointParts("minio:9000"), { host: "minio:9000", https: true });
        assert.throws(() => s3EndpointParts("ftp://x/y"), /S3 endpoint "ftp:\/\/x\/y" is invalid/);
        assert.equal(awsS3Endpoint("cn-north-1"), "s3.cn-north-1.amazonaws.com.cn");
        assert.deepEqual(kserveS3Annotations({}), {});
    });
});

describe("serving manifests: ClusterServingRuntime", () => {
    const rt = clusterServingRuntime({ image: "ghcr.io/example/mlflow-platform-serving:0.1.0" });
    const container = rt.spec.containers[0] as unknown as Record<string, unknown>;

    it("runs MLflow's scoring server over the downloaded model, for the mlflow format v3", () => {
        assert.equal(rt.kind, "ClusterServingRuntime");
        assert.equal(rt.apiVersion, "serving.kserve.io/v1alpha1");
        assert.equal(rt.metadata.name, "mlflow-pyfunc");
        assert.equal("namespace" in rt.metadata, false, "cluster-scoped");
        assert.deepEqual(rt.spec.supportedModelFormats, [{ name: "mlflow", version: "3", autoSelect: true }]);
        assert.equal(container.name, "kserve-container");
        assert.equal(container.image, "ghcr.io/example/mlflow-platform-serving:0.1.0");
        assert.deepEqual([...(container.command as string[]), ...(container.args as string[])], runtimeCommand());
        assert.deepEqual(runtimeCommand(), ["dumb-init", "--", "python", "/opt/serving/scoring_server.py", "--model", "/mnt/models", "--host", "0.0.0.0", "--port", "8080"]);
        assert.equal(rt.spec.protocolVersions, undefined);
    });

    it("is non-root with a read-only root filesystem, a writable /tmp and requests/limits", () => {
        const sc = container.securityContext as Record<string, unknown>;
        assert.equal(sc.runAsNonRoot, true);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.deepEqual((container.volumeMounts as { mountPath: string }[]).map((m) => m.mountPath), ["/tmp"]);
        const r = container.resources as { requests: Record<string, string>; limits: Record<string, string> };
        assert.ok(r.requests.cpu && r.requests.memory && r.limits.cpu && r.limits.memory);
        assert.deepEqual(kserveErrors(rt), []);
    });
});

describe("serving manifests: when the runtime is declared", () => {
    const on = { installRuntime: true, defaultRuntime: "mlflow-pyfunc" };
    it("only with a served model on it: none served, or all on another runtime, declares no KServe object", () => {
        assert.equal(runtimeNeeded({ ...on, models: [] }), false);
        assert.equal(runtimeNeeded({ ...on, models: [{ runtime: "kserve-mlserver" }] }), false);
        assert.equal(runtimeNeeded({ ...on, defaultRuntime: "kserve-mlserver", models: [{}] }), false);
        assert.equal(runtimeNeeded({ ...on, models: [{}] }), true);
        assert.equal(runtimeNeeded({ ...on, defaultRuntime: "kserve-mlserver", models: [{ runtime: "mlflow-pyfunc" }] }), true);
        assert.equal(runtimeNeeded({ ...on, installRuntime: false, models: [{}] }), false);
    });
});

describe("kserve schema subset", () => {
    it("rejects what the CRD rejects or would prune", () => {
        const good = inferenceService(model(), resolved(), OPTS);
        const bad = (f: (o: Record<string, any>) => void) => {
            const o = JSON.parse(JSON.stringify(good));
            f(o);
            return kserveErrors(o);
        };
        assert.ok(bad((o) => delete o.spec.predictor.model.modelFormat.name).some((e) => /modelFormat must have required property 'name'/.test(e)));
        assert.ok(bad((o) => (o.spec.predictor.minReplicas = "1")).some((e) => /minReplicas must be integer/.test(e)));
        assert.ok(bad((o) => (o.spec.predictor.model.storageURI = STORAGE)).some((e) => /storageURI/.test(e)));
        assert.ok(bad((o) => (o.spec.predictor.scaleMetric = "latency")).some((e) => /scaleMetric must be equal to one of the allowed values/.test(e)));
        assert.ok(bad((o) => (o.spec.predictor.model.resources.limits.memory = "2 GB")).some((e) => /memory must match pattern/.test(e)));
        assert.ok(bad((o) => delete o.spec.predictor).some((e) => /must have required property 'predictor'/.test(e)));
        const rt = JSON.parse(JSON.stringify(clusterServingRuntime({ image: "x" })));
        rt.spec.supportedModelFormats[0].priority = 0;
        assert.ok(kserveErrors(rt).some((e) => /priority must be >= 1/.test(e)));
        assert.ok(inferenceServiceSchema && clusterServingRuntimeSchema);
    });
});
