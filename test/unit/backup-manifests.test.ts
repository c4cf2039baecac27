import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AUTH_DATABASE } from "../../components/access";
import { ArtifactStore } from "../../components/artifact-store";
import { DatabaseBackup, type DatabaseBackupArgs } from "../../components/database-backup";
import { parseConfig } from "../../config";
import { postgresNetworkPolicy } from "../../manifests/postgres";
import {
    BACKUP_COMPONENT,
    BACKUP_DIR,
    BACKUP_NAME,
    BACKUP_PREFIX,
    BACKUP_TIME_ZONE,
    backupCronJob,
    backupDatabases,
    backupEncryption,
    backupLaunchCommand,
    backupPrefix,
    type BackupSpec,
    DEFAULT_BACKUP_SCHEDULE,
    DUMP_COMMAND,
    DUMP_SCRIPT,
    dumpEnv,
    UPLOAD_COMMAND,
    UPLOAD_SCRIPT,
    uploadEnv,
} from "../../manifests/backup";
import { containerSecurityContext, labels, podSecurityContext, TMP_MOUNT, TMP_VOLUME } from "../../manifests/common";
import { postgresHost } from "../../manifests/postgres";
import { DB_CLIENT_LABEL } from "../../manifests/postgres";
import { renderStack, type KubernetesObject, type RenderResult } from "../../lib/render";
import { validateKubernetesObject } from "../support/k8s-validate";
import { allStrings, ROOT } from "../support/render";

const RESOURCES = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } };
const SPEC: BackupSpec = {
    namespace: "mlflow",
    schedule: "17 3 * * *",
    postgresImage: "postgres:16.10",
    uploaderImage: "registry.example.com/mlflow@sha256:0123",
    host: postgresHost("mlflow"),
    username: "mlflow",
    passwordSecretName: "postgres-credentials",
    databases: ["mlflow"],
    artifactRoot: "s3://mlflow-artifacts-dev",
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    encryption: { algorithm: "AES256" },
    serviceAccountName: "mlflow-training",
    resources: RESOURCES,
    activeDeadlineSeconds: 3600,
    backoffLimit: 2,
    workDirSize: "20Gi",
};

