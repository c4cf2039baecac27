import * as assert from "node:assert/strict";
import { configSpec, cpuCores, mlflowVersionOf, parseConfig, postgresImageMajor, secretPaths, servingProcesses } from "../../config";
import * as fs from "node:fs";
import * as path from "node:path";
import { configReference, REFERENCE_PATH } from "../../cli/config-reference";
import { errorsOf } from "../support/config-errors";
import { didYouMean, editDistance, referenceRows } from "../../lib/schema";

const dev = { artifactStore: {}, database: { mode: "inCluster" } };


describe("config: defaults", () => {
    it("fills every default from an empty config", () => {
        const c = parseConfig({}, "dev");
        assert.equal(c.namespace, "mlflow");
        assert.equal(c.database.mode, "inCluster");
        assert.equal(c.database.inCluster.storageSize, "20Gi");
        assert.equal(c.artifactAuth, "staticKeys");
        assert.equal(c.access.mode, "clusterLocal");
        assert.equal(c.artifactStore.forceDestroy, false);
        assert.equal(c.training.experiment, "california_housing_price");
        assert.deepEqual(c.training.profiles[0].params, { max_depth: 6, learning_rate: 0.1, max_iter: 200, random_state: 42 });
        assert.deepEqual(c.serving.models, []);
        assert.equal(c.stack, "dev");
    });
    it("keeps given values and fills the rest of the object", () => {
        const c = parseConfig({ ...dev, trackingServer: { replicas: 3 } }, "dev");
        assert.equal(c.trackingServer.replicas, 3);
        assert.equal(c.trackingServer.workers, 2);
        assert.equal(c.trackingServer.resources.limits.memory, "2Gi");
    });
    it("accepts numbers and booleans given as strings (pulumi config set without --path types)", () => {
        const c = parseConfig({ trackingServer: { replicas: "4" }, artifactStore: { forceDestroy: "true" } }, "dev");
        assert.equal(c.trackingServer.replicas, 4);
        assert.equal(c.artifactStore.forceDestroy, true);
    });
});

