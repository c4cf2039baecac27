import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, type ServedModel } from "../../config";
import { ModelServing, ModelServingArgs } from "../../components/model-serving";
import type { ResolvedModel } from "../../lib/registry/resolver";
import { renderStack, RenderResult, SECRET_PLACEHOLDER } from "../../lib/render";
import { isBuiltIn, validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";
import { kserveErrors } from "../support/kserve-schema";

const RESOURCES = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } };
const MODELS: ServedModel[] = [
    { name: "california-housing", registeredModel: "CaliforniaHousingRegressor", alias: "production", minReplicas: 1, maxReplicas: 3, targetCPUUtilization: 80, visibility: "clusterLocal", resources: RESOURCES },
    { name: "housing-canary", registeredModel: "CaliforniaHousingRegressor", version: "8", minReplicas: 1, maxReplicas: 2, targetCPUUtilization: 80, visibility: "clusterLocal", canaryTrafficPercent: 10, runtime: "kserve-mlserver", resources: RESOURCES },
];
const RESOLVED: ResolvedModel[] = [
    { name: "CaliforniaHousingRegressor", version: "7", alias: "production", runId: "r7", source: "models:/m-7", storageUri: "s3://mlflow-artifacts-dev/1/models/m-7/artifacts" },
    { name: "CaliforniaHousingRegressor", version: "8", runId: "r8", source: "models:/m-8", storageUri: "s3://mlflow-artifacts-dev/1/models/m-8/artifacts" },
];
/** The serving config section as the spec defaults it, with MODELS. */
const CONFIG: ModelServingArgs["config"] = { ...parseConfig({}, "dev").serving, models: MODELS };
const BASE: ModelServingArgs = {
    namespace: "mlflow",
    config: CONFIG,
    resolved: RESOLVED,
    runtimeImage: "ghcr.io/example/mlflow-platform-serving:0.1.0",
    storageInitializerImage: "ghcr.io/example/mlflow-platform-storage-initializer:0.1.0",
    storagePrefixes: ["s3://mlflow-artifacts-dev"],
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
};
const ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService";
const RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime";
const CSC = "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer";
const SA = "kubernetes:core/v1:ServiceAccount";

/** Renders only a ModelServing (under the shared render mocks), returning the render and the component's outputs. */
function renderServing(args: ModelServingArgs): Promise<RenderResult> {
    return renderStack({
        root: ROOT,
        stack: "dev",
        program: async () => {
            const serving = new ModelServing("serving", args);
            return { models: serving.models, serviceAccountName: serving.serviceAccountName };
        },
    });
}
const ofType = (r: RenderResult, type: string) => r.resources.filter((x) => x.type === type);

