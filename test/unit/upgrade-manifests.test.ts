/**
 * The upgrade steps' builders (manifests/upgrade.ts): Job names, the prefix of the pre-upgrade backup, the Role
 * (exactly the calls scripts/upgrade-control.py makes, read from the script), the pods' security, env and labels,
 * and bad input refused by name. The script itself runs against a real API server in
 * test/engine/upgrade-control.test.ts.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_DIR, BACKUP_SERVICE_ACCOUNT, backupCronJob, type BackupSpec, DUMP_COMMAND, UPLOAD_COMMAND, UPLOAD_SCRIPT } from "../../manifests/backup";
import { containerSecurityContext, podSecurityContext, TMP_MOUNT, TMP_VOLUME } from "../../manifests/common";
import { GC_CRONJOB } from "../../manifests/gc";
import { DB_CLIENT_LABEL, postgresHost, postgresNetworkPolicy } from "../../manifests/postgres";
import { trackingServerDeployment } from "../../manifests/tracking-server";
import {
    CONTROL_MARGIN_SECONDS,
    DEFAULT_UPGRADE_TARGETS,
    preUpgradeBackupPrefix,
    preUpgradeSnapshotId,
    REPLICAS_ANNOTATION,
    SCRIPT_DIGEST_ANNOTATION,
    SUSPENDED_ANNOTATION,
    UPGRADE_CONFIGMAP,
    UPGRADE_SCRIPT_KEY,
    UPGRADE_SERVICE_ACCOUNT,
    UPGRADE_STEP_LABEL,
    upgradeBackupJob,
    upgradeConfigMap,
    type UpgradeControlSpec,
    upgradeJobName,
    upgradeResumeJob,
    upgradeRole,
    upgradeRoleBinding,
    upgradeScriptDigest,
    upgradeServiceAccount,
    upgradeStopJob,
} from "../../manifests/upgrade";
import type { KubernetesObject } from "../../lib/render";
import { validateKubernetesObject } from "../support/k8s-validate";
import { ROOT } from "../support/render";

const SCRIPT_PATH = path.join(ROOT, "scripts", "upgrade-control.py");
const SCRIPT = fs.readFileSync(SCRIPT_PATH, "utf8");
const RESOURCES = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } };
const CONTROL: UpgradeControlSpec = { namespace: "mlflow", image: "mlflow-platform/mlflow:local", from: "3.10.0", to: "3.17.2", scriptDigest: upgradeScriptDigest(SCRIPT) };
const BACKUP: BackupSpec = {
    namespace: "mlflow",
    schedule: "17 3 * * *",
    postgresImage: "postgres:16.10",
    uploaderImage: "mlflow-platform/mlflow:local",
    host: postgresHost("mlflow"),
    username: "mlflow",
    passwordSecretName: "postgres-credentials",
    databases: ["mlflow", "mlflow_auth"],
    artifactRoot: "s3://mlflow-artifacts-dev/",
    aws: { keysSecretName: "mlflow-aws-credentials", region: "eu-west-1" },
    encryption: { algorithm: "AES256" },
    serviceAccountName: BACKUP_SERVICE_ACCOUNT,
    resources: RESOURCES,
    activeDeadlineSeconds: 3600,
    backoffLimit: 2,
    workDirSize: "20Gi",
};

/** Walking plain builder output (no Output in these specs). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plain = (v: unknown): any => v;
type EnvVar = k8s.types.input.core.v1.EnvVar;
const envOf = (vars: EnvVar[]) => Object.fromEntries(vars.map((e) => [e.name, e.value ?? e.valueFrom]));
const podOf = (job: k8s.types.input.batch.v1.Job) => plain(job).spec.template.spec;

/** Every `api.call("<verb>", "<group>", "<resource>"` of the script, as "group|resource|verb". */
function scriptCalls(script: string): Set<string> {
    const calls = [...script.matchAll(/\bapi\.call\(\s*"([a-z]+)",\s*"([a-z.]*)",\s*"([a-z]+(?:\/[a-z]+)?)"/g)].map(([, verb, group, resource]) => `${group}|${resource}|${verb}`);
    // Every call is in that literal form (a call with a computed verb or resource would escape the check), and
    // the script reaches the API server in one place only.
    const all = script.match(/\bapi\.call\(/g) ?? [];
    assert.equal(calls.length, all.length, "every api.call(...) of the script names its verb, group and resource as literals");
    assert.equal((script.match(/urllib\.request\.Request\(/g) ?? []).length, 1, "one place builds requests (Api.call)");
    assert.equal((script.match(/urlopen\(/g) ?? []).length, 1, "one place sends them");
    return new Set(calls);
}

/** The Role's rules as "group|resource|verb". */
function roleGrants(role: k8s.types.input.rbac.v1.Role): Set<string> {
    const out = new Set<string>();
    for (const r of plain(role).rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
        for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${g}|${res}|${v}`);
    }
    return out;
}

describe("manifests: the MLflow upgrade steps (issue 20)", () => {
    describe("names", () => {
        it("mlflow-upgrade-<from>-to-<to>-<step>, DNS-1123, the same for the same upgrade", () => {
            assert.equal(upgradeJobName("3.10.0", "3.17.2", "stop"), "mlflow-upgrade-3-10-0-to-3-17-2-stop");
            assert.equal(upgradeJobName("3.10.0", "3.17.2", "backup"), "mlflow-upgrade-3-10-0-to-3-17-2-backup");
            assert.equal(upgradeJobName("3.10.0", "3.17.2", "resume"), "mlflow-upgrade-3-10-0-to-3-17-2-resume");
            assert.equal(upgradeJobName("2.22.1", "3.0.0rc1", "stop"), "mlflow-upgrade-2-22-1-to-3-0-0rc1-stop");
            assert.equal(upgradeJobName("3.10", "3.11", "stop"), "mlflow-upgrade-3-10-to-3-11-stop");
            // different upgrades, different names
            assert.notEqual(upgradeJobName("3.1.0", "3.10.0", "stop"), upgradeJobName("3.10.0", "3.1.0", "stop"));
        });

        it("over 63 characters: a hash of both versions, still per step, still distinct", () => {
            const from = "3.10.100rc100.post100.dev100";
            const to = "3.17.200rc200.post200.dev200";
            const names = (["stop", "backup", "resume"] as const).map((s) => upgradeJobName(from, to, s));
            for (const n of names) {
                assert.ok(n.length <= 63, `${n}: ${n.length} characters`);
                assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
                assert.match(n, /^mlflow-upgrade-[0-9a-f]{12}-(stop|backup|resume)$/);
            }
            assert.equal(new Set(names).size, 3);
            assert.equal(names[0], upgradeJobName(from, to, "stop"), "stable");
            assert.notEqual(upgradeJobName(from, "3.17.200rc200.post200.dev201", "stop"), names[0]);
            // every plain name fits: the longest ordinary versions
            assert.ok(upgradeJobName("10.100.100", "10.100.101rc10", "resume").length <= 63);
        });

        it("bad versions and steps are refused naming the value and what is valid", () => {
            assert.throws(() => upgradeJobName("latest", "3.17.2", "stop"), /upgraded from must be a release version such as 3\.10\.0.*got "latest"/);
            assert.throws(() => upgradeJobName("3.10.0", "v3.17.2", "stop"), /upgraded to must be a release version.*got "v3\.17\.2"/);
            assert.throws(() => upgradeJobName("3.10.0", "", "stop"), /upgraded to .*got ""/);
            assert.throws(() => upgradeJobName("3.10.0", "3.10.0", "stop"), /same version 3\.10\.0/);
            assert.throws(() => upgradeJobName("3.10.0", "3.17.2", "migrate" as "stop"), /step must be one of stop, backup, resume, got "migrate"/);
            assert.throws(() => upgradeStopJob({ ...CONTROL, to: "3.17" + "/x" }), /upgraded to must be a release version/);
            assert.throws(() => preUpgradeBackupPrefix("s3://b-ucket", "3.10.0", "3.17.2 "), /upgraded to .*"3\.17\.2 "/);
        });
    });

    describe("RBAC: the ServiceAccount mlflow-upgrade may do exactly what the script does", () => {
        it("the Role's grants are the script's calls, no more and no less", () => {
            const calls = scriptCalls(SCRIPT);
            assert.ok(calls.size >= 5, `found the script's calls: ${[...calls].join(", ")}`);
            assert.deepEqual([...roleGrants(upgradeRole("mlflow"))].sort(), [...calls].sort());
        });

        it("the check fails for a call the Role does not allow (and for one it cannot read)", () => {
            const extra = SCRIPT.replace('api.call("list", "", "pods"', 'api.call("delete", "", "pods", "x")\n        api.call("list", "", "pods"');
            assert.notDeepEqual([...roleGrants(upgradeRole("mlflow"))].sort(), [...scriptCalls(extra)].sort());
            assert.throws(() => scriptCalls(SCRIPT.replace('api.call("get", "apps", "deployments"', "api.call(VERB, \"apps\", \"deployments\"")), /every api\.call/);
        });

        it("on the named objects where RBAC can name them; lists (pods, jobs) cannot be", () => {
            const rules = plain(upgradeRole("mlflow")).rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
            const names = (res: string) => rules.find((r) => r.resources.includes(res))?.resourceNames;
            assert.deepEqual(names("deployments"), ["mlflow"]);
            assert.deepEqual(names("deployments/scale"), ["mlflow"]);
            assert.deepEqual(names("cronjobs"), [GC_CRONJOB]);
            assert.equal(names("pods"), undefined);
            assert.equal(names("jobs"), undefined);
            for (const r of rules) {
                assert.ok(!r.verbs.some((v) => ["create", "delete", "deletecollection", "update", "watch", "*", "escalate", "bind", "impersonate"].includes(v)), `${r.resources}: ${r.verbs}`);
                if (r.verbs.some((v) => v !== "list")) assert.ok(r.resourceNames?.length, `${r.resources}: named`);
            }
            const other = plain(upgradeRole("mlflow", { deployment: "tracking", cronJobs: ["a", "b"] })).rules;
            assert.deepEqual(other.find((r: { resources: string[] }) => r.resources.includes("cronjobs")).resourceNames, ["a", "b"]);
            // no CronJob: nothing on CronJobs or Jobs at all
            const none = roleGrants(upgradeRole("mlflow", { deployment: "mlflow", cronJobs: [] }));
            assert.ok(![...none].some((g) => g.startsWith("batch|")), [...none].join(", "));
            assert.throws(() => upgradeRole("mlflow", { deployment: "Mlflow", cronJobs: [] }), /deployment must name objects by DNS-1123 label.*"Mlflow"/);
            assert.throws(() => upgradeRole("mlflow", { deployment: "mlflow", cronJobs: ["a", "a"] }), /cronJobs lists a name twice/);
        });

        it("ServiceAccount (no token unless a pod asks), RoleBinding to it, all valid objects", () => {
            const sa = plain(upgradeServiceAccount("mlflow"));
            assert.equal(sa.metadata.name, "mlflow-upgrade");
            assert.equal(sa.automountServiceAccountToken, false);
            const rb = plain(upgradeRoleBinding("mlflow"));
            assert.deepEqual(rb.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: plain(upgradeRole("mlflow")).metadata.name });
            assert.deepEqual(rb.subjects, [{ kind: "ServiceAccount", name: UPGRADE_SERVICE_ACCOUNT, namespace: "mlflow" }]);
            for (const o of [upgradeServiceAccount("mlflow"), upgradeRole("mlflow"), upgradeRoleBinding("mlflow"), upgradeConfigMap("mlflow", SCRIPT)]) {
                validateKubernetesObject(o as unknown as KubernetesObject);
            }
        });
    });

    describe("the control Jobs (stop, resume)", () => {
        for (const [step, build] of [["stop", upgradeStopJob], ["resume", upgradeResumeJob]] as const) {
            it(`${step}: the script from the ConfigMap in the mlflow image, as mlflow-upgrade, its digest on the pod`, () => {
                const job = build(CONTROL);
                validateKubernetesObject(job as unknown as KubernetesObject);
                const o = plain(job);
                assert.equal(o.metadata.name, `mlflow-upgrade-3-10-0-to-3-17-2-${step}`);
                assert.equal(o.metadata.namespace, "mlflow");
                assert.equal(o.metadata.annotations["mlflow-platform/upgrade-from"], "3.10.0");
                assert.equal(o.metadata.annotations["mlflow-platform/upgrade-to"], "3.17.2");
                assert.equal(o.spec.template.metadata.annotations[SCRIPT_DIGEST_ANNOTATION], upgradeScriptDigest(SCRIPT));
                assert.notEqual(upgradeScriptDigest(SCRIPT + "\n"), upgradeScriptDigest(SCRIPT), "an edited script is a new pod");
                assert.equal(o.spec.template.metadata.labels[UPGRADE_STEP_LABEL], step);
                assert.equal(o.spec.ttlSecondsAfterFinished, undefined, "no TTL: a deleted Job would run again at the next up");
                const pod = podOf(job);
                assert.equal(pod.serviceAccountName, "mlflow-upgrade");
                assert.equal(pod.automountServiceAccountToken, true, "the token is the script's credential");
                assert.equal(pod.restartPolicy, "Never");
                const [c] = pod.containers;
                assert.equal(pod.containers.length, 1);
                assert.equal(c.image, "mlflow-platform/mlflow:local");
                assert.deepEqual(c.command, ["python", `/scripts/${UPGRADE_SCRIPT_KEY}`, step]);
                assert.deepEqual(pod.volumes, [{ name: "script", configMap: { name: UPGRADE_CONFIGMAP, defaultMode: 0o444 } }, TMP_VOLUME]);
                assert.deepEqual(c.volumeMounts, [{ name: "script", mountPath: "/scripts", readOnly: true }, TMP_MOUNT]);
                assert.equal(plain(upgradeConfigMap("mlflow", SCRIPT)).data[UPGRADE_SCRIPT_KEY], SCRIPT);
                assert.equal(plain(upgradeConfigMap("mlflow", SCRIPT)).metadata.name, UPGRADE_CONFIGMAP);
            });
        }

        it("restricted Pod Security, resources, no database access (no database-client label)", () => {
            for (const job of [upgradeStopJob(CONTROL), upgradeResumeJob(CONTROL)]) {
                const pod = podOf(job);
                assert.deepEqual(pod.securityContext, podSecurityContext());
                for (const c of pod.containers) {
                    assert.deepEqual(c.securityContext, containerSecurityContext());
                    assert.ok(c.resources.limits.memory && c.resources.requests.cpu, "requests and limits");
                }
                assert.equal(plain(job).spec.template.metadata.labels[DB_CLIENT_LABEL], undefined);
            }
            assert.deepEqual(podOf(upgradeStopJob({ ...CONTROL, resources: RESOURCES })).containers[0].resources, RESOURCES);
        });

        it("env: namespace, the Deployment and CronJobs by name, the timeouts; telemetry off; activeDeadlineSeconds covers the waits", () => {
            const stop = plain(upgradeStopJob(CONTROL));
            const e = envOf(stop.spec.template.spec.containers[0].env);
            assert.equal(e.UPGRADE_NAMESPACE, "mlflow");
            assert.equal(e.UPGRADE_DEPLOYMENT, "mlflow");
            assert.equal(e.UPGRADE_CRONJOBS, "mlflow-gc");
            assert.equal(e.UPGRADE_JOBS_TIMEOUT_SECONDS, "900");
            assert.equal(e.UPGRADE_PODS_TIMEOUT_SECONDS, "300");
            assert.equal(e.UPGRADE_ROLLOUT_TIMEOUT_SECONDS, "900");
            assert.equal(e.MLFLOW_DISABLE_TELEMETRY, "true");
            assert.equal(e.DO_NOT_TRACK, "true");
            assert.ok(!Object.keys(e).some((k) => k.startsWith("UPGRADE_API") || k.startsWith("UPGRADE_TOKEN") || k.startsWith("UPGRADE_CA")), "in the pod: the in-cluster API and token");
            assert.equal(stop.spec.backoffLimit, 0);
            assert.equal(stop.spec.activeDeadlineSeconds, 900 + 300 + CONTROL_MARGIN_SECONDS);
            const resume = plain(upgradeResumeJob({ ...CONTROL, timeouts: { rolloutSeconds: 1200 } }));
            assert.equal(resume.spec.activeDeadlineSeconds, 1200 + CONTROL_MARGIN_SECONDS);
            assert.equal(envOf(resume.spec.template.spec.containers[0].env).UPGRADE_ROLLOUT_TIMEOUT_SECONDS, "1200");
            const other = envOf(plain(upgradeStopJob({ ...CONTROL, targets: { deployment: "tracking", cronJobs: ["a", "b"] }, telemetry: true })).spec.template.spec.containers[0].env);
            assert.equal(other.UPGRADE_DEPLOYMENT, "tracking");
            assert.equal(other.UPGRADE_CRONJOBS, "a b");
            assert.equal(other.MLFLOW_DISABLE_TELEMETRY, "false");
            // The script's defaults and annotation names are the builder's.
            for (const [k, v] of Object.entries({ REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION })) assert.ok(SCRIPT.includes(`${k} = "${v}"`), k);
            assert.ok(SCRIPT.includes(`env_name("UPGRADE_DEPLOYMENT", "${DEFAULT_UPGRADE_TARGETS.deployment}")`));
            assert.ok(SCRIPT.includes(`"${DEFAULT_UPGRADE_TARGETS.cronJobs.join(" ")}" if raw is None`));
            for (const [key, v] of [["UPGRADE_JOBS_TIMEOUT_SECONDS", 900], ["UPGRADE_PODS_TIMEOUT_SECONDS", 300], ["UPGRADE_ROLLOUT_TIMEOUT_SECONDS", 900]] as const) {
                assert.ok(SCRIPT.includes(`env_seconds("${key}", ${v})`), key);
            }
        });

        it("bad input refused by name: timeouts, digest, script", () => {
            assert.throws(() => upgradeStopJob({ ...CONTROL, timeouts: { podsSeconds: 0 } }), /timeouts\.podsSeconds must be a whole number of seconds >= 1, got 0/);
            assert.throws(() => upgradeResumeJob({ ...CONTROL, timeouts: { rolloutSeconds: 1.5 } }), /timeouts\.rolloutSeconds .* got 1\.5/);
            assert.throws(() => upgradeStopJob({ ...CONTROL, scriptDigest: "abc" }), /scriptDigest must be upgradeScriptDigest\(script\).*"abc"/);
            assert.throws(() => upgradeConfigMap("mlflow", "echo hi"), /no stop and resume steps/);
            assert.throws(() => upgradeStopJob({ ...CONTROL, targets: { deployment: "mlflow", cronJobs: ["Gc"] } }), /cronJobs must name objects .*"Gc"/);
        });

        it("no upgrade pod matches the tracking Deployment's selector (stop would wait for itself)", () => {
            const dep = plain(trackingServerDeployment({ namespace: "mlflow", image: "i", replicas: 2, workers: 1, artifactRoot: "s3://b-ucket", backendStoreSecretName: "s", serviceAccountName: "sa", resources: RESOURCES, aws: {} } as unknown as Parameters<typeof trackingServerDeployment>[0]));
            const selector = dep.spec.selector.matchLabels as Record<string, string>;
            for (const job of [upgradeStopJob(CONTROL), upgradeResumeJob(CONTROL), upgradeBackupJob({ ...BACKUP, from: "3.10.0", to: "3.17.2" })]) {
                const podLabels = plain(job).spec.template.metadata.labels as Record<string, string>;
                assert.ok(!Object.entries(selector).every(([k, v]) => podLabels[k] === v), `${plain(job).metadata.name} matches ${JSON.stringify(selector)}`);
            }
        });
    });

    describe("the pre-upgrade backup Job", () => {
        const SPEC = { ...BACKUP, from: "3.10.0", to: "3.17.2" };

        it("prefix: <artifact root>/backups/pre-upgrade-<from>-to-<to>/, for a bucket, a prefix, an Output", async () => {
            assert.equal(preUpgradeBackupPrefix("s3://bkt", "3.10.0", "3.17.2"), "s3://bkt/backups/pre-upgrade-3.10.0-to-3.17.2/");
            assert.equal(preUpgradeBackupPrefix("s3://bkt/mlflow//", "3.10.0", "3.17.2"), "s3://bkt/mlflow/backups/pre-upgrade-3.10.0-to-3.17.2/");
            const out = preUpgradeBackupPrefix(pulumi.output("s3://bkt/x"), "2.22.1", "3.0.0rc1");
            assert.ok(pulumi.Output.isInstance(out));
            assert.equal(await new Promise((r) => (out as pulumi.Output<string>).apply(r)), "s3://bkt/x/backups/pre-upgrade-2.22.1-to-3.0.0rc1/");
            assert.throws(() => preUpgradeBackupPrefix("https://bkt", "3.10.0", "3.17.2"), /pre-upgrade backup: artifactRoot must be an s3:\/\/<bucket>/);
        });

        it("the backup CronJob's pod, once: same containers, commands, security, ServiceAccount; upload to the fixed prefix, MANIFEST last", () => {
            const job = upgradeBackupJob(SPEC);
            validateKubernetesObject(job as unknown as KubernetesObject);
            const o = plain(job);
            assert.equal(o.metadata.name, "mlflow-upgrade-3-10-0-to-3-17-2-backup");
            assert.equal(o.metadata.annotations["mlflow-platform/backup-prefix"], "s3://mlflow-artifacts-dev/backups/pre-upgrade-3.10.0-to-3.17.2/");
            assert.equal(o.spec.backoffLimit, 2, "the backup's own limits when given");
            assert.equal(o.spec.activeDeadlineSeconds, 3600);
            const { backoffLimit: _l, activeDeadlineSeconds: _d, schedule: _s, ...podSpec } = SPEC;
            assert.equal(plain(upgradeBackupJob(podSpec)).spec.backoffLimit, 1, "default: one retry");
            assert.equal(plain(upgradeBackupJob(podSpec)).spec.activeDeadlineSeconds, 3600);
            const pod = podOf(job);
            const scheduled = plain(backupCronJob(BACKUP)).spec.jobTemplate.spec.template.spec;
            // Everything but the upload's destination is the CronJob's pod.
            const withoutUploadEnv = (p: { containers: { env: unknown }[] }) => ({ ...p, containers: p.containers.map((c) => ({ ...c, env: undefined })) });
            assert.deepEqual(withoutUploadEnv(pod), withoutUploadEnv(scheduled));
            assert.deepEqual(pod.initContainers[0].command, [...DUMP_COMMAND]);
            assert.deepEqual(pod.containers[0].command, [...UPLOAD_COMMAND]);
            assert.equal(pod.serviceAccountName, BACKUP_SERVICE_ACCOUNT, "the backup role (IRSA) writes under backups/, which holds the prefix");
            const up = envOf(pod.containers[0].env);
            const sched = envOf(scheduled.containers[0].env);
            assert.equal(up.BACKUP_S3_PREFIX, "s3://mlflow-artifacts-dev/backups/pre-upgrade-3.10.0-to-3.17.2/");
            assert.equal(sched.BACKUP_S3_PREFIX, "s3://mlflow-artifacts-dev/backups");
            assert.equal(up.BACKUP_MANIFEST_OBJECT, "true");
            assert.equal(sched.BACKUP_MANIFEST_OBJECT, undefined, "the scheduled backups are as they were");
            const { BACKUP_S3_PREFIX: _a, BACKUP_MANIFEST_OBJECT: _b, ...rest } = up;
            const { BACKUP_S3_PREFIX: _c, ...schedRest } = sched;
            assert.deepEqual(rest, schedRest);
            assert.equal(up.BACKUP_DIR, BACKUP_DIR);
            assert.ok(UPLOAD_SCRIPT.indexOf('(key_prefix, "MANIFEST")') > UPLOAD_SCRIPT.indexOf("for db in expected:\n        e, path = entries[db]"), "the MANIFEST goes after the dumps");
        });

        it("a database client that waits for PostgreSQL (the CronJob's dump step), restricted Pod Security, its own labels", () => {
            const o = plain(upgradeBackupJob(SPEC));
            const labels = o.spec.template.metadata.labels as Record<string, string>;
            assert.equal(labels[DB_CLIENT_LABEL], "true");
            assert.equal(labels[UPGRADE_STEP_LABEL], "backup");
            const from = plain(postgresNetworkPolicy("mlflow")).spec.ingress[0].from as { podSelector: { matchLabels: Record<string, string> } }[];
            assert.ok(from.some((f) => Object.entries(f.podSelector.matchLabels).every(([k, v]) => labels[k] === v)), "admitted by the PostgreSQL NetworkPolicy");
            const pod = o.spec.template.spec;
            assert.match(pod.initContainers[0].command[2], /until pg_isready --quiet/);
            assert.deepEqual(pod.securityContext, podSecurityContext());
            for (const c of [...pod.initContainers, ...pod.containers]) assert.deepEqual(c.securityContext, containerSecurityContext(), c.name);
            for (const c of [...pod.initContainers, ...pod.containers]) assert.equal(envOf(c.env).MLFLOW_DISABLE_TELEMETRY, "true", c.name);
        });

        it("bad input refused by name: limits, databases, versions", () => {
            assert.throws(() => upgradeBackupJob({ ...SPEC, backoffLimit: -1 }), /pre-upgrade backup: backoffLimit must be an integer >= 0, got -1/);
            assert.throws(() => upgradeBackupJob({ ...SPEC, activeDeadlineSeconds: 10 }), /pre-upgrade backup: activeDeadlineSeconds must be an integer >= 60, got 10/);
            assert.throws(() => upgradeBackupJob({ ...SPEC, databases: [] }), /at least one database/);
            assert.throws(() => upgradeBackupJob({ ...SPEC, databases: ["mlflow; drop"] }), /database name "mlflow; drop"/);
            assert.throws(() => upgradeBackupJob({ ...SPEC, from: "three" }), /upgraded from must be a release version.*"three"/);
        });
    });

    it("the RDS snapshot before an upgrade: <instance>-pre-upgrade-<from>-to-<to>, hashed when longer than RDS allows", () => {
        assert.equal(preUpgradeSnapshotId("mlflow-prod", "3.10.0", "3.17.2"), "mlflow-prod-pre-upgrade-3-10-0-to-3-17-2");
        const long = preUpgradeSnapshotId("i".repeat(240), "3.10.0", "3.17.2");
        assert.ok(long.length <= 255 && /-pre-upgrade-[0-9a-f]{12}$/.test(long), long);
        assert.throws(() => preUpgradeSnapshotId("mlflow-prod", "3.17.2", "3.17.2"), /same version/);
    });
});
