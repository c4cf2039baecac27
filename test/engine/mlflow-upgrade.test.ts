/**
 * An MLflow version upgrade on the real engine and a real API server (kwok's node: pods are marked Running, Jobs
 * complete, nothing executes): what `pulumi preview` shows and the order `pulumi up` takes the steps in, the record
 * of the schema's version, and the refusals before anything changes. What the steps do is tested elsewhere on real
 * services: stop and resume (scripts/upgrade-control.py) in upgrade-control.test.ts, the migration of a database
 * written by an older MLflow and its backup in test/integration/mlflow-upgrade.test.ts.
 */
import assert from "node:assert/strict";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { engineStack, localSecrets, secretConfig, type EngineStack, type Step } from "../../testbed/stack";
import { main } from "../../program";

/** Its own namespace: an earlier suite on the shared cluster leaves its retained StatefulSets in `mlflow`. */
const NS = "mlflow-upgrade";
const OLD = { "image.ref": "mlflow-platform/mlflow:local", "image.mlflowVersion": "3.10.0" };
const NEW = { "image.ref": "mlflow-platform/mlflow:local-3.17.2", "image.mlflowVersion": "3.17.2" };

describe("engine: an MLflow upgrade is one config change and one up, its steps in order", function () {
    this.timeout(20 * 60_000);
    let cluster: Cluster;
    let stack: EngineStack;

    const schemaVersion = async () => (await cluster.kube.get("v1", "ConfigMap", NS, "mlflow-schema"))?.metadata.annotations?.["mlflow-platform.io/mlflow-version"];
    const jobNames = async () => (await cluster.kube.list("batch/v1", "Job", NS)).map((j) => j.metadata.name).sort();
    const index = (steps: Step[], what: string, pred: (s: Step) => boolean): number => {
        const i = steps.findIndex(pred);
        assert.ok(i >= 0, `no step for ${what}: ${steps.map((s) => `${s.op} ${s.type} ${s.name}`).join("; ")}`);
        return i;
    };

    before(async function () {
        this.timeout(80 * 60_000); // a cold toolchain build
        cluster = await sharedCluster();
        await cluster.removeCrds("kserve");
        stack = await engineStack(cluster, { base: "local", stackName: "mlflow-upgrade", program: main });
        await stack.configure({ ...secretConfig(localSecrets()), ...OLD, namespace: NS, "gc.enabled": true });
    });

    after(async () => {
        await stack?.destroy().catch(() => undefined);
        await stack?.remove();
    });

    it("a fresh install records the version after its migration; no upgrade step", async () => {
        const up = await stack.up();
        assert.equal(up.steps.filter((s) => s.type.includes("MlflowUpgrade")).length, 0);
        assert.equal(await schemaVersion(), "3.10.0");
        assert.ok(!(await jobNames()).some((n) => n.startsWith("mlflow-upgrade-")), (await jobNames()).join(", "));
    });

    it("preview of the new version lists stop, backup, migration, Deployment, resume and the record; up takes them in that order", async () => {
        await stack.configure(NEW);
        const preview = await stack.preview();
        const listed = preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.object?.kind ?? s.type} ${s.object?.name ?? s.name}`);
        for (const want of [
            "create Job mlflow-upgrade-3-10-0-to-3-17-2-stop",
            "create Job mlflow-upgrade-3-10-0-to-3-17-2-backup",
            "create Job mlflow-upgrade-3-10-0-to-3-17-2-resume",
            "update Deployment mlflow",
            "update ConfigMap mlflow-schema", // in place: the version is an annotation (a data change is a replace: a moment without a record)
        ])
            assert.ok(listed.includes(want), `the preview lists "${want}": ${listed.join("; ")}`);
        assert.ok(listed.some((l) => /^(create|create-replacement|replace) Job mlflow-db-upgrade-/.test(l)), listed.join("; "));

        const up = await stack.up();
        const s = up.steps;
        const job = (suffix: string) => (x: Step) => x.object?.kind === "Job" && x.object.name.endsWith(suffix) && x.op !== "same";
        const stop = index(s, "stop", job("-stop"));
        const backup = index(s, "backup", job("-backup"));
        const migration = index(s, "migration", (x) => x.object?.kind === "Job" && x.object.name.startsWith("mlflow-db-upgrade-") && x.op.startsWith("create"));
        const deployment = index(s, "Deployment", (x) => x.object?.kind === "Deployment" && x.object.name === "mlflow" && x.op === "update");
        const record = index(s, "record", (x) => x.object?.kind === "ConfigMap" && x.object.name === "mlflow-schema" && x.op === "update");
        const resume = index(s, "resume", job("-resume"));
        assert.ok(stop < backup && backup < migration && migration < deployment && deployment < resume && migration < record, `order: stop ${stop}, backup ${backup}, migration ${migration}, Deployment ${deployment}, record ${record}, resume ${resume}`);
        assert.equal(await schemaVersion(), "3.17.2");

        // The migration Job of the upgrade names its backup; the backup Job writes to the fixed prefix.
        const migrationJob = (await cluster.kube.list("batch/v1", "Job", NS)).find((j) => j.metadata.name.startsWith("mlflow-db-upgrade-") && j.metadata.annotations?.["mlflow-platform/upgrade-to"] === "3.17.2");
        assert.ok(migrationJob, (await jobNames()).join(", "));
        assert.match(migrationJob.metadata.annotations?.["mlflow-platform/restorable-from"] ?? "", /^s3:\/\/[^/]+\/backups\/pre-upgrade-3\.10\.0-to-3\.17\.2\/$/);
    });

    it("a further up changes nothing: the last upgrade's steps stay declared (the record names where it came from)", async () => {
        const again = await stack.up();
        assert.deepEqual(Object.keys(again.changes), ["same"], JSON.stringify(again.changes));
        const record = await cluster.kube.get("v1", "ConfigMap", NS, "mlflow-schema");
        assert.equal(record?.metadata.annotations?.["mlflow-platform.io/upgraded-from"], "3.10.0");
    });

    it("a downgrade below the database's version is refused at preview naming both versions; nothing changes", async () => {
        const jobsBefore = await jobNames();
        await assert.rejects(
            stack.withConfig(OLD, () => stack.preview()),
            (e: Error) => {
                assert.match(e.message, /mlflow-platform:image\.mlflowVersion is 3\.10\.0, older than MLflow 3\.17\.2, the version the tracking server's database was migrated to/);
                return true;
            },
        );
        await assert.rejects(stack.withConfig(OLD, () => stack.up()), /older than MLflow 3\.17\.2/);
        assert.equal(await schemaVersion(), "3.17.2");
        assert.deepEqual(await jobNames(), jobsBefore);
    });
});
