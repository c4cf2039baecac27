import * as assert from "node:assert/strict";
import { diffRenders } from "../../lib/diff";
import type { RenderResult } from "../../lib/render";
import { isBuiltIn, validateKubernetesObject } from "../support/k8s-validate";
import { allStrings, containersOf, findObject, render } from "../support/render";

describe("render: local stack (MinIO, no AWS)", () => {
    let r: RenderResult;
    before(async () => {
        r = await render("local");
    });
    it("creates no AWS resource and needs no aws:region", () => {
        assert.deepEqual(r.resources.filter((x) => x.type.startsWith("aws:") || x.type.startsWith("docker-build:")), []);
    });
    it("every Kubernetes object is valid", () => {
        for (const o of r.kubernetes.filter(isBuiltIn)) validateKubernetesObject(o);
    });
    it("MinIO has persistent storage that survives the StatefulSet, credentials only from Secrets", () => {
        const sts = findObject(r, "StatefulSet", "minio");
        const spec = sts.spec as { volumeClaimTemplates: unknown[]; persistentVolumeClaimRetentionPolicy: unknown };
        assert.equal(spec.volumeClaimTemplates.length, 1);
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
        const env = containersOf(sts)[0].env as { name: string; value?: string; valueFrom?: unknown }[];
        for (const e of env.filter((x) => x.name.startsWith("MINIO_ROOT"))) assert.ok(e.valueFrom && e.value === undefined, e.name);
        assert.ok(!allStrings([r.resources, r.kubernetes, r.outputs]).some((s) => s.startsWith("mockpw")));
    });
    it("the bucket Job makes the bucket private and versioned", () => {
        const script = JSON.stringify(findObject(r, "Job", "minio-bucket"));
        assert.match(script, /mc version enable local\/mlflow-artifacts/);
        assert.match(script, /mc anonymous set none local\/mlflow-artifacts/);
    });
    it("tracking server and training use MinIO through MLFLOW_S3_ENDPOINT_URL, artifacts stay s3://", () => {
        for (const o of [findObject(r, "Deployment", "mlflow"), findObject(r, "CronJob", "train-baseline")]) {
            const env = Object.fromEntries((containersOf(o)[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
            assert.equal(env.MLFLOW_S3_ENDPOINT_URL, "http://minio.mlflow.svc.cluster.local:9000");
        }
        const args = containersOf(findObject(r, "Deployment", "mlflow"))[0].args as string[];
        assert.equal(args[args.indexOf("--default-artifact-root") + 1], "s3://mlflow-artifacts/");
    });
    it("switching artifactStore.mode s3 → minio changes only the store, keys and endpoint wiring", async () => {
        const s3 = await render("local", ["artifactStore.mode=s3", "aws:region=eu-west-1", "image.build=false"]);
        const d = diffRenders(s3.resources, r.resources);
        const touched = [...d.added, ...d.removed, ...d.changed];
        assert.ok(!touched.some((x) => x.type.includes("InClusterDatabase")), "the database component is untouched");
        assert.ok(!touched.some((x) => x.name === "postgres" || x.name === "postgres-backend-store" || x.name === "postgres-password"), "no PostgreSQL resource is touched");
        assert.ok(d.added.some((x) => x.type === "mlflow-platform:storage:MinioStore"));
        assert.ok(d.removed.some((x) => x.type === "aws:s3/bucket:Bucket"));
    });
    it("minio mode refuses rds, irsa and an image build", async () => {
        await assert.rejects(render("local", ["database.mode=rds"]), /database\.mode must be "inCluster" when artifactStore\.mode is "minio"/);
        await assert.rejects(render("local", ["image.build=true"]), /image\.build must be false when artifactStore\.mode is "minio"/);
    });
});
