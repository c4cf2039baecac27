import * as assert from "node:assert/strict";
import { GarbageCollection, type GarbageCollectionArgs } from "../../components/garbage-collection";
import { parseConfig } from "../../config";
import { renderStack, type KubernetesObject, type RenderResult } from "../../lib/render";
import { containerSecurityContext, podSecurityContext, TMP_MOUNT, TMP_VOLUME } from "../../manifests/common";
import { GC_CRONJOB, gcCommand, gcCronJob, gcEnv, olderThanMillis, type GcSpec } from "../../manifests/gc";
import { OLDER_THAN_PATTERN, SCHEDULE_PATTERN } from "../../lib/terms";
import { postgresNetworkPolicy } from "../../manifests/postgres";
import { BACKEND_URI_KEY } from "../../manifests/tracking-server";
import { afterDatabase, DB_CLIENT_LABEL } from "../../manifests/postgres";
import { evaluate, RULES, type NormalizedResource } from "../../policy/rules";
import { validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";

const cfg = parseConfig({}, "test");
const SPEC: GcSpec = {
    namespace: "mlflow",
    image: "mlflow@sha256:abc",
    serviceAccountName: "mlflow",
    resources: cfg.trackingServer.resources,
    activeDeadlineSeconds: 3600,
    ttlSecondsAfterFinished: 604_800,
    schedule: "17 3 * * *",
    olderThan: "30d",
    backendStoreSecretName: "mlflow-backend-store",
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    backoffLimit: 1,
};

interface Env {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
    name: string;
    image: string;
    command: string[];
    args?: string[];
    env: Env[];
    securityContext: unknown;
    volumeMounts: unknown[];
}
/** The plain-data view of the builder's output that the tests read (the builder's inputs are plain here). */
interface CronJobView {
    metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
    spec: {
        suspend: boolean;
        schedule: string;
        concurrencyPolicy: string;
        jobTemplate: {
            spec: {
                backoffLimit: number;
                activeDeadlineSeconds: number;
                ttlSecondsAfterFinished: number;
                template: {
                    metadata: { labels: Record<string, string> };
                    spec: {
                        serviceAccountName: string;
                        automountServiceAccountToken: boolean;
                        restartPolicy: string;
                        securityContext: unknown;
                        volumes: unknown[];
                        containers: Container[];
                    };
                };
            };
        };
    };
}
const view = (spec: GcSpec) => gcCronJob(spec) as unknown as CronJobView;
const pod = (spec: GcSpec) => view(spec).spec.jobTemplate.spec.template;
const container = (spec: GcSpec) => pod(spec).spec.containers[0]!;
const envOf = (spec: GcSpec) => Object.fromEntries(container(spec).env.map((e) => [e.name, e]));

describe("manifests: garbage collection (mlflow-gc)", () => {
    it("is a valid batch/v1 CronJob mlflow-gc on its schedule, not suspended, never two at once", () => {
        validateKubernetesObject(gcCronJob(SPEC) as unknown as KubernetesObject);
        const v = view(SPEC);
        assert.equal(v.metadata.name, GC_CRONJOB);
        assert.equal(v.metadata.namespace, "mlflow");
        assert.equal(v.spec.schedule, "17 3 * * *");
        assert.equal(v.spec.suspend, false);
        assert.equal(v.spec.concurrencyPolicy, "Forbid");
        assert.equal(v.metadata.annotations["mlflow-platform/older-than"], "30d");
        const job = v.spec.jobTemplate.spec;
        assert.deepEqual([job.backoffLimit, job.activeDeadlineSeconds, job.ttlSecondsAfterFinished], [1, 3600, 604_800]);
    });

    it("runs `mlflow gc --older-than <olderThan>` with no shell and no URI in its arguments", () => {
        const c = container(SPEC);
        assert.deepEqual(c.command, afterDatabase("MLFLOW_TRACKING_URI", ["mlflow", "gc", "--older-than", "30d"]), "mlflow gc once the database accepts the pod (no shell)");
        assert.deepEqual(gcCommand("1d12h"), ["mlflow", "gc", "--older-than", "1d12h"]);
        assert.equal(c.args, undefined);
        assert.equal(c.image, "mlflow@sha256:abc");
        // The wait's Python is a constant (afterDatabase): no URI reaches an argument.
        assert.ok(!c.command.slice(3).some((a) => /postgres|backend-store|\$/.test(a)), c.command.join(" "));
        assert.ok(!c.command.includes("--artifacts-destination"), "direct S3 artifacts need no mapping");
    });

    it("env: the backend store as MLFLOW_TRACKING_URI from the tracking server's Secret, HOME=/tmp, the tracking server's AWS env", () => {
        const env = envOf(SPEC);
        assert.deepEqual(env.MLFLOW_TRACKING_URI, { name: "MLFLOW_TRACKING_URI", valueFrom: { secretKeyRef: { name: "mlflow-backend-store", key: BACKEND_URI_KEY } } });
        assert.equal(env.HOME?.value, "/tmp");
        assert.deepEqual(env.AWS_ACCESS_KEY_ID, { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_ACCESS_KEY_ID" } } });
        assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_SECRET_ACCESS_KEY" } } });
        assert.equal(env.AWS_REGION?.value, "eu-west-1");
        assert.ok(!("MLFLOW_S3_ENDPOINT_URL" in env), "AWS S3: no endpoint override");
        // every value is either a Secret reference or a known literal
        for (const e of container(SPEC).env) assert.ok(e.valueFrom !== undefined || ["HOME", "AWS_REGION", "AWS_DEFAULT_REGION", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"].includes(e.name), e.name);
    });

    it("MinIO (local stack): the endpoint reaches boto3 as MLFLOW_S3_ENDPOINT_URL; IRSA: no keys, the projected token", () => {
        const minio = envOf({ ...SPEC, aws: { keysSecretName: "k", region: "us-east-1", s3Endpoint: "http://minio.mlflow.svc.cluster.local:9000" } });
        assert.equal(minio.MLFLOW_S3_ENDPOINT_URL?.value, "http://minio.mlflow.svc.cluster.local:9000");
        assert.equal(pod(SPEC).spec.automountServiceAccountToken, false, "static keys: no token");
        const irsa: GcSpec = { ...SPEC, aws: { region: "eu-west-1" } };
        assert.ok(!(gcEnv(irsa) as unknown as Env[]).some((e) => e.name.startsWith("AWS_ACCESS") || e.name.startsWith("AWS_SECRET")));
        assert.equal(pod(irsa).spec.automountServiceAccountToken, true);
        validateKubernetesObject(gcCronJob(irsa) as unknown as KubernetesObject);
    });

    it("pod: the tracking server's ServiceAccount, restricted security, read-only root with /tmp an emptyDir", () => {
        const p = pod(SPEC).spec;
        assert.equal(p.serviceAccountName, "mlflow");
        assert.equal(p.restartPolicy, "Never");
        assert.deepEqual(p.securityContext, podSecurityContext());
        assert.deepEqual(container(SPEC).securityContext, containerSecurityContext());
        assert.deepEqual(p.volumes, [TMP_VOLUME]);
        assert.deepEqual(container(SPEC).volumeMounts, [TMP_MOUNT]);
    });

    it("the pod is a database client: the in-cluster PostgreSQL NetworkPolicy admits it", () => {
        const labels = pod(SPEC).metadata.labels;
        assert.equal(labels[DB_CLIENT_LABEL], "true");
        const np = postgresNetworkPolicy("mlflow") as unknown as { spec: { ingress: Array<{ from: Array<{ podSelector?: { matchLabels?: Record<string, string> } }> }> } };
        const admitted = np.spec.ingress.some((rule) => rule.from.some((f) => Object.entries(f.podSelector?.matchLabels ?? { none: "" }).every(([k, val]) => labels[k] === val)));
        assert.ok(admitted, JSON.stringify(labels));
    });

    it("the policy pack's resource rules pass the CronJob", () => {
        const r: NormalizedResource = { type: "kubernetes:batch/v1:CronJob", name: "gc", inputs: gcCronJob({ ...SPEC, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow@sha256:" + "a".repeat(64) }) as unknown as Record<string, unknown> };
        const findings = evaluate([r], { stack: "prod", artifactAuth: "staticKeys" }, RULES.filter((x) => x.scope === "resource"));
        assert.deepEqual(findings, []);
    });

    it("no Secret value in the manifest: a URI with a password never appears", () => {
        const text = JSON.stringify(gcCronJob(SPEC));
        assert.doesNotMatch(text, /postgres(ql)?:\/\//);
        assert.doesNotMatch(text, /password/i);
    });

    describe("olderThan", () => {
        it("accepts d/h/m/s retentions in order, and converts them as mlflow gc does", () => {
            for (const ok of ["30d", "12h", "90m", "45s", "1d12h", "1d2h3m4s", "0d1h", "365d"]) assert.ok(OLDER_THAN_PATTERN.test(ok), ok);
            assert.equal(olderThanMillis("30d"), 30 * 86_400_000);
            assert.equal(olderThanMillis("1d2h3m4s"), 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4000);
        });

        it("refuses empty (mlflow gc reads it as no age limit), zero, fractions, other units and a wrong order", () => {
            for (const bad of ["", "0d", "0h0m", "1.5d", "30", "2w", "1h1d", "30 d", "-1d", "30D"]) {
                assert.ok(!OLDER_THAN_PATTERN.test(bad), JSON.stringify(bad));
                assert.throws(() => gcCronJob({ ...SPEC, olderThan: bad }), /olderThan must be a retention such as "30d"/, JSON.stringify(bad));
            }
        });
    });

    it("refuses a schedule that is no cron expression and a backoffLimit out of 0-5", () => {
        for (const ok of ["@daily", "0 3 * * *", "*/30 * * * *"]) assert.ok(SCHEDULE_PATTERN.test(ok), ok);
        assert.throws(() => gcCronJob({ ...SPEC, schedule: "daily" }), /schedule must be a cron expression/);
        assert.throws(() => gcCronJob({ ...SPEC, schedule: "" }), /schedule/);
        assert.throws(() => gcCronJob({ ...SPEC, backoffLimit: 9 }), /backoffLimit/);
        assert.throws(() => gcCronJob({ ...SPEC, backoffLimit: 0.5 }), /backoffLimit/);
    });
});

describe("GarbageCollection component (Pulumi mocks)", () => {
    const ARGS: GarbageCollectionArgs = {
        namespace: "mlflow",
        config: { ...cfg.gc, resources: cfg.trackingServer.resources },
        image: "mlflow@sha256:abc",
        backendStoreSecretName: "mlflow-backend-store",
        aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    };
    let r: RenderResult;
    before(async () => {
        r = await renderStack({
            root: ROOT,
            stack: "dev",
            program: async () => {
                const gc = new GarbageCollection("gc", ARGS);
                return { cronJob: gc.cronJob, command: gc.command, schedule: gc.schedule };
            },
        });
    });

    it("one CronJob, child of the component, with the defaults; outputs cronJob, command and schedule", () => {
        assert.ok(r.resources.find((x) => x.type === "mlflow-platform:gc:GarbageCollection"), "component registered");
        const cjs = r.resources.filter((x) => x.type.startsWith("kubernetes:"));
        assert.deepEqual(cjs.map((x) => x.type), ["kubernetes:batch/v1:CronJob"]);
        assert.equal(cjs[0]!.parent, "mlflow-platform:gc:GarbageCollection::gc");
        assert.deepEqual(r.outputs, { cronJob: "mlflow-gc", command: "mlflow gc --older-than 30d", schedule: "17 3 * * *" });
        const obj = r.kubernetes.find((o) => o.kind === "CronJob" && o.metadata.name === "mlflow-gc");
        assert.ok(obj);
        validateKubernetesObject(obj);
        const v = obj as unknown as CronJobView;
        assert.equal(v.spec.suspend, false);
        assert.equal(v.spec.jobTemplate.spec.backoffLimit, 1);
        assert.equal(v.spec.jobTemplate.spec.template.spec.serviceAccountName, "mlflow");
    });
});