type EnvVar = k8s.types.input.core.v1.EnvVar;
/** Walking plain builder output (every value is a plain string/number here: no Output in SPEC). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plain = (v: unknown): any => v;
const podOf = (cj: k8s.types.input.batch.v1.CronJob) => plain(cj).spec.jobTemplate.spec.template.spec;
const envOf = (vars: EnvVar[]) => Object.fromEntries(vars.map((e) => [e.name, e.value ?? e.valueFrom]));

describe("manifests: database backup CronJob", () => {
    it("a valid, scheduled (not suspended) CronJob mlflow-db-backup, UTC, one run at a time, history kept", () => {
        const cj = backupCronJob(SPEC);
        validateKubernetesObject(cj as unknown as KubernetesObject);
        const o = plain(cj);
        assert.equal(o.metadata.name, BACKUP_NAME);
        assert.equal(o.metadata.name, "mlflow-db-backup");
        assert.equal(o.metadata.namespace, "mlflow");
        assert.deepEqual(o.metadata.labels, labels(BACKUP_COMPONENT));
        assert.equal(o.metadata.annotations["mlflow-platform/launch"], "kubectl create job --namespace mlflow --from=cronjob/mlflow-db-backup mlflow-db-backup-$(date +%Y%m%d%H%M%S)");
        assert.equal(o.metadata.annotations["mlflow-platform/backup-prefix"], "s3://mlflow-artifacts-dev/backups");
        assert.equal(o.spec.schedule, "17 3 * * *");
        assert.equal(o.spec.suspend, false);
        assert.equal(o.spec.timeZone, BACKUP_TIME_ZONE);
        assert.equal(o.spec.concurrencyPolicy, "Forbid");
        assert.equal(o.spec.failedJobsHistoryLimit, 3, "failed backups stay visible");
        assert.equal(o.spec.jobTemplate.spec.backoffLimit, 2);
        assert.equal(o.spec.jobTemplate.spec.activeDeadlineSeconds, 3600);
        assert.equal(plain(backupCronJob({ ...SPEC, schedule: "0 */6 * * *" })).spec.schedule, "0 */6 * * *");
        assert.equal(DEFAULT_BACKUP_SCHEDULE, "17 3 * * *");
    });

    it("pod: pg_dump in the postgres image (init container), then the upload in the MLflow image, sharing an emptyDir", () => {
        const pod = podOf(backupCronJob(SPEC));
        assert.equal(pod.restartPolicy, "Never");
        assert.equal(pod.initContainers.length, 1);
        assert.equal(pod.containers.length, 1);
        const [dump] = pod.initContainers;
        const [upload] = pod.containers;
        assert.equal(dump.name, "dump");
        assert.equal(dump.image, "postgres:16.10");
        assert.deepEqual(dump.command, [...DUMP_COMMAND]);
        assert.deepEqual(dump.command, ["bash", "-c", DUMP_SCRIPT]);
        assert.equal(upload.name, "upload");
        assert.equal(upload.image, "registry.example.com/mlflow@sha256:0123");
        assert.deepEqual(upload.command, ["python", "-c", UPLOAD_SCRIPT]);
        assert.deepEqual(upload.command, [...UPLOAD_COMMAND]);
        for (const c of [dump, upload]) {
            assert.equal(c.args, undefined, c.name);
            assert.deepEqual(c.volumeMounts, [{ name: "backup", mountPath: BACKUP_DIR }, TMP_MOUNT], c.name);
            assert.deepEqual(c.resources, RESOURCES, c.name);
        }
        assert.deepEqual(pod.volumes, [{ name: "backup", emptyDir: { sizeLimit: "20Gi" } }, TMP_VOLUME]);
    });

    it("restricted pod security: non-root, RuntimeDefault seccomp, no escalation, no capabilities, read-only root", () => {
        const pod = podOf(backupCronJob(SPEC));
        assert.deepEqual(pod.securityContext, podSecurityContext());
        for (const c of [...pod.initContainers, ...pod.containers]) {
            assert.deepEqual(c.securityContext, containerSecurityContext(), c.name);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        }
        // the only writable paths are emptyDirs
        const volumes = new Map<string, { emptyDir?: unknown }>(pod.volumes.map((v: { name: string; emptyDir?: unknown }) => [v.name, v]));
        for (const c of [...pod.initContainers, ...pod.containers]) {
            for (const m of c.volumeMounts) assert.ok(volumes.get(m.name)?.emptyDir, `${c.name}: ${m.mountPath} is an emptyDir`);
        }
    });

    it("dump env: libpq connection to the in-cluster server, the password only from the Secret, only in the dump container", () => {
        const pod = podOf(backupCronJob(SPEC));
        const dump = envOf(pod.initContainers[0].env);
        const upload = envOf(pod.containers[0].env);
        assert.equal(dump.PGHOST, "postgres.mlflow.svc.cluster.local");
        assert.equal(dump.PGPORT, "5432");
        assert.equal(dump.PGUSER, "mlflow");
        assert.deepEqual(dump.PGPASSWORD, { secretKeyRef: { name: "postgres-credentials", key: "password" } });
        assert.equal(dump.BACKUP_DATABASES, "mlflow");
        assert.equal(dump.BACKUP_DIR, "/backup");
        assert.ok(!("PGPASSWORD" in upload), "the uploader never sees the database password");
        assert.ok(!Object.keys(dump).some((k) => k.startsWith("AWS_")), "the dump step never sees AWS credentials");
        assert.deepEqual(envOf(dumpEnv({ ...SPEC, port: 6432, passwordSecretKey: "pw" })).PGPORT, "6432");
        assert.deepEqual(envOf(dumpEnv({ ...SPEC, passwordSecretKey: "pw" })).PGPASSWORD, { secretKeyRef: { name: "postgres-credentials", key: "pw" } });
        const text = JSON.stringify(backupCronJob(SPEC));
        assert.ok(!/postgresql:\/\/[^"]*:[^"]*@/.test(text), "no URL with a password");
        for (const s of allStrings(plain(backupCronJob(SPEC)))) assert.ok(!/password\s*=/i.test(s) || s === DUMP_SCRIPT, "no literal password");
    });

    it("upload env: <root>/backups, SSE, the artifact credentials of the pod (static keys Secret)", () => {
        const upload = envOf(uploadEnv(SPEC));
        assert.equal(upload.BACKUP_S3_PREFIX, "s3://mlflow-artifacts-dev/backups");
        assert.equal(upload.BACKUP_SSE, "AES256");
        assert.ok(!("BACKUP_SSE_KMS_KEY_ID" in upload));
        assert.equal(upload.BACKUP_DATABASES, "mlflow");
        assert.deepEqual(upload.AWS_ACCESS_KEY_ID, { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_ACCESS_KEY_ID" } });
        assert.deepEqual(upload.AWS_SECRET_ACCESS_KEY, { secretKeyRef: { name: "mlflow-aws-credentials", key: "AWS_SECRET_ACCESS_KEY" } });
        assert.equal(upload.AWS_REGION, "eu-west-1");
        assert.ok(!("AWS_ENDPOINT_URL_S3" in upload));
        const pod = podOf(backupCronJob(SPEC));
        assert.equal(pod.serviceAccountName, "mlflow-training");
        assert.equal(pod.automountServiceAccountToken, false, "static keys: no service-account token");
        assert.equal(uploadEnv(SPEC).length, new Set(uploadEnv(SPEC).map((e) => e.name)).size, "each name once");
    });

    it("IRSA: no keys in any env, the ServiceAccount's token mounted for the web identity; MinIO: the endpoint", () => {
        const irsa = { ...SPEC, aws: { region: "eu-west-1" } };
        const pod = podOf(backupCronJob(irsa));
        for (const c of [...pod.initContainers, ...pod.containers]) {
            for (const e of c.env as EnvVar[]) assert.ok(!/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)$/.test(String(e.name)), `${c.name}: ${e.name}`);
        }
        assert.equal(pod.automountServiceAccountToken, true);
        const minio = envOf(uploadEnv({ ...SPEC, aws: { keysSecretName: "k", region: "us-east-1", s3Endpoint: "http://minio.mlflow.svc.cluster.local:9000" }, encryption: { algorithm: "none" } }));
        assert.equal(minio.AWS_ENDPOINT_URL_S3, "http://minio.mlflow.svc.cluster.local:9000");
        assert.equal(minio.BACKUP_SSE, "none");
    });

    it("encryption: SSE-S3 by default, SSE-KMS with the bucket's key, none only when asked; a key with another algorithm is refused", () => {
        assert.deepEqual(backupEncryption(), { algorithm: "AES256" });
        assert.deepEqual(backupEncryption(undefined, "arn:aws:kms:eu-west-1:1:key/k"), { algorithm: "aws:kms", kmsKeyId: "arn:aws:kms:eu-west-1:1:key/k" });
        assert.deepEqual(backupEncryption("aws:kms"), { algorithm: "aws:kms", kmsKeyId: undefined });
        assert.deepEqual(backupEncryption("none"), { algorithm: "none" });
        assert.throws(() => backupEncryption("AES256", "arn:aws:kms:eu-west-1:1:key/k"), /a KMS key is set but server-side encryption is AES256/);
        const kms = envOf(uploadEnv({ ...SPEC, encryption: backupEncryption(undefined, "arn:aws:kms:eu-west-1:1:key/k") }));
        assert.equal(kms.BACKUP_SSE, "aws:kms");
        assert.equal(kms.BACKUP_SSE_KMS_KEY_ID, "arn:aws:kms:eu-west-1:1:key/k");
    });

    it("basic auth on: the auth app's database is dumped after MLflow's", () => {
        assert.deepEqual(backupDatabases("mlflow"), ["mlflow"]);
        assert.deepEqual(backupDatabases("mlflow", AUTH_DATABASE), ["mlflow", "mlflow_auth"]);
        const cj = backupCronJob({ ...SPEC, databases: backupDatabases("mlflow", AUTH_DATABASE) });
        assert.equal(envOf(podOf(cj).initContainers[0].env).BACKUP_DATABASES, "mlflow mlflow_auth");
        assert.equal(envOf(podOf(cj).containers[0].env).BACKUP_DATABASES, "mlflow mlflow_auth");
    });

    it("the pod passes the NetworkPolicy that fences PostgreSQL (database-client label)", () => {
        const cj = plain(backupCronJob(SPEC));
        const podLabels = cj.spec.jobTemplate.spec.template.metadata.labels as Record<string, string>;
        assert.equal(podLabels[DB_CLIENT_LABEL], "true");
        const from = plain(postgresNetworkPolicy("mlflow")).spec.ingress[0].from as { podSelector: { matchLabels: Record<string, string> } }[];
        assert.ok(
            from.some((f) => Object.entries(f.podSelector.matchLabels).every(([k, v]) => podLabels[k] === v)),
            "one of the policy's selectors matches the backup pod",
        );
    });

    it("prefix: <root>/backups for a bucket, a prefix, trailing slashes, an Output; anything else refused", async () => {
        assert.equal(backupPrefix("s3://bkt"), "s3://bkt/backups");
        assert.equal(backupPrefix("s3://bkt/"), "s3://bkt/backups");
        assert.equal(backupPrefix("s3://bkt/mlflow//"), "s3://bkt/mlflow/backups");
        assert.equal(BACKUP_PREFIX, "backups/");
        const out = backupPrefix(pulumi.output("s3://mlflow-artifacts-dev-1a2b"));
        assert.ok(pulumi.Output.isInstance(out));
        assert.equal(await new Promise((resolve) => (out as pulumi.Output<string>).apply(resolve)), "s3://mlflow-artifacts-dev-1a2b/backups");
        for (const bad of ["mlflow-artifacts", "s3://", "gs://b/x"]) assert.throws(() => backupPrefix(bad), /artifactRoot must be an s3:\/\/<bucket>\[\/<prefix>\] URI/, bad);
    });

    it("refuses no database, a repeated or non-identifier database name, a bad schedule, bad limits", () => {
        assert.throws(() => backupCronJob({ ...SPEC, databases: [] }), /at least one database/);
        assert.throws(() => backupCronJob({ ...SPEC, databases: ["mlflow", "mlflow"] }), /database "mlflow" appears twice/);
        assert.throws(() => backupCronJob({ ...SPEC, databases: ["ml flow"] }), /database name "ml flow" is not a plain identifier/);
        assert.throws(() => backupCronJob({ ...SPEC, databases: ["x; rm -rf /"] }), /not a plain identifier/);
        assert.throws(() => backupCronJob({ ...SPEC, schedule: "daily" }), /schedule "daily" is not a five-field cron expression/);
        assert.throws(() => backupCronJob({ ...SPEC, backoffLimit: -1 }), /backoffLimit/);
        assert.throws(() => backupCronJob({ ...SPEC, activeDeadlineSeconds: 5 }), /activeDeadlineSeconds/);
    });

    it("the dump step: custom format, every dump verified before MANIFEST; fails the container on any error", () => {
        assert.match(DUMP_SCRIPT, /^set -euo pipefail\n/);
        assert.match(DUMP_SCRIPT, /pg_dump --format=custom /);
        assert.match(DUMP_SCRIPT, /pg_restore --list /);
        assert.match(DUMP_SCRIPT, /pg_restore --file=\/dev\/null /);
        assert.match(DUMP_SCRIPT, /\[ -s "\$out\.partial" \] \|\| fail/);
        assert.match(DUMP_SCRIPT, /\$\{BACKUP_DIR:\?/);
        assert.ok(DUMP_SCRIPT.indexOf('mv "$dir/MANIFEST.partial" "$dir/MANIFEST"') > DUMP_SCRIPT.lastIndexOf("pg_restore"), "MANIFEST last");
        assert.ok(!DUMP_SCRIPT.includes("PGPASSWORD"), "libpq reads the password from the environment; the script never handles it");
        const r = spawnSync("bash", ["-n", "-c", DUMP_SCRIPT], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    });

    it("the upload step: SSE requested and checked, never an ACL, every file checked before the first upload", () => {
        assert.match(UPLOAD_SCRIPT, /extra\["ServerSideEncryption"\] = sse/);
        assert.match(UPLOAD_SCRIPT, /head\.get\("ServerSideEncryption"\)/);
        assert.ok(!/ACL/i.test(UPLOAD_SCRIPT), "no ACL argument: the bucket owner owns the object (BucketOwnerEnforced)");
        assert.ok(UPLOAD_SCRIPT.indexOf("sha256(path) != e[\"sha256\"]") < UPLOAD_SCRIPT.indexOf("upload_file("), "checks before uploads");
        const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: UPLOAD_SCRIPT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    });

    it("launch command: a Job from the CronJob with a name that fits", () => {
        const cmd = backupLaunchCommand("mlflow");
        assert.equal(cmd, "kubectl create job --namespace mlflow --from=cronjob/mlflow-db-backup mlflow-db-backup-$(date +%Y%m%d%H%M%S)");
        assert.ok(`${BACKUP_NAME}-20250101000000`.length <= 63);
    });
});

describe("DatabaseBackup and ArtifactStore (Pulumi mocks)", () => {
    const BASE: DatabaseBackupArgs = {
        namespace: "mlflow",
        config: { schedule: DEFAULT_BACKUP_SCHEDULE },
        database: { host: postgresHost("mlflow"), username: "mlflow", passwordSecretName: pulumi.output("postgres-credentials"), database: "mlflow", image: "postgres:16.10" },
        uploaderImage: "registry.example.com/mlflow@sha256:0123",
        artifactRoot: pulumi.output("s3://mlflow-artifacts-dev-1a2b3c"),
        aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    };
    const renderWith = (program: () => Record<string, unknown>): Promise<RenderResult> => renderStack({ root: ROOT, stack: "dev", program: async () => program() });
    let r: RenderResult;
    before(async () => {
        r = await renderWith(() => {
            const b = new DatabaseBackup("db-backup", BASE);
            return { prefix: b.prefix, launch: b.launch, cronJobName: b.cronJobName };
        });
    });

    it("one valid CronJob, child of the component, with the defaults", () => {
        const component = "mlflow-platform:database:DatabaseBackup";
        assert.ok(r.resources.find((x) => x.type === component));
        const cronJobs = r.resources.filter((x) => x.type === "kubernetes:batch/v1:CronJob");
        assert.deepEqual(cronJobs.map((x) => [x.name, x.parent]), [["db-backup", `${component}::db-backup`]]);
        // Its own ServiceAccount, no token with static keys (the pods need none).
        const sas = r.resources.filter((x) => x.type === "kubernetes:core/v1:ServiceAccount");
        assert.deepEqual(sas.map((x) => [x.name, x.parent]), [["db-backup", `${component}::db-backup`]]);
        assert.deepEqual(r.kubernetes.map((k) => k.kind).sort(), ["CronJob", "ServiceAccount"]);
        for (const k of r.kubernetes) validateKubernetesObject(k);
        const sa = plain(r.kubernetes.find((k) => k.kind === "ServiceAccount")!);
        assert.equal(sa.metadata.name, "mlflow-db-backup");
        assert.equal(sa.automountServiceAccountToken, false);
        const o = plain(r.kubernetes.find((k) => k.kind === "CronJob")!);
        assert.equal(o.spec.schedule, "17 3 * * *");
        assert.equal(o.spec.suspend, false);
        const pod = o.spec.jobTemplate.spec.template.spec;
        assert.equal(pod.initContainers[0].image, "postgres:16.10");
        assert.equal(pod.serviceAccountName, "mlflow-db-backup");
        assert.deepEqual(envOf(pod.initContainers[0].env).PGPASSWORD, { secretKeyRef: { name: "postgres-credentials", key: "password" } });
        assert.equal(envOf(pod.initContainers[0].env).BACKUP_DATABASES, "mlflow");
        assert.equal(envOf(pod.containers[0].env).BACKUP_S3_PREFIX, "s3://mlflow-artifacts-dev-1a2b3c/backups");
        assert.equal(envOf(pod.containers[0].env).BACKUP_SSE, "AES256");
        assert.deepEqual(pod.containers[0].resources, RESOURCES);
        assert.deepEqual(r.outputs, { prefix: "s3://mlflow-artifacts-dev-1a2b3c/backups", launch: backupLaunchCommand("mlflow"), cronJobName: "mlflow-db-backup" });
    });

    it("explicit values: schedule, image, auth database, KMS", async () => {
        const x = await renderWith(() => {
            new DatabaseBackup("db-backup", { ...BASE, config: { schedule: "0 */6 * * *" }, database: { ...BASE.database, image: "postgres:16.11" }, authDatabase: AUTH_DATABASE, kmsKeyArn: pulumi.output("arn:aws:kms:eu-west-1:1:key/k") });
            return {};
        });
        const o = plain(x.kubernetes.find((k) => k.kind === "CronJob"));
        const pod = o.spec.jobTemplate.spec.template.spec;
        assert.equal(o.spec.schedule, "0 */6 * * *");
        assert.equal(pod.initContainers[0].image, "postgres:16.11");
        assert.equal(envOf(pod.initContainers[0].env).BACKUP_DATABASES, "mlflow mlflow_auth");
        assert.equal(envOf(pod.containers[0].env).BACKUP_SSE, "aws:kms");
        assert.equal(envOf(pod.containers[0].env).BACKUP_SSE_KMS_KEY_ID, "arn:aws:kms:eu-west-1:1:key/k");
        await assert.rejects(
            renderWith(() => {
                new DatabaseBackup("db-backup", { ...BASE, config: { schedule: "hourly" } });
                return {};
            }),
            /schedule "hourly" is not a five-field cron expression/,
        );
    });

    it("the bucket expires backups/ after backupRetentionDays (default 30), keeping its other rules", async () => {
        const rulesOf = async (days?: number) => {
            const x = await renderWith(() => {
                new ArtifactStore("artifacts", { config: { ...parseConfig({}, "dev").artifactStore, bucketName: "mlflow-artifacts-dev" }, ...(days === undefined ? {} : { backupRetentionDays: days }) });
                return {};
            });
            const lc = x.resources.filter((res) => res.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
            assert.equal(lc.length, 1);
            return lc[0].inputs.rules as Record<string, unknown>[];
        };
        const rules = await rulesOf();
        assert.deepEqual(rules.map((x) => x.id), ["expire-noncurrent-versions", "abort-incomplete-multipart-uploads", "expire-database-backups"]);
        assert.deepEqual(rules[0], { id: "expire-noncurrent-versions", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 90 } });
        assert.deepEqual(rules[1], { id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } });
        assert.deepEqual(rules[2], {
            id: "expire-database-backups",
            status: "Enabled",
            filter: { prefix: "backups/" },
            expiration: { days: 30 },
            noncurrentVersionExpiration: { noncurrentDays: 1 },
        });
        assert.deepEqual((await rulesOf(14))[2].expiration, { days: 14 });
    });
});
