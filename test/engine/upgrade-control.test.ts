/**
 * scripts/upgrade-control.py (the stop and resume steps of an MLflow upgrade, issue 20) against a real API server:
 * the testbed's etcd, kube-apiserver (RBAC), kube-controller-manager (the Deployment and ReplicaSet controllers
 * delete the pods of a Deployment scaled to 0, the Job controller) and kwok's node (pods Running and Ready).
 *
 * The script runs as a host process with the environment its Job gets from manifests/upgrade.ts, and as the
 * ServiceAccount `mlflow-upgrade` bound to the builder's Role: a token of that ServiceAccount (TokenRequest) and the
 * cluster's CA, so every call it makes is authorized by the real RBAC. Its interpreter runs with -I -S: the standard
 * library only, as in the mlflow image.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { selectorLabels } from "../../manifests/common";
import { GC_CRONJOB } from "../../manifests/gc";
import { COMPONENT, TRACKING_SERVICE_NAME } from "../../manifests/tracking-server";
import { BACKUP_SERVICE_ACCOUNT, backupDatabases } from "../../manifests/backup";
import {
    REPLICAS_ANNOTATION,
    SUSPENDED_ANNOTATION,
    UPGRADE_SERVICE_ACCOUNT,
    upgradeBackupJob,
    upgradeConfigMap,
    type UpgradeControlSpec,
    upgradeResumeJob,
    upgradeRole,
    upgradeRoleBinding,
    upgradeScriptDigest,
    upgradeServiceAccount,
    upgradeStopJob,
} from "../../manifests/upgrade";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { statusMessage, type KubeObject } from "../../testbed/kube";
import { runCommand, tempDir, type CommandResult } from "../../testbed/process";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";

const NS = "mlflow-upgrade-it";
const SCRIPT_PATH = path.join(REPO_ROOT, "scripts", "upgrade-control.py");
const SCRIPT = fs.readFileSync(SCRIPT_PATH, "utf8");
const CONTROL: UpgradeControlSpec = { namespace: NS, image: "mlflow-platform/mlflow:local", from: "3.10.0", to: "3.17.2", scriptDigest: upgradeScriptDigest(SCRIPT) };
const POD_LABELS = { ...selectorLabels(COMPONENT), "app.kubernetes.io/part-of": "mlflow-platform" };

interface DeploymentState {
    metadata: { annotations?: Record<string, string>; generation: number; managedFields?: { manager: string; operation: string; time: string }[] };
    spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
}

/** The tracking server's stand-in: the real Deployment's name, selector and strategy, a placeholder container. */
function trackingDeployment(replicas: number, image = "mlflow-platform/mlflow:3.10.0"): KubeObject {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: TRACKING_SERVICE_NAME, namespace: NS },
        spec: {
            replicas,
            selector: { matchLabels: selectorLabels(COMPONENT) },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels: POD_LABELS },
                spec: {
                    terminationGracePeriodSeconds: 1,
                    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [{ name: "mlflow", image, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
                },
            },
        },
    };
}

function gcCronJob(): KubeObject {
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: GC_CRONJOB, namespace: NS },
        spec: {
            schedule: "0 3 1 1 *", // not during the test
            suspend: false,
            jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "gc", image: "mlflow-platform/mlflow:3.10.0" }] } } } },
        },
    };
}

