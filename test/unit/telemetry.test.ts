import * as assert from "node:assert/strict";
import type { KubernetesObject, RenderResult } from "../../lib/render";
import { errorsOf } from "../support/config-errors";
import { render } from "../support/render";

/**
 * Every container of every stack's render, with serving, batch, gc, basic auth or single sign-on switched on so
 * that each kind of workload appears: pod templates (init containers too), the serving runtime's containers and
 * the storage initializer of the ClusterStorageContainer.
 */
const SERVED = ["serving.verifyArtifacts=false", 'serving.models=[{"name":"ch","storageUri":"s3://mlflow-artifacts-dev/1/models/m-1/artifacts"}]'];
const EVERYTHING: Record<string, string[]> = {
    dev: ["artifactStore.bucketName=mlflow-artifacts-dev", ...SERVED, 'batch.profiles=[{"name":"nightly"}]', "gc.enabled=true", "access.mode=ingress", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=le", "access.auth=basic"],
    sso: ["artifactStore.bucketName=mlflow-artifacts-dev", "access.mode=ingress", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=le", "access.auth=oidc", "access.oidc.issuerUrl=https://login.example.com/realms/ml", "access.oidc.clientId=mlflow", "access.oidc.clientSecret=s", 'access.oidc.allowedEmailDomains=["example.com"]'],
    rds: ["database.mode=rds", "database.migrateFromInCluster=true"],
    local: ['serving.models=[{"name":"ch","storageUri":"s3://mlflow-artifacts/1/models/m-1/artifacts"}]', "serving.verifyArtifacts=false", 'batch.profiles=[{"name":"nightly"}]', "gc.enabled=true"],
};
const STACK: Record<string, string> = { dev: "dev", sso: "dev", rds: "dev", local: "local" };

interface Container { name: string; env?: { name: string; value?: string }[] }

function containers(o: KubernetesObject): Container[] {
    const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking untyped rendered JSON
    if (!spec) return [];
    if (o.kind === "ClusterStorageContainer") return [spec.container];
    if (o.kind === "ClusterServingRuntime") return spec.containers;
    const pod = o.kind === "CronJob" ? spec.jobTemplate?.spec?.template?.spec : spec.template?.spec;
    return pod ? [...(pod.initContainers ?? []), ...pod.containers] : [];
}

function telemetryOf(r: RenderResult): { where: string; off: string | undefined; dnt: string | undefined }[] {
    return r.kubernetes.flatMap((o) =>
        containers(o).map((c) => {
            const v = (n: string) => c.env?.find((e) => e.name === n)?.value;
            return { where: `${o.kind}/${o.metadata.name}/${c.name}`, off: v("MLFLOW_DISABLE_TELEMETRY"), dnt: v("DO_NOT_TRACK") };
        }),
    );
}

describe("private by default: MLflow's usage telemetry", () => {
    for (const [name, sets] of Object.entries(EVERYTHING)) {
        it(`${name}: every container runs with MLFLOW_DISABLE_TELEMETRY and DO_NOT_TRACK true`, async () => {
            const all = telemetryOf(await render(STACK[name], sets));
            assert.ok(all.length >= 8, `containers found: ${all.map((c) => c.where).join(", ")}`);
            const leaking = all.filter((c) => c.off !== "true" || c.dnt !== "true").map((c) => `${c.where} (MLFLOW_DISABLE_TELEMETRY=${c.off}, DO_NOT_TRACK=${c.dnt})`);
            assert.deepEqual(leaking, []);
        });
    }

    it("telemetry.enabled turns it on for the MLflow workloads only; PostgreSQL, MinIO, backups and the storage initializer stay off", async () => {
        const all = telemetryOf(await render("local", [...EVERYTHING.local, "telemetry.enabled=true"]));
        const on = all.filter((c) => c.off === "false" && c.dnt === "false").map((c) => c.where).sort();
        const off = all.filter((c) => c.off === "true").map((c) => c.where);
        for (const w of ["Deployment/mlflow/mlflow", "CronJob/train-baseline/trainer", "CronJob/promote/promote", "CronJob/batch-nightly/batch", "CronJob/mlflow-gc/gc", "ClusterServingRuntime/mlflow-pyfunc/kserve-container"])
            assert.ok(on.includes(w), `${w} has telemetry on: ${on.join(", ")}`);
        assert.ok(on.some((w) => /^Job\/mlflow-db-upgrade-.*\/db-upgrade$/.test(w)), `the schema migration has it on: ${on.join(", ")}`);
        for (const w of ["StatefulSet/postgres/postgres", "StatefulSet/minio/minio", "Job/minio-bucket/mc", "ClusterStorageContainer/mlflow-platform-mlflow/storage-initializer"])
            assert.ok(off.includes(w), `${w} stays off`);
        assert.equal(all.filter((c) => c.off === undefined).length, 0);
    });

    it("telemetry.enabled must be a boolean", () => {
        assert.match(errorsOf({ telemetry: { enabled: "yes" } })[0], /mlflow-platform:telemetry\.enabled/);
    });
});
