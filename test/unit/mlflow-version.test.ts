import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILT_MLFLOW_VERSION, compareMlflowVersions, planMlflowUpgrade, UpgradeRefused } from "../../lib/mlflow-version";

const ROOT = path.join(__dirname, "..", "..");

describe("MLflow versions (lib/mlflow-version.ts)", () => {
    it("BUILT_MLFLOW_VERSION is the mlflow-skinny pin of images/mlflow/requirements.txt", () => {
        const pin = /^mlflow-skinny\[auth\]==(\S+)$/m.exec(fs.readFileSync(path.join(ROOT, "images", "mlflow", "requirements.txt"), "utf8"));
        assert.ok(pin, "images/mlflow/requirements.txt pins mlflow-skinny[auth]");
        assert.equal(BUILT_MLFLOW_VERSION, pin[1]);
    });

    it("compares as releases: numbers not strings, rc before the release, post after", () => {
        const ordered = ["2.22.1", "3.0.0rc1", "3.0.0", "3.1.4", "3.9.0", "3.10.0", "3.17.2", "3.17.2.post1", "4.0.0"];
        for (let i = 0; i + 1 < ordered.length; i++) {
            assert.ok(compareMlflowVersions(ordered[i], ordered[i + 1]) < 0, `${ordered[i]} < ${ordered[i + 1]}`);
            assert.ok(compareMlflowVersions(ordered[i + 1], ordered[i]) > 0, `${ordered[i + 1]} > ${ordered[i]}`);
        }
        assert.equal(compareMlflowVersions("3.17", "3.17.0"), 0);
        assert.throws(() => compareMlflowVersions("latest", "3.17.2"), /not an MLflow release version such as 3\.17\.2 .*: "latest"/);
    });

    describe("the plan from the cluster's record to the configured version", () => {
        it("nothing deployed: fresh; a server without a record: unrecorded (records, no steps); the same version: same", () => {
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: false }, "3.17.2"), { kind: "fresh", to: "3.17.2" });
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true }, "3.17.2"), { kind: "unrecorded", to: "3.17.2" });
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.17.2" }, "3.17.2"), { kind: "same", to: "3.17.2" });
        });
        it("after an upgrade, while the version stays: the same upgrade again (its steps unchanged: a further up changes nothing)", () => {
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.17.2", upgradedFrom: "3.10.0" }, "3.17.2"), { kind: "upgrade", from: "3.10.0", to: "3.17.2" });
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.17.2", upgradedFrom: "junk" }, "3.17.2"), { kind: "same", to: "3.17.2" });
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.17.2", upgradedFrom: "3.10.0" }, "3.18.0"), { kind: "upgrade", from: "3.17.2", to: "3.18.0" });
        });
        it("a newer version: upgrade from the recorded one, skips included (MLflow's migrations chain forward)", () => {
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.10.0" }, "3.17.2"), { kind: "upgrade", from: "3.10.0", to: "3.17.2" });
            assert.deepEqual(planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.0.0" }, "3.17.2"), { kind: "upgrade", from: "3.0.0", to: "3.17.2" });
        });
        it("a downgrade below the database's schema is refused naming both versions, the key and the way back", () => {
            const e = refusal(() => planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "3.17.2" }, "3.10.0"));
            assert.equal(e.key, "image.mlflowVersion");
            assert.match(e.message, /^is 3\.10\.0, older than MLflow 3\.17\.2, the version the tracking server's database was migrated to/);
            assert.match(e.message, /Nothing was changed/);
            assert.match(e.message, /restore the backup taken before the upgrade to 3\.17\.2 .*docs\/runbooks\.md, "Upgrade MLflow", "The way back"/);
        });
        it("from before MLflow 3, or an unreadable record: refused naming the version", () => {
            assert.match(refusal(() => planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "2.22.1" }, "3.17.2")).message, /upgrades from MLflow 2\.22\.1 to 3\.17\.2, but the platform upgrades databases of MLflow 3\.0\.0 or newer only/);
            assert.match(refusal(() => planMlflowUpgrade({ trackingDeployed: true, mlflowVersion: "three" }, "3.17.2")).message, /records MLflow version "three", which is not an MLflow release version/);
        });
    });
});

function refusal(f: () => unknown): UpgradeRefused {
    try {
        f();
    } catch (e) {
        if (e instanceof UpgradeRefused) return e;
        throw e;
    }
    assert.fail("not refused");
}
