import * as assert from "node:assert/strict";
import { RegistryError } from "../../lib/registry/errors";
import {
    formatModelRef,
    isAllowedUri,
    parseModelUri,
    parseS3Uri,
    stripTrailingSlash,
    toStorageUri,
    validateAllowedPrefixes,
} from "../../lib/registry/uri";

function throwsCode(fn: () => unknown, code: string, ...fragments: string[]): void {
    assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof RegistryError, `expected RegistryError, got ${String(e)}`);
        assert.equal(e.code, code, e.message);
        assert.ok(!e.message.includes("\n"), "one line");
        for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" should include "${f}"`);
        return true;
    });
}

describe("registry uri: parseModelUri", () => {
    it("parses alias, version and pinned s3 URIs", () => {
        assert.deepEqual(parseModelUri("models:/CaliforniaHousingRegressor@production"), {
            kind: "alias",
            name: "CaliforniaHousingRegressor",
            alias: "production",
        });
        assert.deepEqual(parseModelUri("models:/M/12"), { kind: "version", name: "M", version: "12" });
        assert.deepEqual(parseModelUri("s3://bucket/a/b/"), { kind: "storageUri", uri: "s3://bucket/a/b" });
        // MLflow splits on the last "@"
        assert.deepEqual(parseModelUri("models:/my@model@champion-2"), { kind: "alias", name: "my@model", alias: "champion-2" });
    });

    it("round-trips through formatModelRef", () => {
        for (const uri of ["models:/M@prod", "models:/M/3", "s3://bkt/k"]) assert.equal(formatModelRef(parseModelUri(uri)), uri);
    });

    for (const bad of [
        "models:/M",
        "models:/M/Production",
        "models:/M/latest",
        "models:/M/0",
        "models:/M/1/2",
        "models:/M@",
        "models:/@prod",
        "models:/M@pro duction",
        "models://profile@databricks/M/1",
        "runs:/abc/model",
        "M@prod",
        "s3://",
        "",
    ]) {
        it(`rejects ${JSON.stringify(bad)} naming it`, () => throwsCode(() => parseModelUri(bad), "INVALID_URI", `"${bad}"`));
    }
});

describe("registry uri: s3 helpers", () => {
    it("parseS3Uri splits bucket and key", () => {
        assert.deepEqual(parseS3Uri("s3://bucket/a/b/"), { bucket: "bucket", key: "a/b" });
        assert.deepEqual(parseS3Uri("s3://bucket"), { bucket: "bucket", key: "" });
        throwsCode(() => parseS3Uri("s3:///key"), "INVALID_URI", "s3:///key");
    });

    it("stripTrailingSlash keeps a bare scheme", () => {
        assert.equal(stripTrailingSlash("s3://b/k//"), "s3://b/k");
        assert.equal(stripTrailingSlash("s3://"), "s3://");
    });

    it("allowlist matches on a / boundary", () => {
        assert.ok(isAllowedUri("s3://bucket/x", ["s3://bucket"]));
        assert.ok(isAllowedUri("s3://bucket", ["s3://bucket/"]));
        assert.ok(!isAllowedUri("s3://bucket-2/x", ["s3://bucket"]));
        assert.ok(isAllowedUri("s3://bucket/direct/1", ["s3://bucket/direct"]));
        assert.ok(!isAllowedUri("s3://bucket/directory/1", ["s3://bucket/direct"]));
        assert.ok(isAllowedUri("s3://b2/x", ["s3://b1", "s3://b2"]));
        assert.ok(isAllowedUri("s3://anything/x", []));
        assert.ok(isAllowedUri("s3://anything/x", ["s3://"]));
    });

    it("validateAllowedPrefixes rejects non-s3 entries", () => {
        validateAllowedPrefixes(["s3://bucket", "s3://bkt/p/"]);
        throwsCode(() => validateAllowedPrefixes(["bucket"]), "INVALID_URI", '"bucket"');
        throwsCode(() => validateAllowedPrefixes(["http://x"]), "INVALID_URI", "http://x");
    });
});

describe("registry uri: toStorageUri", () => {
    const ctx = { name: "M", alias: "production", version: "2", registry: "http://127.0.0.1:5000" };

    it("passes s3 through without the trailing slash", () => {
        assert.equal(toStorageUri("s3://bucket/direct/1/models/m-1/artifacts/", { allowedPrefixes: ["s3://bucket"] }), "s3://bucket/direct/1/models/m-1/artifacts");
    });

    it("maps mlflow-artifacts:/ onto the artifacts destination", () => {
        const opts = { artifactsDestination: "s3://bucket/proxied/", allowedPrefixes: ["s3://bucket"] };
        assert.equal(toStorageUri("mlflow-artifacts:/1/models/m-abc/artifacts", opts), "s3://bucket/proxied/1/models/m-abc/artifacts");
        assert.equal(toStorageUri("mlflow-artifacts://mlflow:5000/1/models/m-abc/artifacts/", opts), "s3://bucket/proxied/1/models/m-abc/artifacts");
        assert.equal(toStorageUri("mlflow-artifacts:/", opts), "s3://bucket/proxied");
    });

    it("needs a destination for mlflow-artifacts:/", () =>
        throwsCode(
            () => toStorageUri("mlflow-artifacts:/1/x", { allowedPrefixes: [] }, ctx),
            "NO_ARTIFACTS_DESTINATION",
            'model "M"',
            'alias "production"',
            "mlflow-artifacts:/1/x",
            "--artifacts-destination",
        ));

    for (const [uri, hint] of [
        ["models:/m-0123456789abcdef", "models:/ reference"],
        ["runs:/abc/model", "runs:/"],
        ["file:///mlruns/1/models/m-1/artifacts", "local disk"],
        ["/mlruns/1/models/m-1/artifacts", "local disk"],
        ["http://mlflow:5000/get-artifact?path=x", "HTTP URL"],
        ["gs://bucket/x", "s3://"],
    ] as const) {
        it(`rejects ${uri} as NOT_S3 naming model and URI`, () =>
            throwsCode(() => toStorageUri(uri, { allowedPrefixes: [] }, ctx), "NOT_S3", 'model "M"', "version 2", "127.0.0.1:5000", uri, hint));
    }

    it("rejects another bucket (and a bucket-name prefix) as OUTSIDE_BUCKET", () => {
        throwsCode(() => toStorageUri("s3://other/m", { allowedPrefixes: ["s3://bucket"] }, ctx), "OUTSIDE_BUCKET", "s3://other/m", "s3://bucket", 'model "M"');
        throwsCode(() => toStorageUri("s3://bucket-evil/m", { allowedPrefixes: ["s3://bucket"] }), "OUTSIDE_BUCKET", "s3://bucket-evil/m");
        // the proxied mapping is checked too
        throwsCode(
            () => toStorageUri("mlflow-artifacts:/1/m", { artifactsDestination: "s3://other/p", allowedPrefixes: ["s3://bucket"] }),
            "OUTSIDE_BUCKET",
            "s3://other/p/1/m",
        );
    });
});
