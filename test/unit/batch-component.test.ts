import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../../config";
import { BatchJobs, BatchJobsArgs } from "../../components/batch-jobs";
import { renderStack, RenderResult } from "../../lib/render";
import { validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";

const RESOURCES = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } };
/** The batch config section as the spec defaults it, with two profiles. */
const CONFIG: BatchJobsArgs["config"] = {
    ...parseConfig({}, "dev").batch,
    profiles: [{ name: "nightly" }, { name: "adhoc", inputS3Path: "s3://inputs/rows.csv", outputS3Prefix: "s3://outputs/preds", schedule: "0 3 * * *" }],
    resources: RESOURCES,
};
const BASE: BatchJobsArgs = {
    namespace: "mlflow",
    config: CONFIG,
    image: "registry.example.com/trainer@sha256:0123",
    tracking: { uri: "http://mlflow.mlflow.svc.cluster.local:5000" },
    artifactRoot: "s3://mlflow-artifacts-dev",
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
};
const CRONJOB = "kubernetes:batch/v1:CronJob";
const COMPONENT = "mlflow-platform:batch:BatchJobs";

/** Renders only a BatchJobs (under the shared render mocks), returning the render and the component's outputs. */
function renderBatch(args: BatchJobsArgs): Promise<RenderResult> {
    return renderStack({
        root: ROOT,
        stack: "dev",
        program: async () => {
            const batch = new BatchJobs("batch", args);
            return { templates: batch.templates };
        },
    });
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered JSON
type Json = Record<string, any>;
const envOf = (o: Json) => Object.fromEntries((o.spec.jobTemplate.spec.template.spec.containers[0].env as Json[]).map((e) => [e.name, e.value ?? e.valueFrom]));

describe("BatchJobs component (Pulumi mocks)", () => {
    let r: RenderResult;
    before(async () => {
        // the artifact root as the program has it: an Output (the bucket's generated name)
        r = await renderBatch({ ...BASE, artifactRoot: pulumi.output("s3://mlflow-artifacts-dev-1a2b3c") });
    });

    it("one valid CronJob per profile, children of the component; no ServiceAccount of its own", () => {
        assert.ok(r.resources.find((x) => x.type === COMPONENT), "component registered");
        const cronJobs = r.resources.filter((x) => x.type === CRONJOB);
        assert.deepEqual(cronJobs.map((x) => x.name).sort(), ["batch-adhoc", "batch-nightly"]);
        for (const x of cronJobs) assert.equal(x.parent, `${COMPONENT}::batch`, x.name);
        assert.deepEqual(r.resources.filter((x) => x.type.startsWith("kubernetes:") && x.type !== CRONJOB), [], "only CronJobs");
        for (const o of r.kubernetes) validateKubernetesObject(o);
        const names = r.kubernetes.map((o) => o.metadata.name).sort();
        assert.deepEqual(names, ["batch-adhoc", "batch-nightly"]);
    });

    it("defaults: model, alias, the Output artifact root's paths, the training ServiceAccount, 7200 s / 86400 s / 1 retry", () => {
        const nightly = r.kubernetes.find((o) => o.metadata.name === "batch-nightly") as Json;
        const env = envOf(nightly);
        assert.equal(env.REGISTERED_MODEL_NAME, "CaliforniaHousingRegressor");
        assert.equal(env.BATCH_ALIAS, "production");
        assert.equal(env.BATCH_INPUT_S3_PATH, "s3://mlflow-artifacts-dev-1a2b3c/batch/nightly/input.csv");
        assert.equal(env.BATCH_OUTPUT_S3_PREFIX, "s3://mlflow-artifacts-dev-1a2b3c/batch/nightly/predictions");
        const job = nightly.spec.jobTemplate.spec;
        assert.equal(job.template.spec.serviceAccountName, "mlflow-training");
        assert.equal(job.activeDeadlineSeconds, 7200);
        assert.equal(job.ttlSecondsAfterFinished, 86400);
        assert.equal(job.backoffLimit, 1);
        assert.equal(nightly.spec.suspend, true);
        const adhoc = r.kubernetes.find((o) => o.metadata.name === "batch-adhoc") as Json;
        assert.equal(envOf(adhoc).BATCH_INPUT_S3_PATH, "s3://inputs/rows.csv");
        assert.equal(adhoc.spec.suspend, false);
    });

    it("outputs each template: profile, CronJob, launch command, input and output", () => {
        assert.deepEqual(r.outputs.templates, [
            {
                profile: "nightly",
                cronJob: "batch-nightly",
                launch: "kubectl create job --namespace mlflow --from=cronjob/batch-nightly batch-nightly-$(date +%Y%m%d%H%M%S)",
                input: "s3://mlflow-artifacts-dev-1a2b3c/batch/nightly/input.csv",
                output: "s3://mlflow-artifacts-dev-1a2b3c/batch/nightly/predictions",
            },
            {
                profile: "adhoc",
                cronJob: "batch-adhoc",
                launch: "kubectl create job --namespace mlflow --from=cronjob/batch-adhoc batch-adhoc-$(date +%Y%m%d%H%M%S)",
                input: "s3://inputs/rows.csv",
                output: "s3://outputs/preds",
            },
        ]);
    });

    it("explicit values reach the CronJob: model, alias, limits, tracking credentials", async () => {
        const x = await renderBatch({
            ...BASE,
            config: { ...CONFIG, profiles: [{ name: "nightly" }], registeredModel: "OtherModel", alias: "champion", activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 60, backoffLimit: 3 },
            tracking: { ...BASE.tracking, credentialsSecretName: "mlflow-tracking-credentials" },
        });
        const o = x.kubernetes[0] as Json;
        const env = envOf(o);
        assert.equal(env.REGISTERED_MODEL_NAME, "OtherModel");
        assert.equal(env.BATCH_ALIAS, "champion");
        assert.deepEqual(env.MLFLOW_TRACKING_PASSWORD, { secretKeyRef: { name: "mlflow-tracking-credentials", key: "password" } });
        assert.deepEqual([o.spec.jobTemplate.spec.activeDeadlineSeconds, o.spec.jobTemplate.spec.ttlSecondsAfterFinished, o.spec.jobTemplate.spec.backoffLimit], [600, 60, 3]);
    });

    it("no profiles: nothing but the component, no image needed; profiles without an image, or twice the same name, are refused", async () => {
        const empty = await renderBatch({ ...BASE, image: undefined, config: { ...CONFIG, profiles: [] } });
        assert.deepEqual(empty.kubernetes, []);
        assert.deepEqual(empty.outputs.templates, []);
        await assert.rejects(renderBatch({ ...BASE, image: undefined }), /BatchJobs: image is required when profiles are set/);
        await assert.rejects(renderBatch({ ...BASE, config: { ...CONFIG, profiles: [{ name: "a" }, { name: "a" }] } }), /BatchJobs: profile "a" appears twice/);
    });
});