describe("ModelServing component (Pulumi mocks)", () => {
    let r: RenderResult;
    before(async () => {
        r = await renderServing(BASE);
    });

    it("creates the ServiceAccount, the runtime, the storage container and one InferenceService per model, all children of the component", () => {
        const component = r.resources.find((x) => x.type === "mlflow-platform:serving:ModelServing");
        assert.ok(component, "component registered");
        assert.equal(ofType(r, SA).length, 1);
        assert.equal(ofType(r, RUNTIME).length, 1);
        assert.equal(ofType(r, CSC).length, 1);
        assert.deepEqual(ofType(r, ISVC).map((x) => x.name).sort(), ["serving-california-housing", "serving-housing-canary"]);
        for (const x of [...ofType(r, SA), ...ofType(r, RUNTIME), ...ofType(r, CSC), ...ofType(r, ISVC)]) assert.equal(x.parent, "mlflow-platform:serving:ModelServing::serving", x.name);
    });

    it("every InferenceService, whatever its runtime, names the platform's storage container, which supports the artifact bucket", () => {
        const csc = r.kubernetes.find((o) => o.kind === "ClusterStorageContainer") as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON
        assert.equal(csc.metadata.name, "mlflow-platform-mlflow");
        assert.equal(csc.spec.container.image, BASE.storageInitializerImage);
        assert.deepEqual(csc.spec.supportedUriFormats, [{ prefix: "s3://mlflow-artifacts-dev/" }]);
        for (const o of r.kubernetes.filter((x) => x.kind === "InferenceService")) assert.equal((o as Record<string, any>).spec.predictor.storageContainerName, "mlflow-platform-mlflow"); // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON
    });

    it("every emitted object is valid: KServe kinds against the CRD subset, the ServiceAccount against Kubernetes' schema", () => {
        const kserve = r.kubernetes.filter((o) => !isBuiltIn(o));
        assert.deepEqual(kserve.map((o) => o.kind).sort(), ["ClusterServingRuntime", "ClusterStorageContainer", "InferenceService", "InferenceService"]);
        for (const o of kserve) assert.deepEqual(kserveErrors(o), [], `${o.kind} ${o.metadata.name}`);
        for (const o of r.kubernetes.filter(isBuiltIn)) validateKubernetesObject(o);
    });

    it("each InferenceService carries its resolved storageUri, lineage, runtime and canary", () => {
        const byName = Object.fromEntries(r.kubernetes.filter((o) => o.kind === "InferenceService").map((o) => [o.metadata.name, o as Record<string, any>])); // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON
        const prod = byName["california-housing"];
        assert.equal(prod.metadata.namespace, "mlflow");
        assert.equal(prod.spec.predictor.model.storageUri, `${RESOLVED[0].storageUri}/`);
        assert.equal(prod.spec.predictor.model.runtime, "mlflow-pyfunc");
        assert.equal(prod.spec.predictor.serviceAccountName, "mlflow-serving");
        assert.equal(prod.metadata.annotations["mlflow.org/model-version"], "7");
        assert.equal(prod.metadata.annotations["mlflow.org/alias"], "production");
        assert.equal(prod.spec.predictor.canaryTrafficPercent, undefined);
        const canary = byName["housing-canary"];
        assert.equal(canary.spec.predictor.model.storageUri, `${RESOLVED[1].storageUri}/`);
        assert.equal(canary.spec.predictor.model.runtime, "kserve-mlserver");
        assert.equal(canary.spec.predictor.canaryTrafficPercent, 10);
        assert.equal(canary.metadata.annotations["mlflow.org/alias"], undefined);
        assert.equal(canary.metadata.annotations["mlflow.org/run-id"], "r8");
    });

    it("the ServiceAccount lists the keys Secret and KServe's S3 annotations; no key material in it", () => {
        const sa = r.kubernetes.find((o) => o.kind === "ServiceAccount") as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON
        assert.equal(sa.metadata.name, "mlflow-serving");
        assert.deepEqual(sa.secrets, [{ name: "mlflow-aws-credentials" }]);
        assert.equal(sa.metadata.annotations["serving.kserve.io/s3-endpoint"], "s3.eu-west-1.amazonaws.com");
        assert.equal(sa.metadata.annotations["serving.kserve.io/s3-region"], "eu-west-1");
        assert.equal(sa.metadata.annotations["serving.kserve.io/s3-usehttps"], "1");
    });

    it("outputs what is served, in config order", () => {
        assert.deepEqual(r.outputs.models, [
            { name: "california-housing", registeredModel: "CaliforniaHousingRegressor", version: "7", alias: "production", storageUri: RESOLVED[0].storageUri },
            { name: "housing-canary", registeredModel: "CaliforniaHousingRegressor", version: "8", storageUri: RESOLVED[1].storageUri },
        ]);
        assert.equal(r.outputs.serviceAccountName, "mlflow-serving");
    });

    it("an empty model list declares no KServe object: no InferenceService, no runtime, no storage container (the ServiceAccount stays)", async () => {
        const empty = await renderServing({ ...BASE, config: { ...CONFIG, models: [] }, resolved: [] });
        assert.equal(ofType(empty, ISVC).length, 0);
        assert.equal(ofType(empty, SA).length, 1);
        assert.equal(ofType(empty, RUNTIME).length, 0);
        assert.equal(ofType(empty, CSC).length, 0);
        assert.deepEqual(empty.outputs.models, []);
    });

    it("installRuntime false leaves the runtime out; IRSA annotations (an Output) land on the ServiceAccount, no Secret", async () => {
        const role = "arn:aws:iam::123456789012:role/mlflow-serving";
        const irsa = await renderServing({
            ...BASE,
            config: { ...CONFIG, installRuntime: false },
            runtimeImage: undefined,
            aws: { region: "eu-west-1" },
            serviceAccountAnnotations: pulumi.output({ "eks.amazonaws.com/role-arn": pulumi.output(role) }),
        });
        assert.equal(ofType(irsa, RUNTIME).length, 0);
        const sa = irsa.kubernetes.find((o) => o.kind === "ServiceAccount") as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON
        assert.equal(sa.secrets, undefined);
        assert.equal(sa.metadata.annotations["eks.amazonaws.com/role-arn"], role);
        assert.equal(sa.metadata.annotations["serving.kserve.io/s3-region"], "eu-west-1");
        assert.notEqual(sa.metadata.annotations["eks.amazonaws.com/role-arn"], SECRET_PLACEHOLDER);
        validateKubernetesObject(sa as never);
    });

    it("refuses lookups that do not line up with the models, and a runtime without an image", async () => {
        await assert.rejects(renderServing({ ...BASE, resolved: RESOLVED.slice(0, 1) }), /2 serving.models but 1 resolved models/);
        await assert.rejects(renderServing({ ...BASE, resolved: [...RESOLVED].reverse().map((m, i) => ({ ...m, name: i === 0 ? "Other" : m.name })) }), /resolved model is "Other"/);
        await assert.rejects(renderServing({ ...BASE, runtimeImage: undefined }), /runtimeImage is required when a served model runs on "mlflow-pyfunc"/);
        await assert.rejects(renderServing({ ...BASE, storageInitializerImage: undefined }), /storageInitializerImage is required when a model is served/);
    });
});
