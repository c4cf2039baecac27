import * as assert from "node:assert/strict";
import { PromotionJob, type PromotionJobArgs } from "../../components/promotion-job";
import { parseConfig } from "../../config";
import { containerSecurityContext, labels, podSecurityContext, TMP_MOUNT, TMP_VOLUME } from "../../manifests/common";
import { forcedPromotionLaunchCommand, promotionCronJob, promotionEnv, promotionLaunchCommand, type PromotionSpec } from "../../manifests/promotion";
import { renderStack, type KubernetesObject, type RenderResult } from "../../lib/render";
import { validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";

const cfg = parseConfig({}, "test");
const SPEC: PromotionSpec = {
    namespace: "mlflow",
    image: "trainer@sha256:abc",
    trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
    registeredModel: "CaliforniaHousingRegressor",
    alias: "production",
    metric: "test_rmse",
    maxRegression: 0.02,
    serviceAccountName: "mlflow-training",
    resources: cfg.training.resources,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 86400,
};

interface Env {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
/** The plain-data view of the builder's output that the tests read (the builder's inputs are plain here). */
interface CronJobView {
    metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
    spec: {
        suspend: boolean;
        schedule: string;
        jobTemplate: {
            spec: {
                backoffLimit: number;
                template: {
                    spec: {
                        serviceAccountName: string;
                        automountServiceAccountToken: boolean;
                        restartPolicy: string;
                        securityContext: unknown;
                        volumes: unknown[];
                        containers: Array<{ name: string; image: string; command: string[]; args?: string[]; env: Env[]; securityContext: unknown; volumeMounts: unknown[] }>;
                    };
                };
            };
        };
    };
}
const view = (spec: PromotionSpec) => promotionCronJob(spec) as unknown as CronJobView;
const envOf = (spec: PromotionSpec) => Object.fromEntries(promotionEnv(spec).map((e) => [e.name, e as Env]));

describe("manifests: promotion template", () => {
    it("is a valid batch/v1 CronJob named promote, suspended", () => {
        const cj = promotionCronJob(SPEC);
        validateKubernetesObject(cj as unknown as KubernetesObject);
        const v = view(SPEC);
        assert.equal(v.metadata.name, "promote");
        assert.equal(v.metadata.namespace, "mlflow");
        assert.equal(v.spec.suspend, true);
        assert.deepEqual(v.metadata.labels, labels("promotion"));
    });

    it("the launch command: render the Job, set PROMOTE_VERSION with kubectl set env --local, create it", () => {
        assert.equal(
            promotionLaunchCommand("mlflow"),
            "kubectl create job --namespace mlflow --from=cronjob/promote promote-<version>-$(date +%s) --dry-run=client -o yaml | kubectl set env --local -f - PROMOTE_VERSION=<version> -o yaml | kubectl create -f -",
        );
        assert.equal(view(SPEC).metadata.annotations["mlflow-platform/launch"], promotionLaunchCommand("mlflow"));
        const forced = view(SPEC).metadata.annotations["mlflow-platform/launch-forced"];
        assert.equal(forced, forcedPromotionLaunchCommand("mlflow"));
        assert.match(forced ?? "", /kubectl set env --local -f - PROMOTE_VERSION=<version> PROMOTE_FORCE=true 'PROMOTE_REASON=<why the gate is overridden>' -o yaml \| kubectl create -f -$/);
        assert.match(promotionLaunchCommand("ml", "4"), /--from=cronjob\/promote promote-4-\$\(date \+%s\) .* PROMOTE_VERSION=4 -o yaml/);
    });

    it("runs promote.py (the image's entrypoint is train.py): command set, no args", () => {
        const c = view(SPEC).spec.jobTemplate.spec.template.spec.containers[0]!;
        assert.deepEqual(c.command, ["python", "/app/promote.py"]);
        assert.equal(c.args, undefined);
        assert.equal(c.image, "trainer@sha256:abc");
    });

    it("env: the promote.py contract, no PROMOTE_VERSION (set per Job), no AWS", () => {
        const env = envOf(SPEC);
        assert.equal(env.MLFLOW_TRACKING_URI?.value, SPEC.trackingUri);
        assert.equal(env.REGISTERED_MODEL_NAME?.value, "CaliforniaHousingRegressor");
        assert.equal(env.PROMOTION_ALIAS?.value, "production");
        assert.equal(env.PROMOTION_METRIC?.value, "test_rmse");
        assert.equal(env.PROMOTION_MAX_REGRESSION?.value, "0.02");
        for (const absent of ["PROMOTE_VERSION", "PROMOTE_FORCE", "PROMOTE_REASON", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]) assert.ok(!(absent in env), absent);
        assert.deepEqual(Object.keys(env).filter((k) => k.startsWith("AWS_") || k.includes("S3")), []);
    });

    it("basic auth: username and password from the Secret, never values", () => {
        const env = envOf({ ...SPEC, trackingCredentialsSecretName: "mlflow-training-auth" });
        assert.deepEqual(env.MLFLOW_TRACKING_USERNAME, { name: "MLFLOW_TRACKING_USERNAME", valueFrom: { secretKeyRef: { name: "mlflow-training-auth", key: "username" } } });
        assert.deepEqual(env.MLFLOW_TRACKING_PASSWORD, { name: "MLFLOW_TRACKING_PASSWORD", valueFrom: { secretKeyRef: { name: "mlflow-training-auth", key: "password" } } });
        validateKubernetesObject(promotionCronJob({ ...SPEC, trackingCredentialsSecretName: "s" }) as unknown as KubernetesObject);
    });

    it("pod: mlflow-training, no service-account token, restricted security, /tmp volume, no retry", () => {
        const job = view(SPEC).spec.jobTemplate.spec;
        const pod = job.template.spec;
        assert.equal(pod.serviceAccountName, "mlflow-training");
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.restartPolicy, "Never");
        assert.deepEqual(pod.securityContext, podSecurityContext());
        assert.deepEqual(pod.containers[0]!.securityContext, containerSecurityContext());
        assert.deepEqual(pod.volumes, [TMP_VOLUME]);
        assert.deepEqual(pod.containers[0]!.volumeMounts, [TMP_MOUNT]);
        assert.equal(job.backoffLimit, 0);
    });

    it("a negative maxRegression is refused", () => {
        assert.throws(() => promotionCronJob({ ...SPEC, maxRegression: -0.1 }), /maxRegression must be a number >= 0/);
        assert.throws(() => promotionCronJob({ ...SPEC, maxRegression: NaN }), /maxRegression/);
    });
});

describe("PromotionJob component (Pulumi mocks)", () => {
    const ARGS: PromotionJobArgs = { namespace: "mlflow", config: { ...cfg.promotion, resources: cfg.training.resources }, registeredModel: cfg.training.registeredModel, image: "trainer@sha256:abc", tracking: { uri: SPEC.trackingUri as string } };
    let r: RenderResult;
    before(async () => {
        r = await renderStack({
            root: ROOT,
            stack: "dev",
            program: async () => {
                const p = new PromotionJob("promotion", ARGS);
                return { cronJob: p.cronJob, launch: p.launch };
            },
        });
    });

    it("one CronJob, child of the component, with the defaults; outputs cronJob and launch", () => {
        const component = r.resources.find((x) => x.type === "mlflow-platform:promotion:PromotionJob");
        assert.ok(component, "component registered");
        const cjs = r.resources.filter((x) => x.type === "kubernetes:batch/v1:CronJob");
        assert.equal(cjs.length, 1);
        assert.equal(cjs[0]!.parent, "mlflow-platform:promotion:PromotionJob::promotion");
        assert.equal(r.outputs.cronJob, "promote");
        assert.equal(r.outputs.launch, promotionLaunchCommand("mlflow"));
        const obj = r.kubernetes.find((o) => o.kind === "CronJob" && o.metadata.name === "promote");
        assert.ok(obj);
        validateKubernetesObject(obj);
        const env = (obj as unknown as CronJobView).spec.jobTemplate.spec.template.spec.containers[0]!.env;
        const byName = Object.fromEntries(env.map((e) => [e.name, e.value]));
        assert.deepEqual(
            [byName.REGISTERED_MODEL_NAME, byName.PROMOTION_ALIAS, byName.PROMOTION_METRIC, byName.PROMOTION_MAX_REGRESSION],
            ["CaliforniaHousingRegressor", "production", "test_rmse", "0"],
        );
    });
});
