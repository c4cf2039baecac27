import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { parseConfig } from "../../config";
import {
    BATCH_COMMAND,
    BATCH_PERMANENT_EXIT_CODES,
    batchCronJob,
    batchEnv,
    batchLaunchCommand,
    batchPaths,
    BatchSpec,
    JOB_NAME_LABEL,
    MAX_BATCH_PROFILE_NAME,
} from "../../manifests/batch";
import { containerSecurityContext, labels, normalizeArtifactRoot, podSecurityContext, TMP_MOUNT, TMP_VOLUME } from "../../manifests/common";
import { templateCronJob } from "../../manifests/job-template";
import { launchCommand, trainingCronJob, trainingEnv, trainingJobName, TRAINING_COMPONENT } from "../../manifests/training";
import type { KubernetesObject } from "../../lib/render";
import { validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";

const cfg = parseConfig({}, "test");
const SPEC: BatchSpec = {
    namespace: "mlflow",
    image: "trainer:1",
    trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
    registeredModel: "CaliforniaHousingRegressor",
    alias: "production",
    artifactRoot: "s3://mlflow-artifacts-dev",
    serviceAccountName: "mlflow-training",
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    resources: cfg.batch.resources,
    activeDeadlineSeconds: cfg.batch.activeDeadlineSeconds,
    ttlSecondsAfterFinished: cfg.batch.ttlSecondsAfterFinished,
    backoffLimit: cfg.batch.backoffLimit,
};
const NIGHTLY = { name: "nightly" };
const TRAINING_SPEC = {
    namespace: "mlflow",
    image: "trainer:1",
    trackingUri: "http://t",
    experiment: "e",
    registeredModel: "m",
    datasetS3Path: "s3://b/d.csv",
    serviceAccountName: "mlflow-training",
    aws: { keysSecretName: "k", region: "eu-west-1" },
    resources: cfg.training.resources,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 60,
    backoffLimit: 1,
};

type EnvVar = k8s.types.input.core.v1.EnvVar;
/** Walking plain builder output (every value is a plain string/number here: no Output in SPEC). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plain = (v: unknown): any => v;
const podOf = (cj: k8s.types.input.batch.v1.CronJob) => plain(cj).spec.jobTemplate.spec.template.spec;
const envOf = (vars: EnvVar[]) => Object.fromEntries(vars.map((e) => [e.name, e.value ?? e.valueFrom]));

describe("manifests: batch inference", () => {
    it("env: the script's contract, with default paths under <artifact root>/batch/<profile>/", () => {
        const env = envOf(batchEnv(SPEC, NIGHTLY));
        assert.equal(env.MLFLOW_TRACKING_URI, SPEC.trackingUri);
        assert.equal(env.REGISTERED_MODEL_NAME, "CaliforniaHousingRegressor");
        assert.equal(env.BATCH_ALIAS, "production");
        assert.equal(env.BATCH_PROFILE, "nightly");
        assert.equal(env.BATCH_INPUT_S3_PATH, "s3://mlflow-artifacts-dev/batch/nightly/input.csv");
        assert.equal(env.BATCH_OUTPUT_S3_PREFIX, "s3://mlflow-artifacts-dev/batch/nightly/predictions");
        assert.deepEqual(env.BATCH_RUN_ID, { fieldRef: { fieldPath: `metadata.labels['${JOB_NAME_LABEL}']` } });
        assert.equal(env.HOME, "/tmp");
        assert.deepEqual(env.AWS_ACCESS_KEY_ID, { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_ACCESS_KEY_ID" } });
        assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_SECRET_ACCESS_KEY" } });
        assert.equal(env.AWS_REGION, "eu-west-1");
        assert.ok(!("MLFLOW_TRACKING_USERNAME" in env), "no tracking credentials without their Secret");
        assert.ok(!("AWS_ENDPOINT_URL_S3" in env), "no endpoint override on AWS S3");
        assert.equal(batchEnv(SPEC, NIGHTLY).length, new Set(batchEnv(SPEC, NIGHTLY).map((e) => e.name)).size, "each name once");
    });

    it("env: a profile's own paths win; a root with a prefix and trailing slashes; endpoint and tracking credentials", () => {
        const own = envOf(batchEnv(SPEC, { name: "q", inputS3Path: "s3://in-bucket/x/rows.csv", outputS3Prefix: "s3://out-bucket/y" }));
        assert.equal(own.BATCH_INPUT_S3_PATH, "s3://in-bucket/x/rows.csv");
        assert.equal(own.BATCH_OUTPUT_S3_PREFIX, "s3://out-bucket/y");
        assert.deepEqual(batchPaths("s3://bkt/mlflow//", NIGHTLY), { input: "s3://bkt/mlflow/batch/nightly/input.csv", output: "s3://bkt/mlflow/batch/nightly/predictions" });
        const local = envOf(batchEnv({ ...SPEC, aws: { keysSecretName: "k", region: "us-east-1", s3Endpoint: "http://minio.mlflow.svc.cluster.local:9000" }, trackingCredentialsSecretName: "mlflow-tracking-credentials" }, NIGHTLY));
        assert.equal(local.AWS_ENDPOINT_URL_S3, "http://minio.mlflow.svc.cluster.local:9000");
        assert.equal(local.MLFLOW_S3_ENDPOINT_URL, "http://minio.mlflow.svc.cluster.local:9000");
        assert.deepEqual(local.MLFLOW_TRACKING_USERNAME, { secretKeyRef: { name: "mlflow-tracking-credentials", key: "username" } });
        assert.deepEqual(local.MLFLOW_TRACKING_PASSWORD, { secretKeyRef: { name: "mlflow-tracking-credentials", key: "password" } });
    });

    it("an artifact root that is not s3://bucket[/prefix] is refused, naming it", () => {
        for (const bad of ["mlflow-artifacts", "s3://", "s3://A_B", "gs://b/x"]) {
            assert.throws(() => batchPaths(bad, NIGHTLY), new RegExp(`artifactRoot must be an s3://<bucket>\\[/<prefix>\\] URI, got "${bad.replace(/[/.]/g, "\\$&")}"`), bad);
        }
        assert.equal(normalizeArtifactRoot("s3://bucket", "batch"), "s3://bucket");
        // a profile with both paths of its own does not need the root at all
        assert.doesNotThrow(() => batchPaths("not-a-uri", { name: "q", inputS3Path: "s3://b/i.csv", outputS3Prefix: "s3://b/o" }));
    });

    it("cronjob: a valid suspended template batch-<profile> running batch_predict.py, unless scheduled", () => {
        const cj = batchCronJob(SPEC, NIGHTLY);
        validateKubernetesObject(cj as unknown as KubernetesObject);
        const o = plain(cj);
        assert.equal(o.metadata.name, "batch-nightly");
        assert.equal(o.metadata.namespace, "mlflow");
        assert.deepEqual(o.metadata.labels, labels("batch"));
        assert.equal(o.metadata.annotations["mlflow-platform/launch"], batchLaunchCommand("mlflow", "nightly"));
        assert.equal(o.metadata.annotations["mlflow-platform/batch-output"], "s3://mlflow-artifacts-dev/batch/nightly/predictions");
        assert.equal(o.spec.suspend, true);
        assert.equal(o.spec.concurrencyPolicy, "Forbid");
        const scheduled = plain(batchCronJob(SPEC, { ...NIGHTLY, schedule: "0 3 * * *" }));
        validateKubernetesObject(scheduled as KubernetesObject);
        assert.equal(scheduled.spec.suspend, false);
        assert.equal(scheduled.spec.schedule, "0 3 * * *");
        const c = podOf(cj).containers[0];
        assert.equal(c.name, "batch");
        assert.deepEqual(c.command, ["python", "/app/batch_predict.py"]);
        assert.equal(c.args, undefined, "no args: the script takes its whole contract from env");
        assert.equal(c.image, "trainer:1");
        assert.deepEqual(c.resources, { requests: cfg.batch.resources.requests, limits: cfg.batch.resources.limits });
        assert.equal(o.spec.jobTemplate.spec.backoffLimit, cfg.batch.backoffLimit);
        assert.equal(o.spec.jobTemplate.spec.activeDeadlineSeconds, cfg.batch.activeDeadlineSeconds);
        assert.equal(o.spec.jobTemplate.spec.ttlSecondsAfterFinished, cfg.batch.ttlSecondsAfterFinished);
        assert.equal(o.spec.jobTemplate.spec.template.metadata.labels["mlflow-platform/batch-profile"], "nightly");
    });

    it("cronjob: hardened like training (security contexts, /tmp, no token with static keys), the training ServiceAccount", () => {
        const pod = podOf(batchCronJob(SPEC, NIGHTLY));
        const train = podOf(trainingCronJob(TRAINING_SPEC, { name: "baseline", params: cfg.training.profiles[0].params }));
        assert.deepEqual(pod.securityContext, podSecurityContext());
        assert.deepEqual(pod.securityContext, train.securityContext);
        assert.deepEqual(pod.containers[0].securityContext, containerSecurityContext());
        assert.deepEqual(pod.containers[0].volumeMounts, [TMP_MOUNT]);
        assert.deepEqual(pod.volumes, [TMP_VOLUME]);
        assert.equal(pod.restartPolicy, "Never");
        assert.equal(pod.serviceAccountName, "mlflow-training");
        assert.equal(pod.automountServiceAccountToken, false, "static keys: no service-account token");
        assert.equal(podOf(batchCronJob({ ...SPEC, aws: { region: "eu-west-1" } }, NIGHTLY)).automountServiceAccountToken, true, "IRSA needs the projected token");
    });

    it("cronjob: permanent failures (exit 2-5) fail the Job without a retry; evictions do not count", () => {
        const policy = plain(batchCronJob(SPEC, NIGHTLY)).spec.jobTemplate.spec.podFailurePolicy;
        assert.deepEqual(policy.rules[0], { action: "FailJob", onExitCodes: { containerName: "batch", operator: "In", values: [2, 3, 4, 5] } });
        assert.deepEqual(policy.rules[1], { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] });
        // the exit codes are the script's: its docstring lists each as permanent
        const script = fs.readFileSync(path.join(ROOT, "images", "trainer", "batch_predict.py"), "utf8");
        assert.match(script, /Exit codes \(2-5 are permanent/);
        for (const code of BATCH_PERMANENT_EXIT_CODES) assert.match(script, new RegExp(`^  ${code} `, "m"), `exit code ${code} documented`);
    });

    it("launch: kubectl create job from the template, a timestamped Job name that fits a label", () => {
        assert.equal(batchLaunchCommand("mlflow", "nightly"), "kubectl create job --namespace mlflow --from=cronjob/batch-nightly batch-nightly-$(date +%Y%m%d%H%M%S)");
        const longest = "p".repeat(MAX_BATCH_PROFILE_NAME);
        assert.equal(`batch-${longest}-20250101120000`.length, 63);
        assert.doesNotThrow(() => batchCronJob(SPEC, { name: longest }));
        assert.throws(() => batchCronJob(SPEC, { name: `${longest}p` }), /batch profile "p+": at most 42 characters/);
    });

    it("the command and env names are batch_predict.py's: the script exists where the image puts *.py, and reads each variable", () => {
        const dockerfile = fs.readFileSync(path.join(ROOT, "images", "trainer", "Dockerfile"), "utf8");
        assert.match(dockerfile, /^COPY \*\.py \/app\/$/m, "the trainer image copies every script of images/trainer to /app");
        assert.equal(BATCH_COMMAND[1], "/app/batch_predict.py");
        const script = fs.readFileSync(path.join(ROOT, "images", "trainer", path.basename(BATCH_COMMAND[1])), "utf8");
        const own = batchEnv({ ...SPEC, trackingCredentialsSecretName: "t" }, NIGHTLY)
            .map((e) => e.name as string) // the builder names every variable with a plain string
            .filter((n) => /^(BATCH_|REGISTERED_MODEL_NAME$|MLFLOW_TRACKING_URI$)/.test(n));
        assert.deepEqual(own.sort(), ["BATCH_ALIAS", "BATCH_INPUT_S3_PATH", "BATCH_OUTPUT_S3_PREFIX", "BATCH_PROFILE", "BATCH_RUN_ID", "MLFLOW_TRACKING_URI", "REGISTERED_MODEL_NAME"]);
        for (const name of own) assert.ok(script.includes(`"${name}"`), `batch_predict.py does not read ${name}`);
    });
});

describe("manifests: the shared CronJob template", () => {
    it("reproduces trainingCronJob exactly, suspended and scheduled (training can switch to it unchanged)", () => {
        const spec = TRAINING_SPEC;
        for (const profile of [{ name: "baseline", params: cfg.training.profiles[0].params }, { name: "weekly", params: cfg.training.profiles[0].params, schedule: "@weekly" }]) {
            const viaTemplate = templateCronJob({
                name: trainingJobName(profile.name),
                namespace: spec.namespace,
                component: TRAINING_COMPONENT,
                annotations: { "mlflow-platform/launch": launchCommand(spec.namespace, profile.name) },
                podLabels: { ...labels(TRAINING_COMPONENT, "trainer"), "mlflow-platform/training-profile": profile.name },
                schedule: profile.schedule,
                backoffLimit: spec.backoffLimit,
                activeDeadlineSeconds: spec.activeDeadlineSeconds,
                ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
                serviceAccountName: spec.serviceAccountName,
                automountServiceAccountToken: false,
                container: { name: "trainer", image: spec.image, env: trainingEnv(spec, profile), resources: spec.resources },
            });
            assert.deepStrictEqual(viaTemplate, trainingCronJob(spec, profile), profile.name);
        }
    });
});