describe("config: one error per bad value, naming the full key", () => {
    it("enum: database.mode", () => {
        assert.deepEqual(errorsOf({ database: { mode: "bogus" } }), ['mlflow-platform:database.mode must be "inCluster" or "rds" (got "bogus")']);
    });
    it("enum: artifactAuth at the top level", () => {
        assert.deepEqual(errorsOf({ artifactAuth: "keys" }), ['mlflow-platform:artifactAuth must be "staticKeys" or "irsa" (got "keys")']);
    });
    it("type: a string where a number belongs", () => {
        assert.deepEqual(errorsOf({ trackingServer: { replicas: "many" } }), ['mlflow-platform:trackingServer.replicas must be a whole number from 0 to 20 (got "many")']);
    });
    it("range: backoffLimit above 2", () => {
        assert.match(errorsOf({ training: { backoffLimit: 5 } })[0], /^mlflow-platform:training\.backoffLimit must be a whole number from 0 to 2 \(got 5\)$/);
    });
    it("pattern: a storage size that is not a quantity", () => {
        assert.match(errorsOf({ database: { inCluster: { storageSize: "twenty gigs" } } })[0], /database\.inCluster\.storageSize must be a Kubernetes quantity/);
    });
    it("unknown key with a did-you-mean", () => {
        assert.deepEqual(errorsOf({ database: { mdoe: "rds" } }), [
            'mlflow-platform:database.mdoe is not a known key; did you mean "mode"? (known: mode, name, username, inCluster, rds, migrateFromInCluster, retireInCluster, keepRds)',
        ]);
    });
    it("unknown top-level key", () => {
        assert.match(errorsOf({ databse: {} })[0], /^mlflow-platform:databse is not a known key; did you mean "database"\?/);
    });
    it("unknown key far from any known one has no suggestion", () => {
        assert.doesNotMatch(errorsOf({ access: { zzzzzzzzzz: 1 } })[0], /did you mean/);
    });
    it("an object where a string belongs", () => {
        assert.match(errorsOf({ namespace: { name: "x" } })[0], /^mlflow-platform:namespace must be a string \(got \{"name":"x"\}\)$/);
    });
    it("a list item names its index", () => {
        assert.match(errorsOf({ training: { profiles: [{ name: "ok", params: {} }, { name: "Bad_Name", params: {} }] } })[0], /training\.profiles\[1\]\.name must be a DNS label/);
    });
    it("a profile name longer than a launched Job's name allows: 42 characters pass, 43 are refused", () => {
        const ok = "p".repeat(42);
        const long = "p".repeat(43);
        assert.doesNotThrow(() => parseConfig({ training: { profiles: [{ name: ok, params: {} }] }, batch: { profiles: [{ name: ok }] } }, "test"));
        assert.deepEqual(
            errorsOf({ training: { profiles: [{ name: long, params: {} }] }, batch: { profiles: [{ name: long }] } }).map((e) => e.replace(/ \(got .*$/, "")),
            ["training.profiles[0].name", "batch.profiles[0].name"].map(
                (key) => `mlflow-platform:${key} must be a DNS label of at most 42 characters: lower-case letters, digits and '-' (a launched Job, <train|batch>-<name>-<14-digit timestamp>, must fit in 63)`,
            ),
        );
    });
    it("reports every bad value at once", () => {
        assert.equal(errorsOf({ database: { mode: "x" }, artifactAuth: "y", namespace: "Z" }).length, 3);
    });
});

describe("config: rules across keys", () => {
    it("rds needs a VPC, two subnets and an allowed source", () => {
        const errs = errorsOf({ database: { mode: "rds" } });
        assert.ok(errs.some((e) => e.startsWith("mlflow-platform:database.rds.vpcId is required")));
        assert.ok(errs.some((e) => e.startsWith("mlflow-platform:database.rds.subnetIds must list at least two")));
        assert.ok(errs.some((e) => e.startsWith("mlflow-platform:database.rds.allowedCidrBlocks or database.rds.allowedSecurityGroupIds")));
    });
    it("rds refuses 0.0.0.0/0", () => {
        const errs = errorsOf({ database: { mode: "rds", rds: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-01234567", "subnet-89abcdef"], allowedCidrBlocks: ["0.0.0.0/0"] } } });
        assert.deepEqual(errs.map((e) => e.split(" ")[0]), ["mlflow-platform:database.rds.allowedCidrBlocks"]);
    });
    it("migrateFromInCluster only with rds", () => {
        assert.match(errorsOf({ database: { migrateFromInCluster: true } })[0], /database\.migrateFromInCluster only applies when database\.mode is "rds"/);
    });
    it("irsa needs the OIDC provider and issuer", () => {
        const errs = errorsOf({ artifactAuth: "irsa" });
        assert.deepEqual(errs.map((e) => e.split(" ")[0]), ["mlflow-platform:cluster.oidcProviderArn", "mlflow-platform:cluster.oidcIssuerUrl"]);
    });
    it("the OIDC provider must belong to the issuer", () => {
        const errs = errorsOf({
            artifactAuth: "irsa",
            cluster: { oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AAA", oidcIssuerUrl: "https://oidc.eks.eu-west-1.amazonaws.com/id/BBB" },
        });
        assert.match(errs[0], /cluster\.oidcProviderArn must be the provider of cluster\.oidcIssuerUrl/);
    });
    it("ingress needs a host, basic auth and TLS", () => {
        const errs = errorsOf({ access: { mode: "ingress" } });
        assert.deepEqual(errs.map((e) => e.split(" ")[0]), ["mlflow-platform:access.ingress.host", "mlflow-platform:access.auth", "mlflow-platform:access.ingress.tlsSecretName"]);
    });
    it("basic auth comes with the ingress mode, not silently without it", () => {
        assert.match(errorsOf({ access: { auth: "basic" } })[0], /^mlflow-platform:access\.auth "basic" is set up together with access\.mode "ingress"/);
    });
    it("a served model sets exactly one of alias, version, storageUri", () => {
        assert.match(errorsOf({ artifactStore: { bucketName: "b-1" }, serving: { models: [{ name: "m", alias: "production", version: "3" }] } })[0], /serving\.models\[0\] must set exactly one of alias, version or storageUri \(got alias and version\)/);
        assert.match(errorsOf({ artifactStore: { bucketName: "b-1" }, serving: { models: [{ name: "m" }] } })[0], /\(got none\)/);
    });
    it("served model and profile names are unique", () => {
        assert.match(errorsOf({ artifactStore: { bucketName: "b-1" }, serving: { models: [{ name: "m", alias: "a" }, { name: "m", alias: "b" }] } })[0], /serving\.models\[1\]\.name must be unique/);
        assert.match(errorsOf({ training: { profiles: [{ name: "p", params: {} }, { name: "p", params: {} }] } })[0], /training\.profiles\[1\]\.name must be unique/);
    });
    it("a served model's workers and threads per worker: integers in range, only on the project's runtime", () => {
        const served = (m: Record<string, unknown>, serving: Record<string, unknown> = {}) => ({ artifactStore: { bucketName: "b-1" }, serving: { ...serving, models: [{ name: "m", alias: "production", ...m }] } });
        const ok = parseConfig(served({ workers: 3, threadsPerWorker: 2 }), "t").serving.models[0]!;
        assert.equal(ok.workers, 3);
        assert.equal(ok.threadsPerWorker, 2);
        const unset = parseConfig(served({}), "t").serving.models[0]!;
        assert.equal(unset.workers, undefined);
        assert.equal(unset.threadsPerWorker, undefined);
        assert.match(errorsOf(served({ workers: 0 }))[0], /^mlflow-platform:serving\.models\[0\]\.workers .*1/);
        assert.match(errorsOf(served({ workers: 1.5 }))[0], /^mlflow-platform:serving\.models\[0\]\.workers /);
        assert.match(errorsOf(served({ threadsPerWorker: 0 }))[0], /^mlflow-platform:serving\.models\[0\]\.threadsPerWorker /);
        assert.match(errorsOf(served({ workers: "two" }))[0], /^mlflow-platform:serving\.models\[0\]\.workers /);
        assert.match(errorsOf(served({ runtime: "kserve-mlserver", workers: 2 }))[0], /^mlflow-platform:serving\.models\[0\]\.workers applies only to the project's runtime "mlflow-pyfunc" \(this model runs on "kserve-mlserver"/);
        assert.match(errorsOf(served({ threadsPerWorker: 2 }, { runtime: "kserve-mlserver" }))[0], /^mlflow-platform:serving\.models\[0\]\.threadsPerWorker applies only to the project's runtime/);
        assert.doesNotThrow(() => parseConfig(served({ runtime: "kserve-mlserver" }), "t"));
    });
    it("the runtime's processes default to one worker per CPU of the limit (rounded up) and 1 thread each", () => {
        const res = (cpu: string) => ({ requests: { cpu: "100m", memory: "1Gi" }, limits: { cpu, memory: "2Gi" } });
        assert.deepEqual(servingProcesses({ resources: res("1") }), { workers: 1, threadsPerWorker: 1 });
        assert.deepEqual(servingProcesses({ resources: res("500m") }), { workers: 1, threadsPerWorker: 1 });
        assert.deepEqual(servingProcesses({ resources: res("1500m") }), { workers: 2, threadsPerWorker: 1 });
        assert.deepEqual(servingProcesses({ resources: res("4") }), { workers: 4, threadsPerWorker: 1 });
        assert.deepEqual(servingProcesses({ resources: res("4"), workers: 2, threadsPerWorker: 3 }), { workers: 2, threadsPerWorker: 3 });
        assert.equal(cpuCores("250m"), 0.25);
        assert.equal(cpuCores("2.5"), 2.5);
        assert.equal(cpuCores("1Gi"), undefined);
    });
    it("served models need a known artifact bucket to check storage URIs against", () => {
        assert.match(errorsOf({ serving: { models: [{ name: "m", alias: "production" }] } })[0], /^mlflow-platform:artifactStore\.bucketName is required when serving\.models is set/);
        assert.doesNotThrow(() => parseConfig({ serving: { allowedStoragePrefixes: ["s3://models-bucket"], models: [{ name: "m", alias: "production" }] } }, "t"));
    });
    it("image.build false needs image.ref", () => {
        assert.match(errorsOf({ image: { build: false } })[0], /^mlflow-platform:image\.ref is required when image\.build is false/);
    });
    it("image.mlflowVersion: required with image.ref, a release version, the built image's when the stack builds it", () => {
        assert.match(errorsOf({ image: { ref: "r/mlflow:1" } })[0], /^mlflow-platform:image\.mlflowVersion is required with image\.ref \(r\/mlflow:1\): the MLflow version that image runs, such as 3\.17\.2/);
        assert.match(errorsOf({ image: { ref: "r/mlflow:1", mlflowVersion: "latest" } })[0], /^mlflow-platform:image\.mlflowVersion .*an MLflow release version such as 3\.17\.2/);
        assert.match(errorsOf({ image: { mlflowVersion: "3.10.0" } })[0], /^mlflow-platform:image\.mlflowVersion is 3\.10\.0, but the image the stack builds \(images\/mlflow\) runs MLflow 3\.17\.2/);
        assert.equal(mlflowVersionOf(parseConfig({}, "t")), "3.17.2");
        assert.equal(mlflowVersionOf(parseConfig({ image: { ref: "r/mlflow:1", mlflowVersion: "3.10.0" } }, "t")), "3.10.0");
    });
    it("static keys come in pairs", () => {
        assert.match(errorsOf({ staticKeys: { accessKeyId: "AKIA" } })[0], /^mlflow-platform:staticKeys needs both/);
    });
});

describe("config: schema helpers", () => {
    it("edit distance", () => {
        assert.equal(editDistance("mdoe", "mode"), 2);
        assert.equal(editDistance("", "abc"), 3);
        assert.equal(editDistance("same", "same"), 0);
    });
    it("did-you-mean picks the closest key within reach", () => {
        assert.equal(didYouMean("replcas", ["replicas", "workers"]), "replicas");
        assert.equal(didYouMean("qqq", ["replicas", "workers"]), undefined);
    });
    it("secret paths are the credentials", () => {
        assert.deepEqual(secretPaths().sort(), [
            "access.adminPassword",
            "access.flaskSecretKey",
            "access.oidc.clientSecret",
            "access.oidc.cookieSecret",
            "access.oidc.machinePassword",
            "artifactStore.minio.accessKeyId",
            "artifactStore.minio.rootPassword",
            "artifactStore.minio.rootUser",
            "artifactStore.minio.secretAccessKey",
            "database.inCluster.password",
            "database.rds.password",
            "serving.registry.password",
            "staticKeys.accessKeyId",
            "staticKeys.secretAccessKey",
        ]);
    });
    it("reference rows cover nested keys with defaults", () => {
        const rows = referenceRows(configSpec, "mlflow-platform");
        const mode = rows.find((r) => r.key === "mlflow-platform.database.mode");
        assert.ok(mode);
        assert.equal(mode.default, '`"inCluster"`');
        assert.ok(rows.some((r) => r.key === "mlflow-platform.training.profiles[].params"));
    });
});

describe("config: PostgreSQL's major version", () => {
    it("is read from the image's tag", () => {
        assert.equal(postgresImageMajor("postgres:16.10"), 16);
        assert.equal(postgresImageMajor("docker.io/library/postgres:16.9-bookworm"), 16);
        assert.equal(postgresImageMajor("registry.example.com:5000/db/postgres:17@sha256:" + "a".repeat(64)), 17);
        assert.equal(postgresImageMajor("postgres"), undefined);
        assert.equal(postgresImageMajor("registry.example.com:5000/postgres"), undefined, "the registry's port is no tag");
        assert.equal(postgresImageMajor("postgres:latest"), undefined);
        assert.equal(postgresImageMajor("postgres@sha256:" + "a".repeat(64)), undefined);
    });
    it("a major change of database.inCluster.image is refused by name, naming both majors and the runbook; minors pass", () => {
        const [e] = errorsOf({ database: { inCluster: { image: "postgres:17.2" } } });
        assert.match(e, /^mlflow-platform:database\.inCluster\.image names PostgreSQL 17 \(got "postgres:17\.2"\), but the in-cluster database's data directory is PostgreSQL 16's/);
        assert.match(e, /docs\/runbooks\.md, "Upgrade PostgreSQL"/);
        assert.match(errorsOf({ database: { inCluster: { image: "postgres:latest" } } })[0], /^mlflow-platform:database\.inCluster\.image must name PostgreSQL's major version in its tag/);
        assert.equal(parseConfig({ database: { inCluster: { image: "docker.io/library/postgres:16.11-bookworm" } } }, "t").database.inCluster.image, "docker.io/library/postgres:16.11-bookworm");
    });
});

describe("config: generated reference", () => {
    it("docs/config-reference.md is up to date with config.ts", () => {
        assert.equal(fs.readFileSync(path.join(__dirname, "..", "..", REFERENCE_PATH), "utf8"), configReference(), "run npx tsx cli/config-reference.ts");
    });
});