describe("engine: the upgrade's stop and resume steps (scripts/upgrade-control.py) on a real API server", function () {
    this.timeout(10 * 60_000);
    let cluster: Cluster;
    let python: string;
    let tokenFile: string;

    const kube = () => cluster.kube;
    const deployment = async () => (await kube().get("apps/v1", "Deployment", NS, TRACKING_SERVICE_NAME)) as unknown as DeploymentState;
    const cronJobSuspended = async () => ((await kube().get("batch/v1", "CronJob", NS, GC_CRONJOB)) as unknown as { spec: { suspend?: boolean } }).spec.suspend === true;
    const trackingPods = async () => kube().list("v1", "Pod", NS, Object.entries(selectorLabels(COMPONENT)).map(([k, v]) => `${k}=${v}`).join(","));

    async function applyOk(obj: KubeObject): Promise<void> {
        const r = await kube().apply(obj);
        assert.ok(r.status >= 200 && r.status < 300, `apply ${obj.kind} ${obj.metadata.name}: HTTP ${r.status}: ${statusMessage(r)}`);
    }

    /** Waits until the Deployment's rollout is complete at `replicas` (the test's own check, not the script's). */
    async function rolledOut(replicas: number): Promise<void> {
        await kube().waitFor(`deployment ${TRACKING_SERVICE_NAME} at ${replicas} ready`, 120_000, async () => {
            const d = await deployment();
            const s = d.status ?? {};
            const pods = (await trackingPods()).filter((p) => !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp);
            return d.spec.replicas === replicas && (s.readyReplicas ?? 0) === replicas && (s.updatedReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && pods.length === replicas ? true : undefined;
        });
    }

    /** The script as its Job runs it: the Job's env (from the builder), the API server and token of the test. */
    function run(step: "stop" | "resume", extra: Record<string, string> = {}): Promise<CommandResult> {
        const job = (step === "stop" ? upgradeStopJob(CONTROL) : upgradeResumeJob(CONTROL)) as unknown as { spec: { template: { spec: { containers: { command: string[]; env: { name: string; value?: string }[] }[] } } } };
        const [container] = job.spec.template.spec.containers;
        assert.equal(container.command.at(-1), step);
        const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("upgrade-home") };
        for (const e of container.env) if (e.value !== undefined && e.name !== "HOME") env[e.name] = e.value;
        Object.assign(env, { UPGRADE_API_SERVER: cluster.server, UPGRADE_TOKEN_FILE: tokenFile, UPGRADE_CA_FILE: cluster.pki.caCert, UPGRADE_POLL_SECONDS: "1" }, extra);
        return runCommand(python, ["-I", "-S", SCRIPT_PATH, step], { env, timeoutMs: 300_000 });
    }

    const describeRun = (r: CommandResult) => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
    const lines = (text: string) => text.split("\n").filter((l) => l !== "");

    /** The time of the script's last write to an object (its field manager's entry), or undefined. */
    const lastWrite = (o: { metadata: { managedFields?: { manager: string; time: string }[] } }) => o.metadata.managedFields?.filter((m) => m.manager === "mlflow-upgrade").map((m) => m.time).sort().at(-1);

    /** Whether the ServiceAccount may `verb` `resource`, by the API server's own authorizer (RBAC changes settle). */
    async function allowed(verb: string, group: string, resource: string, name: string): Promise<boolean> {
        const [res, sub] = resource.split("/");
        const review = {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: { user: `system:serviceaccount:${NS}:${UPGRADE_SERVICE_ACCOUNT}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`], resourceAttributes: { namespace: NS, verb, group, resource: res, subresource: sub ?? "", name } },
        };
        const r = await kube().ok("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", JSON.stringify(review));
        return r.json<{ status: { allowed: boolean } }>().status.allowed;
    }

    before(async function () {
        this.timeout(80 * 60_000); // a cold toolchain build
        cluster = await sharedCluster();
        python = (await ensureVenv("mlflow")).python;
        // The platform's namespace enforces Pod Security restricted; so does this one.
        await applyOk({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "restricted" } } });
        for (const o of [upgradeServiceAccount(NS), upgradeRole(NS), upgradeRoleBinding(NS), upgradeConfigMap(NS, SCRIPT)]) await applyOk(o as unknown as KubeObject);
        await applyOk({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: BACKUP_SERVICE_ACCOUNT, namespace: NS } });
        await applyOk(trackingDeployment(3));
        await applyOk(gcCronJob());
        await rolledOut(3);
        const tr = await kube().ok("POST", `/api/v1/namespaces/${NS}/serviceaccounts/${UPGRADE_SERVICE_ACCOUNT}/token`, JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } }));
        tokenFile = path.join(tempDir("upgrade-token"), "token");
        fs.writeFileSync(tokenFile, tr.json<{ status: { token: string } }>().status.token, { mode: 0o600 });
    });

    after(async () => {
        if (cluster) await kube().request("DELETE", `/api/v1/namespaces/${NS}`);
    });

    it("the three Jobs and their pods are admitted as built: schema, Pod Security restricted (server-side dry run)", async () => {
        const backup = upgradeBackupJob({
            namespace: NS, from: "3.10.0", to: "3.17.2", postgresImage: "postgres:16.10", uploaderImage: "mlflow-platform/mlflow:local",
            host: "postgres", username: "mlflow", passwordSecretName: "postgres-credentials", databases: backupDatabases("mlflow"),
            artifactRoot: "s3://mlflow-artifacts", aws: { keysSecretName: "mlflow-aws-credentials" }, encryption: { algorithm: "none" },
            serviceAccountName: BACKUP_SERVICE_ACCOUNT, resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } }, workDirSize: "1Gi",
        });
        for (const job of [upgradeStopJob(CONTROL), backup, upgradeResumeJob(CONTROL)] as unknown as KubeObject[]) {
            const r = await kube().apply(job, { dryRun: true });
            assert.equal(r.status, 201, `Job ${job.metadata.name}: HTTP ${r.status}: ${statusMessage(r)}`);
            const template = (job as unknown as { spec: { template: { metadata: object; spec: object } } }).spec.template;
            const pod = { apiVersion: "v1", kind: "Pod", metadata: { ...template.metadata, name: `${job.metadata.name}-dry`, namespace: NS }, spec: template.spec };
            const p = await kube().request("POST", `/api/v1/namespaces/${NS}/pods?dryRun=All`, JSON.stringify(pod));
            assert.equal(p.status, 201, `the pod of ${job.metadata.name} under restricted: HTTP ${p.status}: ${statusMessage(p)}`);
        }
        // The check can fail: a pod without the restricted settings is refused in this namespace.
        const bad = { apiVersion: "v1", kind: "Pod", metadata: { name: "not-restricted", namespace: NS }, spec: { containers: [{ name: "c", image: "x" }] } };
        const refused = await kube().request("POST", `/api/v1/namespaces/${NS}/pods?dryRun=All`, JSON.stringify(bad));
        assert.equal(refused.status, 403, statusMessage(refused));
        assert.match(statusMessage(refused), /violates PodSecurity "restricted/);
    });

    it("stop: 3 replicas recorded, gc CronJob suspended and recorded, scaled to 0 through the scale subresource, no pod left", async () => {
        assert.equal((await trackingPods()).length, 3, "3 pods before");
        const t0 = Date.now();
        const r = await run("stop");
        const took = Date.now() - t0;
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(r.stderr, "", describeRun(r));
        const out = lines(r.stdout);
        for (const l of out) assert.match(l, /^upgrade-control: /, `one line per step: ${l}`);
        assert.match(r.stdout, /deployment mlflow: recorded 3 replica\(s\), CronJobs to resume: mlflow-gc\n/);
        assert.match(r.stdout, /cronjob mlflow-gc: suspended\n/);
        assert.match(r.stdout, /no Job of mlflow-gc running/);
        assert.match(r.stdout, /deployment mlflow: scaled from 3 to 0 replicas\n/);
        assert.match(r.stdout, /no pod of deployment mlflow left \(3 terminated, waited \d+ s\): the tracking server is stopped\n$/);
        // in that order: record, suspend, wait, scale, gone
        const order = ["recorded", "suspended", "no Job", "scaled", "no pod"].map((w) => out.findIndex((l) => l.includes(w)));
        assert.deepEqual([...order].sort((a, b) => a - b), order, out.join("\n"));

        const d = await deployment();
        assert.equal(d.spec.replicas, 0);
        assert.equal(d.metadata.annotations?.[REPLICAS_ANNOTATION], "3");
        assert.equal(d.metadata.annotations?.[SUSPENDED_ANNOTATION], "mlflow-gc");
        assert.deepEqual(await trackingPods(), [], "no pod of the Deployment exists (terminating included)");
        assert.equal(await cronJobSuspended(), true);
        // The replicas went through the scale subresource: the API server takes spec.replicas from the applier's
        // fields and records no owner for it (seen here: no "scale" entry), so the program's next apply sets its
        // count without a conflict.
        const owners = (d.metadata.managedFields ?? []).filter((m) => (m as { fieldsV1?: { "f:spec"?: Record<string, unknown> } }).fieldsV1?.["f:spec"]?.["f:replicas"] !== undefined);
        assert.deepEqual(owners.map((m) => m.manager), [], JSON.stringify(d.metadata.managedFields));
        process.stderr.write(`[upgrade] stop of 3 replicas: ${took} ms\n`);
    });

    it("stop again: finds everything done, writes nothing, keeps the recorded count", async () => {
        const before = await deployment();
        const cjBefore = (await kube().get("batch/v1", "CronJob", NS, GC_CRONJOB)) as unknown as DeploymentState;
        await new Promise((res) => setTimeout(res, 1100)); // managedFields times have second resolution
        const r = await run("stop");
        assert.equal(r.code, 0, describeRun(r));
        assert.match(r.stdout, /3 replica\(s\) already recorded by an earlier run: kept/);
        assert.match(r.stdout, /cronjob mlflow-gc: already suspended by an earlier run of this step/);
        assert.match(r.stdout, /deployment mlflow: already at 0 replicas/);
        assert.doesNotMatch(r.stdout, /scaled|: suspended\n/);
        const after = await deployment();
        assert.deepEqual(after.metadata.annotations, before.metadata.annotations);
        assert.equal(after.spec.replicas, 0);
        assert.equal(lastWrite(after), lastWrite(before), "no write to the Deployment");
        assert.equal(lastWrite((await kube().get("batch/v1", "CronJob", NS, GC_CRONJOB)) as unknown as DeploymentState), lastWrite(cjBefore), "no write to the CronJob");
    });

    it("resume: back to the recorded 3, rollout complete, gc CronJob unsuspended, annotations gone; again: nothing to do", async () => {
        const r = await run("resume");
        assert.equal(r.code, 0, describeRun(r));
        assert.match(r.stdout, /deployment mlflow: scaled from 0 back to 3 replica\(s\)/);
        assert.match(r.stdout, /deployment mlflow: rollout complete \(3 updated, 3 ready, 3 in total of 3, waited \d+ s\)/);
        assert.match(r.stdout, /cronjob mlflow-gc: unsuspended/);
        assert.match(r.stdout, /upgrade annotations removed/);
        const d = await deployment();
        // The script said complete only when it was: at this instant, with no wait of the test's own.
        assert.equal(d.spec.replicas, 3);
        assert.equal(d.status?.readyReplicas, 3);
        assert.equal((await trackingPods()).length, 3);
        assert.equal(await cronJobSuspended(), false);
        assert.equal(d.metadata.annotations?.[REPLICAS_ANNOTATION], undefined);
        assert.equal(d.metadata.annotations?.[SUSPENDED_ANNOTATION], undefined);

        const again = await run("resume");
        assert.equal(again.code, 0, describeRun(again));
        assert.deepEqual(lines(again.stdout), ["upgrade-control: deployment mlflow: nothing recorded by a stop step: nothing to resume"]);
    });

    it("resume after the program set the replicas itself (no autoscaler) and rolled a new image: leaves its count, waits for the rollout", async () => {
        const stop = await run("stop");
        assert.equal(stop.code, 0, describeRun(stop));
        // Step 4 as the program does it without an autoscaler: a forced apply of the new image with its own count.
        const r = await kube().request("PATCH", `/apis/apps/v1/namespaces/${NS}/deployments/${TRACKING_SERVICE_NAME}?fieldManager=pulumi-kubernetes-test&force=true`,
            JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: TRACKING_SERVICE_NAME, namespace: NS }, spec: { replicas: 2, template: { metadata: { labels: POD_LABELS }, spec: { containers: [{ name: "mlflow", image: "mlflow-platform/mlflow:3.17.2" }] } } } }),
            "application/apply-patch+yaml");
        assert.equal(r.status, 200, statusMessage(r));
        const res = await run("resume");
        assert.equal(res.code, 0, describeRun(res));
        assert.match(res.stdout, /deployment mlflow: at 2 replica\(s\), set since the stop step \(recorded 3\): left as is/);
        assert.doesNotMatch(res.stdout, /scaled/);
        assert.match(res.stdout, /rollout complete \(2 updated, 2 ready, 2 in total of 2/);
        const d = await deployment();
        assert.equal(d.spec.replicas, 2);
        assert.equal(d.spec.template.spec.containers[0].image, "mlflow-platform/mlflow:3.17.2");
        const pods = await trackingPods();
        assert.equal(pods.length, 2);
        for (const p of pods) assert.equal((p as unknown as { spec: { containers: { image: string }[] } }).spec.containers[0].image, "mlflow-platform/mlflow:3.17.2", "only new pods");
        assert.equal(await cronJobSuspended(), false);
        assert.equal(d.metadata.annotations?.[REPLICAS_ANNOTATION], undefined);
    });

    it("a running gc Job: stop waits for it before scaling, and fails naming it when it does not end in time", async () => {
        const cj = (await kube().get("batch/v1", "CronJob", NS, GC_CRONJOB))!;
        // A Job of the CronJob (as `kubectl create job --from=cronjob/mlflow-gc` makes it) whose pod cannot be scheduled: it runs until deleted.
        const job: KubeObject = {
            apiVersion: "batch/v1", kind: "Job",
            metadata: { name: "mlflow-gc-manual", namespace: NS, ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: GC_CRONJOB, uid: cj.metadata.uid!, controller: true }] },
            spec: {
                backoffLimit: 0,
                template: {
                    spec: {
                        restartPolicy: "Never", nodeSelector: { "no-such-node": "true" },
                        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
                        containers: [{ name: "gc", image: "mlflow-platform/mlflow:3.17.2", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
                    },
                },
            },
        };
        await applyOk(job);
        const replicasBefore = (await deployment()).spec.replicas;

        const timedOut = await run("stop", { UPGRADE_JOBS_TIMEOUT_SECONDS: "3" });
        assert.equal(timedOut.code, 1, describeRun(timedOut));
        assert.equal(lines(timedOut.stderr).length, 1, `one line: ${timedOut.stderr}`);
        assert.match(timedOut.stderr, /^upgrade-control stop: error: timed out after 3 s waiting for the Jobs of mlflow-gc to end: job\(s\) still running: mlflow-gc-manual -- nothing was migrated yet/);
        assert.equal((await deployment()).spec.replicas, replicasBefore, "not scaled while a gc Job runs");
        assert.equal((await trackingPods()).length, replicasBefore);
        assert.equal(await cronJobSuspended(), true, "suspended first (no new Job starts)");

        // Waiting: the Job ends (deleted) three seconds into the step.
        const t0 = Date.now();
        const running = run("stop");
        await new Promise((res) => setTimeout(res, 3000));
        await kube().ok("DELETE", `/apis/batch/v1/namespaces/${NS}/jobs/mlflow-gc-manual?propagationPolicy=Background`);
        const r = await running;
        assert.equal(r.code, 0, describeRun(r));
        const waited = Number(/no Job of mlflow-gc running \(waited (\d+) s\)/.exec(r.stdout)?.[1]);
        assert.ok(waited >= 2, `waited ${waited} s for the Job (deleted after 3 s): ${r.stdout}`);
        assert.match(r.stdout, /2 replica\(s\) already recorded by an earlier run: kept/, "the count the failed attempt recorded");
        assert.deepEqual(await trackingPods(), []);
        process.stderr.write(`[upgrade] stop with a running gc Job: ${Date.now() - t0} ms\n`);
        const res = await run("resume");
        assert.equal(res.code, 0, describeRun(res));
        await rolledOut(2);
        assert.equal(await cronJobSuspended(), false);
    });

    it("a Role missing a verb: stop fails in one line naming the call, nothing scaled; with the Role back a rerun finishes", async () => {
        const role = upgradeRole(NS) as unknown as KubeObject & { rules: { resources: string[] }[] };
        const without = { ...role, rules: role.rules.filter((r) => !r.resources.includes("deployments/scale")) };
        assert.equal(without.rules.length, role.rules.length - 1);
        await applyOk(without);
        await kube().waitFor("RBAC without patch on deployments/scale", 30_000, async () => ((await allowed("patch", "apps", "deployments/scale", TRACKING_SERVICE_NAME)) ? undefined : true));
        try {
            const r = await run("stop");
            assert.equal(r.code, 1, describeRun(r));
            assert.equal(lines(r.stderr).length, 1, `one line: ${r.stderr}`);
            assert.match(r.stderr, /^upgrade-control stop: error: patch deployments\/scale mlflow in namespace mlflow-upgrade-it: forbidden: the ServiceAccount's Role does not allow patch on deployments\/scale \(API group apps\): .* -- nothing was migrated yet/);
            assert.equal((await deployment()).spec.replicas, 2, "not scaled");
            assert.equal((await trackingPods()).length, 2);
        } finally {
            await applyOk(role);
        }
        await kube().waitFor("RBAC with patch on deployments/scale", 30_000, async () => ((await allowed("patch", "apps", "deployments/scale", TRACKING_SERVICE_NAME)) ? true : undefined));
        // The RBAC check is by name too: another Deployment is out of reach.
        assert.equal(await allowed("patch", "apps", "deployments/scale", "other"), false);
        const rerun = await run("stop");
        assert.equal(rerun.code, 0, describeRun(rerun));
        assert.match(rerun.stdout, /2 replica\(s\) already recorded by an earlier run: kept/);
        assert.match(rerun.stdout, /scaled from 2 to 0/);
        const res = await run("resume");
        assert.equal(res.code, 0, describeRun(res));
        assert.match(res.stdout, /scaled from 0 back to 2/);
    });

    it("bad settings exit 2 naming the variable; a missing Deployment fails naming it", async () => {
        const bad = await run("stop", { UPGRADE_PODS_TIMEOUT_SECONDS: "soon" });
        assert.equal(bad.code, 2, describeRun(bad));
        assert.match(bad.stderr, /^upgrade-control stop: error: UPGRADE_PODS_TIMEOUT_SECONDS must be a whole number of seconds >= 1, got 'soon'\n$/);
        const usage = await runCommand(python, ["-I", "-S", SCRIPT_PATH, "pause"], { env: { PATH: process.env.PATH ?? "" } });
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /usage: upgrade-control\.py stop \| resume \(got pause\)/);
        const missing = await run("stop", { UPGRADE_DEPLOYMENT: "mlflow-nope" });
        assert.equal(missing.code, 1, describeRun(missing));
        // The Role names the Deployment: another one is forbidden before it could be missing.
        assert.match(missing.stderr, /get deployments mlflow-nope .*forbidden.* -- nothing was migrated yet/);
    });

    it("for the wiring: while stopped, a non-forced apply of suspend: false on the gc CronJob conflicts with the stop step's field manager", async () => {
        const stop = await run("stop");
        assert.equal(stop.code, 0, describeRun(stop));
        try {
            const body = JSON.stringify({ ...gcCronJob(), spec: { ...(gcCronJob().spec as object) } });
            const plainApply = await kube().request("PATCH", `/apis/batch/v1/namespaces/${NS}/cronjobs/${GC_CRONJOB}?fieldManager=pulumi-kubernetes-test`, body, "application/apply-patch+yaml");
            assert.equal(plainApply.status, 409, statusMessage(plainApply));
            assert.match(statusMessage(plainApply), /conflict with "mlflow-upgrade".*\.spec\.suspend/);
            process.stderr.write(`[upgrade] an apply of the gc CronJob between stop and resume without force: HTTP 409: ${statusMessage(plainApply)}\n`);
        } finally {
            const res = await run("resume");
            assert.equal(res.code, 0, describeRun(res));
        }
    });
});
