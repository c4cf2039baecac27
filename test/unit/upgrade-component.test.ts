/**
 * The MLflow upgrade's wiring under the render's mocks: which steps a stack declares for a given record of the
 * database's version (the dump for the in-cluster database, a retained snapshot for RDS), and the refusals before
 * any resource is registered. The order the engine takes them in is the engine suite's (mlflow-upgrade.test.ts).
 */
import * as assert from "node:assert/strict";
import { MlflowPlatform } from "../../components/mlflow-platform";
import { ConfigError } from "../../config";
import { loadPlatformConfig } from "../../lib/load-config";
import type { SchemaRecord } from "../../lib/mlflow-version";
import { renderStack, type RenderResult } from "../../lib/render";
import { ROOT } from "../support/render";

const NEW = ["image.ref=registry.example.com/mlflow@sha256:" + "c".repeat(64), "image.mlflowVersion=3.17.2"];
const UPGRADE = "mlflow-platform:tracking:MlflowUpgrade";

function renderWith(stack: string, record: SchemaRecord, sets: readonly string[] = []): Promise<RenderResult> {
    return renderStack({ root: ROOT, stack, sets: [...NEW, ...sets], program: async () => (await MlflowPlatform.create("mlflow-platform", { config: loadPlatformConfig(), schemaRecord: record })).outputs });
}
/** An object's annotations (the render's metadata type leaves them untyped). */
const annotations = (o: { metadata: unknown } | undefined): Record<string, string> => ((o?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {});
const jobNames = (r: RenderResult) => r.kubernetes.filter((o) => o.kind === "Job").map((o) => o.metadata.name).sort();

describe("MLflow upgrade wiring (Pulumi mocks)", () => {
    it("no record and no server: a fresh install, no upgrade step; the record is written with the version", async () => {
        const r = await renderWith("dev", { trackingDeployed: false });
        assert.equal(r.resources.filter((x) => x.type === UPGRADE).length, 0);
        const record = r.kubernetes.find((o) => o.kind === "ConfigMap" && o.metadata.name === "mlflow-schema");
        assert.equal(annotations(record)["mlflow-platform.io/mlflow-version"], "3.17.2");
        assert.equal(annotations(record)["mlflow-platform.io/upgraded-from"], undefined);
    });

    it("in-cluster database, recorded 3.10.0: stop, dump to backups/pre-upgrade-3.10.0-to-3.17.2/, resume; the migration names the backup; the record says where it came from", async () => {
        const r = await renderWith("dev", { trackingDeployed: true, mlflowVersion: "3.10.0" });
        assert.equal(r.resources.filter((x) => x.type === UPGRADE).length, 1);
        const jobs = jobNames(r);
        for (const step of ["stop", "backup", "resume"]) assert.ok(jobs.includes(`mlflow-upgrade-3-10-0-to-3-17-2-${step}`), jobs.join(", "));
        const migration = r.kubernetes.find((o) => o.kind === "Job" && String(o.metadata.name).startsWith("mlflow-db-upgrade-"));
        assert.match(String(annotations(migration)["mlflow-platform/restorable-from"]), /\/backups\/pre-upgrade-3\.10\.0-to-3\.17\.2\/$/);
        assert.equal((migration as unknown as { spec: { backoffLimit: number } }).spec.backoffLimit, 0, "an upgrade's migration is not retried");
        const record = r.kubernetes.find((o) => o.kind === "ConfigMap" && o.metadata.name === "mlflow-schema");
        assert.equal(annotations(record)["mlflow-platform.io/upgraded-from"], "3.10.0");
        // The control Jobs suspend the gc CronJob only where it exists.
        const stop = r.kubernetes.find((o) => o.metadata.name === "mlflow-upgrade-3-10-0-to-3-17-2-stop") as unknown as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
        const cronJobs = stop.spec.template.spec.containers[0].env.find((e) => e.name === "UPGRADE_CRONJOBS")?.value;
        assert.equal(cronJobs, r.kubernetes.some((o) => o.kind === "CronJob" && o.metadata.name === "mlflow-gc") ? "mlflow-gc" : "");
    });

    it("RDS, recorded 3.10.0: a manual snapshot instead of the dump, retained when the stack lets go of it", async () => {
        const r = await renderWith("prod", { trackingDeployed: true, mlflowVersion: "3.10.0" });
        const snapshots = r.resources.filter((x) => x.type === "aws:rds/snapshot:Snapshot");
        assert.equal(snapshots.length, 1);
        assert.equal(snapshots[0].options?.retainOnDelete, true);
        assert.match(String(snapshots[0].inputs.dbSnapshotIdentifier), /-pre-upgrade-3-10-0-to-3-17-2$/);
        const jobs = jobNames(r);
        assert.ok(jobs.includes("mlflow-upgrade-3-10-0-to-3-17-2-stop") && !jobs.includes("mlflow-upgrade-3-10-0-to-3-17-2-backup"), jobs.join(", "));
    });

    it("refused before anything is registered: a downgrade (naming both versions), and an in-cluster upgrade with backup.enabled false", async () => {
        await assert.rejects(renderWith("dev", { trackingDeployed: true, mlflowVersion: "3.18.0" }), (e: unknown) => {
            assert.ok(e instanceof ConfigError);
            assert.match(e.message, /mlflow-platform:image\.mlflowVersion is 3\.17\.2, older than MLflow 3\.18\.0/);
            return true;
        });
        await assert.rejects(renderWith("dev", { trackingDeployed: true, mlflowVersion: "3.10.0" }, ["backup.enabled=false"]), /mlflow-platform:backup\.enabled must be true for the MLflow upgrade from 3\.10\.0 to 3\.17\.2 \(got false\)/);
    });
});
