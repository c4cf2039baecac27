import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main as renderMain } from "../../cli/render";
import type { RenderResult } from "../../lib/render";
import { isBuiltIn, validateKubernetesObject } from "../support/k8s-validate";
import { kserveErrors } from "../support/kserve-schema";
import { allStrings, containersOf, findObject, render, resourcesOfType } from "../support/render";

/** Runs a CLI main with stderr captured. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; stderr: string }> {
    const write = process.stderr.write.bind(process.stderr);
    let stderr = "";
    process.stderr.write = ((chunk: string | Uint8Array) => {
        stderr += chunk.toString();
        return true;
    }) as typeof process.stderr.write;
    try {
        return { code: await fn(), stderr };
    } finally {
        process.stderr.write = write;
    }
}

describe("render: dev stack (current state)", function () {
    let r: RenderResult;
    before(async () => {
        r = await render("dev");
    });

    it("every Kubernetes object is valid against its published schema", () => {
        assert.ok(r.kubernetes.length >= 10);
        for (const o of r.kubernetes.filter(isBuiltIn)) validateKubernetesObject(o);
        const custom = r.kubernetes.filter((o) => !isBuiltIn(o));
        assert.deepEqual(custom.map((o) => o.kind), [], "no model is served: no KServe object, so no KServe CRDs are needed");
        for (const o of custom) assert.deepEqual(kserveErrors(o), [], `${o.kind} ${o.metadata.name}`);
    });
    it("objects are sorted by kind, namespace, name", () => {
        const keys = r.kubernetes.map((o) => `${o.kind}\0${o.metadata.namespace ?? ""}\0${o.metadata.name}`);
        assert.deepEqual(keys, [...keys].sort());
    });
    it("bucket: versioning, encryption, all four public-access blocks, owner-enforced, TLS-only policy, lifecycle", () => {
        const bucket = resourcesOfType(r, "aws:s3/bucket:Bucket");
        assert.equal(bucket.length, 1);
        assert.equal(bucket[0].inputs.forceDestroy, false);
        assert.equal((resourcesOfType(r, "aws:s3/bucketVersioning:BucketVersioning")[0].inputs.versioningConfiguration as { status: string }).status, "Enabled");
        const sse = resourcesOfType(r, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0].inputs;
        assert.equal((sse.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[])[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
        const pab = resourcesOfType(r, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs;
        for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.equal(pab[k], true, k);
        assert.deepEqual(resourcesOfType(r, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0].inputs.rule, { objectOwnership: "BucketOwnerEnforced" });
        const policy = JSON.parse(resourcesOfType(r, "aws:s3/bucketPolicy:BucketPolicy")[0].inputs.policy as string);
        assert.deepEqual(policy.Statement[0].Condition, { Bool: { "aws:SecureTransport": false } });
        const rules = resourcesOfType(r, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0].inputs.rules as Record<string, unknown>[];
        assert.deepEqual(rules.map((x) => x.id), ["expire-noncurrent-versions", "abort-incomplete-multipart-uploads", "expire-database-backups"]);
    });
    it("in-cluster PostgreSQL with persistent storage that outlives the StatefulSet", () => {
        const sts = findObject(r, "StatefulSet", "postgres");
        const spec = sts.spec as { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[]; persistentVolumeClaimRetentionPolicy: unknown };
        assert.equal(spec.volumeClaimTemplates[0].spec.resources.requests.storage, "20Gi");
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
        findObject(r, "Service", "postgres");
    });
    it("tracking server: Service mlflow:5000, /health probes, allowed hosts, backend URI only from a Secret, S3 root, PDB, db upgrade Job", () => {
        const svc = findObject(r, "Service", "mlflow");
        assert.equal((svc.spec as { ports: { port: number }[] }).ports[0].port, 5000);
        const dep = findObject(r, "Deployment", "mlflow");
        const c = containersOf(dep)[0] as { args: string[]; env: { name: string; value?: string }[]; readinessProbe: { httpGet: { path: string } } };
        assert.equal(c.readinessProbe.httpGet.path, "/health");
        const hosts = c.args[c.args.indexOf("--allowed-hosts") + 1].split(",");
        assert.ok(hosts.includes("mlflow.mlflow.svc.cluster.local") && hosts.includes("mlflow.mlflow.svc.cluster.local:5000"));
        assert.equal(c.args[c.args.indexOf("--default-artifact-root") + 1], "s3://mlflow-artifacts-dev/");
        assert.ok(!c.args.some((a) => a.startsWith("postgresql")));
        assert.equal(c.env.find((e) => e.name === "MLFLOW_BACKEND_STORE_URI")?.value, undefined);
        findObject(r, "PodDisruptionBudget", "mlflow");
        const job = r.kubernetes.find((o) => o.kind === "Job" && String(o.metadata.name).startsWith("mlflow-db-upgrade-"));
        assert.ok(job, "schema migration Job");
        assert.match(JSON.stringify(job), /"mlflow","db","upgrade","\$\(MLFLOW_BACKEND_STORE_URI\)"/);
    });
    it("the Deployment waits for the schema migration", () => {
        assert.ok(resourcesOfType(r, "kubernetes:batch/v1:Job").length === 1);
        assert.ok(r.resources.findIndex((x) => x.type === "kubernetes:batch/v1:Job") < r.resources.findIndex((x) => x.type === "kubernetes:apps/v1:Deployment"));
    });
    it("suspended CronJobs per profile with the tracking URI, experiment and four hyperparameters", () => {
        for (const [name, depth] of [["train-baseline", "6"], ["train-deep", "12"]]) {
            const cj = findObject(r, "CronJob", name);
            assert.equal((cj.spec as { suspend: boolean }).suspend, true);
            const env = Object.fromEntries((containersOf(cj)[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
            assert.equal(env.MLFLOW_TRACKING_URI, "http://mlflow.mlflow.svc.cluster.local:5000");
            assert.equal(env.MLFLOW_EXPERIMENT_NAME, "california_housing_price");
            assert.equal(env.MAX_DEPTH, depth);
            for (const k of ["LEARNING_RATE", "MAX_ITER", "RANDOM_STATE"]) assert.ok(env[k], k);
        }
    });
    it("every container runs non-root with requests and limits", () => {
        for (const o of r.kubernetes.filter((x) => ["Deployment", "StatefulSet", "Job", "CronJob"].includes(x.kind))) {
            for (const c of containersOf(o) as { name: string; securityContext?: { runAsNonRoot?: boolean }; resources?: { requests?: object; limits?: object } }[]) {
                assert.equal(c.securityContext?.runAsNonRoot, true, `${o.kind}/${o.metadata.name}/${c.name}`);
                assert.ok(c.resources?.requests && c.resources?.limits, `${o.kind}/${o.metadata.name}/${c.name} resources`);
            }
        }
    });
    it("no secret value and no database URL with a password in plain text anywhere", () => {
        const strings = allStrings([r.resources, r.kubernetes, r.outputs]);
        assert.ok(!strings.some((s) => /postgres(ql)?:\/\/[^:]+:[^@[]+@/.test(s)), "a database URL with a password");
        assert.ok(!strings.some((s) => s.startsWith("mockpw") || s.startsWith("mock-secret-")), "a generated secret");
        for (const secret of r.kubernetes.filter((o) => o.kind === "Secret")) {
            for (const v of Object.values((secret.stringData ?? secret.data ?? {}) as Record<string, string>)) assert.equal(v, "[secret]");
        }
        // The keys stay readable in the render (the provider's SDK hands stringData over as one secret).
        const keys = (name: string) => Object.keys(findObject(r, "Secret", name).stringData as Record<string, string>).sort();
        assert.deepEqual(keys("mlflow-backend-store"), ["uri"]);
        assert.deepEqual(keys("mlflow-aws-credentials"), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    });
    it("stack outputs: tracking URI, bucket, database mode, image ref, training templates with launch commands", () => {
        assert.equal(r.outputs.trackingUri, "http://mlflow.mlflow.svc.cluster.local:5000");
        assert.equal(r.outputs.bucketName, "mlflow-artifacts-dev");
        assert.equal(r.outputs.databaseMode, "inCluster");
        assert.match(String(r.outputs.imageRef), /@sha256:[0-9a-f]{64}$/);
        const templates = r.outputs.trainingTemplates as { cronJob: string; launch: string }[];
        assert.deepEqual(templates.map((t) => t.cronJob), ["train-baseline", "train-deep"]);
        assert.match(templates[0].launch, /^kubectl create job --namespace mlflow --from=cronjob\/train-baseline /);
    });
    it("runs only images it builds (pinned by digest in its own ECR repositories) or that config names", () => {
        const built = resourcesOfType(r, "docker-build:index:Image").map((x) => x.name).sort();
        assert.deepEqual(built, ["mlflow-image", "trainer-image"], "a stack serving nothing builds no serving image");
        const ecr = /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/mlflow-platform\/dev\/(mlflow|trainer)@sha256:[0-9a-f]{64}$/;
        assert.match(String(r.outputs.imageRef), ecr);
        assert.match(String(r.outputs.trainerImage), ecr);
        assert.equal(r.outputs.servingRuntimeImage, undefined);
        const named = new Set([String(r.outputs.imageRef), String(r.outputs.trainerImage), r.config.database.inCluster.image]);
        const workloads = r.kubernetes.filter((o) => ["Deployment", "StatefulSet", "Job", "CronJob", "Pod"].includes(o.kind));
        const images = workloads.flatMap((o) => containersOf(o).map((c) => [`${o.kind}/${o.metadata.name}`, String(c.image)] as const));
        assert.ok(images.length >= 4, `${images.length} containers`);
        for (const [where, image] of images) assert.ok(named.has(image), `${where} runs ${image}, which the stack neither builds nor names in config`);
        for (const cj of ["train-baseline", "train-deep"]) assert.equal(containersOf(findObject(r, "CronJob", cj))[0].image, r.outputs.trainerImage);
        // The tracking-server image keeps its first type token as an alias: existing stacks keep their repository.
        assert.equal(resourcesOfType(r, "aws:ecr/repository:Repository").find((x) => x.name === "mlflow-image")?.parent, "mlflow-platform:image:ProjectImage::mlflow-image");
        const aliases = Object.fromEntries(resourcesOfType(r, "mlflow-platform:image:ProjectImage").map((x) => [x.name, x.options?.aliasTypes]));
        assert.deepEqual(aliases, { "mlflow-image": ["mlflow-platform:image:MlflowImage"], "trainer-image": undefined });
    });
    it("stateful resources survive a destroy: bucket, namespace and StatefulSet are retained", () => {
        for (const type of ["aws:s3/bucket:Bucket", "kubernetes:core/v1:Namespace"]) {
            assert.deepEqual(resourcesOfType(r, type)[0].options, { retainOnDelete: true }, type);
        }
        // The StatefulSet keeps its claim template's size as created: the claim patch grows the volume.
        assert.deepEqual(resourcesOfType(r, "kubernetes:apps/v1:StatefulSet")[0].options, {
            retainOnDelete: true,
            ignoreChanges: ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"],
        });
        const patch = resourcesOfType(r, "kubernetes:core/v1:PersistentVolumeClaimPatch");
        assert.deepEqual(patch.map((p) => [p.name, (p.inputs.metadata as { name: string }).name, (p.inputs.spec as { resources: unknown }).resources]), [
            ["postgres-data", "data-postgres-0", { requests: { storage: "20Gi" } }],
        ]);
        assert.equal(resourcesOfType(r, "aws:s3/bucket:Bucket")[0].parent, "mlflow-platform:storage:ArtifactStore::artifacts");
        assert.equal(resourcesOfType(r, "kubernetes:apps/v1:Deployment")[0].options, undefined);
    });
    it("image.ref skips the tracking-server build and its repository; the trainer is still built", async () => {
        const pinned = await render("dev", ["image.ref=registry.example.com/mlflow@sha256:" + "a".repeat(64), "image.mlflowVersion=3.17.2"]);
        assert.deepEqual(resourcesOfType(pinned, "docker-build:index:Image").map((x) => x.name), ["trainer-image"]);
        assert.deepEqual(resourcesOfType(pinned, "aws:ecr/repository:Repository").map((x) => x.inputs.name), ["mlflow-platform/dev/trainer"]);
        assert.equal(containersOf(findObject(pinned, "Deployment", "mlflow"))[0].image, "registry.example.com/mlflow@sha256:" + "a".repeat(64));
    });
    it("image.build=false with every image in use named builds nothing", async () => {
        const named = await render("dev", ["image.build=false", "image.ref=registry.example.com/mlflow@sha256:" + "a".repeat(64), "image.mlflowVersion=3.17.2", "training.image=registry.example.com/trainer@sha256:" + "b".repeat(64)]);
        assert.equal(resourcesOfType(named, "docker-build:index:Image").length, 0);
        assert.equal(resourcesOfType(named, "aws:ecr/repository:Repository").length, 0);
        assert.equal(containersOf(findObject(named, "CronJob", "train-baseline"))[0].image, "registry.example.com/trainer@sha256:" + "b".repeat(64));
    });
    it("keys from config: no IAM user, the keys Secret still exists", async () => {
        const byo = await render("dev", ["staticKeys.accessKeyId=AKIAEXAMPLE", "staticKeys.secretAccessKey=example"]);
        assert.equal(resourcesOfType(byo, "aws:iam/user:User").length, 0);
        findObject(byo, "Secret", "mlflow-aws-credentials");
        assert.ok(!allStrings(byo.kubernetes).includes("example"));
    });
});

describe("render CLI", () => {
    it("writes the three files", async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
        const { code } = await capture(() => renderMain(["--stack", "dev", "--out", out]));
        assert.equal(code, 0);
        assert.deepEqual(fs.readdirSync(out).sort(), ["kubernetes.yaml", "outputs.json", "resources.json"]);
        const resources = JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8")) as { type: string }[];
        assert.ok(resources.some((x) => x.type === "mlflow-platform:storage:ArtifactStore"));
        assert.match(fs.readFileSync(path.join(out, "kubernetes.yaml"), "utf8"), /kind: StatefulSet/);
        fs.rmSync(out, { recursive: true });
    });
    it("exit 2 naming the key for invalid config", async () => {
        const { code, stderr } = await capture(() => renderMain(["--stack", "dev", "--set", "database.mode=bogus", "--out", os.tmpdir()]));
        assert.equal(code, 2);
        assert.match(stderr, /mlflow-platform:database\.mode must be "inCluster" or "rds" \(got "bogus"\)/);
    });
    it("exit 2 for an unknown stack and for an unknown flag", async () => {
        assert.equal((await capture(() => renderMain(["--stack", "nope"]))).code, 2);
        assert.equal((await capture(() => renderMain(["--stak", "dev"]))).code, 2);
    });
});
