import * as assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { errorsOf } from "../support/config-errors";
import { trainerImageUsers } from "../../config";
import { imagesToBuild } from "../../lib/stack-images";

const served = { artifactStore: { bucketName: "mlflow-artifacts-t" }, serving: { models: [{ name: "m", alias: "production" }] } };


describe("stack images: what the stack builds and what config names", () => {
    it("builds the tracking server and the trainer by default; the serving runtime only for a served model on it, the storage initializer for any served model", () => {
        assert.deepEqual(imagesToBuild(parseConfig({}, "t")), ["mlflow", "trainer"]);
        assert.deepEqual(imagesToBuild(parseConfig(served, "t")), ["mlflow", "trainer", "serving", "storage-initializer"]);
        const otherRuntime = { ...served, serving: { ...served.serving, runtime: "kserve-mlserver" } };
        assert.deepEqual(imagesToBuild(parseConfig(otherRuntime, "t")), ["mlflow", "trainer", "storage-initializer"]);
        assert.deepEqual(imagesToBuild(parseConfig({ ...served, serving: { ...served.serving, installRuntime: false } }, "t")), ["mlflow", "trainer", "storage-initializer"]);
    });
    it("builds the sign-in sidecar with single sign-on only", () => {
        const sso = { mode: "ingress", ingress: { host: "mlflow.example.com", clusterIssuer: "x" }, oidc: { issuerUrl: "https://login.example.com/", clientId: "c", clientSecret: "s", allowedEmailDomains: ["example.com"] } };
        assert.deepEqual(imagesToBuild(parseConfig({ access: { ...sso, auth: "oidc" } }, "t")), ["mlflow", "trainer", "oauth2-proxy"]);
        assert.deepEqual(imagesToBuild(parseConfig({ access: { mode: "ingress", ingress: { host: "mlflow.example.com", clusterIssuer: "x" }, auth: "basic" } }, "t")), ["mlflow", "trainer"]);
        assert.deepEqual(imagesToBuild(parseConfig({ access: { ...sso, auth: "oidc", oidc: { ...sso.oidc, proxyImage: "r/oauth2-proxy:1" } } }, "t")), ["mlflow", "trainer"]);
    });
    it("a named image is not built", () => {
        const c = parseConfig({ ...served, image: { ref: "r/mlflow@sha256:" + "a".repeat(64), mlflowVersion: "3.17.2" }, training: { image: "r/trainer:1" }, serving: { ...served.serving, runtimeImage: "r/serving:1", storageInitializer: { image: "r/storage-initializer:1" } } }, "t");
        assert.deepEqual(imagesToBuild(c), []);
    });
    it("no trainer image without a workload that runs it", () => {
        const c = parseConfig({ training: { profiles: [] }, promotion: { template: false } }, "t");
        assert.deepEqual(trainerImageUsers(c), []);
        assert.deepEqual(imagesToBuild(c), ["mlflow"]);
        assert.deepEqual(trainerImageUsers(parseConfig({ training: { profiles: [] }, batch: { profiles: [{ name: "nightly" }] } }, "t")), ["batch.profiles", "promotion.template"]);
    });
    it("image.build false: every image in use must be named, by key", () => {
        const errors = errorsOf({ ...served, image: { build: false, ref: "r/mlflow:1", mlflowVersion: "3.17.2" } });
        assert.equal(errors.length, 3, errors.join("\n"));
        assert.match(errors[0], /^mlflow-platform:training\.image is required when image\.build is false \(training\.profiles, promotion\.template run the trainer image\)/);
        assert.match(errors[1], /^mlflow-platform:serving\.runtimeImage is required when image\.build is false and a served model runs on the project's runtime "mlflow-pyfunc"/);
        assert.match(errors[2], /^mlflow-platform:serving\.storageInitializer\.image is required when image\.build is false and serving\.models is set/);
        assert.deepEqual(imagesToBuild(parseConfig({ image: { build: false, ref: "r/mlflow:1", mlflowVersion: "3.17.2" }, training: { image: "r/trainer:1" } }, "t")), []);
    });
});

describe("config: batch and promotion keys", () => {
    it("defaults: no batch profile, a promotion template for production on test_rmse, no regression allowed", () => {
        const c = parseConfig({}, "t");
        assert.deepEqual(c.batch.profiles, []);
        assert.equal(c.batch.alias, "production");
        assert.deepEqual({ ...c.promotion, resources: undefined }, { template: true, alias: "production", metric: "test_rmse", maxRegression: 0, resources: undefined });
        assert.deepEqual(c.promotion.resources.limits, { cpu: "1", memory: "1Gi" });
    });
    it("refuses bad values by name", () => {
        assert.match(errorsOf({ promotion: { maxRegression: 2 } })[0], /mlflow-platform:promotion\.maxRegression/);
        assert.match(errorsOf({ promotion: { maxRegression: -0.1 } })[0], /mlflow-platform:promotion\.maxRegression/);
        assert.match(errorsOf({ promotion: { alias: "latest" } })[0], /^mlflow-platform:promotion\.alias must not be "latest"/);
        assert.match(errorsOf({ batch: { alias: "v3" } })[0], /^mlflow-platform:batch\.alias must not be "latest" or "v<number>"/);
        assert.match(errorsOf({ batch: { profiles: [{ name: "Nightly" }] } })[0], /mlflow-platform:batch\.profiles\[0\]\.name/);
        assert.match(errorsOf({ batch: { profiles: [{ name: "n", inputS3Path: "/data/x.csv" }] } })[0], /mlflow-platform:batch\.profiles\[0\]\.inputS3Path/);
        assert.match(errorsOf({ batch: { profiles: [{ name: "n" }, { name: "n" }] } })[0], /^mlflow-platform:batch\.profiles\[1\]\.name must be unique/);
    });
});
