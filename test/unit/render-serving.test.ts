import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { exitCodeOf } from "../../cli/render";
import { containersOf, findObject, render } from "../support/render";

/**
 * Wiring only: a registry stand-in answering MLflow's two lookup endpoints checks that the program turns
 * serving.models into InferenceServices with the looked-up storageUri. The contract with MLflow itself is
 * tested against a real server in test/integration.
 */
describe("render: served models (wiring)", () => {
    let server: http.Server;
    let uri: string;
    let version = "6";
    const calls: string[] = [];
    before(async () => {
        server = http.createServer((req, res) => {
            const url = new URL(req.url ?? "/", "http://x");
            calls.push(url.pathname);
            res.setHeader("content-type", "application/json");
            if (url.pathname.endsWith("/registered-models/alias")) {
                if (url.searchParams.get("alias") !== "production") {
                    res.statusCode = 400;
                    res.end(JSON.stringify({ error_code: "INVALID_PARAMETER_VALUE", message: `Registered model alias ${url.searchParams.get("alias")} not found.` }));
                    return;
                }
                res.end(JSON.stringify({ model_version: { name: url.searchParams.get("name"), version, run_id: "abc123", source: "models:/m-0123", aliases: ["production"] } }));
            } else if (url.pathname.endsWith("/model-versions/get-download-uri")) {
                res.end(JSON.stringify({ artifact_uri: `s3://models-bucket/1/models/m-0123${url.searchParams.get("version")}/artifacts/` }));
            } else {
                res.statusCode = 404;
                res.end(JSON.stringify({ error_code: "ENDPOINT_NOT_FOUND", message: "no" }));
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    const sets = (alias = "production") => [
        "artifactStore.bucketName=models-bucket",
        "serving.verifyArtifacts=false",
        `serving.models=[{"name":"california-housing","registeredModel":"CaliforniaHousingRegressor","alias":"${alias}"}]`,
    ];

    it("writes an InferenceService with the looked-up storageUri, lineage annotations and the serving account", async () => {
        const r = await render("dev", sets(), uri);
        const isvc = findObject(r, "InferenceService", "california-housing");
        const ann = isvc.metadata.annotations as Record<string, string>;
        assert.equal(ann["mlflow.org/model-version"], "6");
        assert.equal(ann["mlflow.org/alias"], "production");
        assert.equal(ann["mlflow.org/run-id"], "abc123");
        const predictor = (isvc.spec as { predictor: { serviceAccountName: string; model: { storageUri: string; modelFormat: { name: string } } } }).predictor;
        assert.equal(predictor.model.storageUri, "s3://models-bucket/1/models/m-01236/artifacts/", "the version's directory, with a trailing slash (no sibling prefix)");
        assert.equal(predictor.model.modelFormat.name, "mlflow");
        assert.equal(predictor.serviceAccountName, "mlflow-serving");
        assert.deepEqual(r.outputs.servedModels, [{ name: "california-housing", registeredModel: "CaliforniaHousingRegressor", version: "6", alias: "production", storageUri: "s3://models-bucket/1/models/m-01236/artifacts" }]);
        assert.ok(calls.includes("/api/2.0/mlflow/registered-models/alias"));
        assert.ok(findObject(r, "ServiceAccount", "mlflow-serving"));
        assert.ok(containersOf(findObject(r, "Deployment", "mlflow")).length === 1);
    });
    it("a new alias target shows as a changed model-version annotation and storageUri", async () => {
        version = "7";
        const r = await render("dev", [...sets(), "serving.runtime=mlflow-pyfunc"], uri);
        const isvc = findObject(r, "InferenceService", "california-housing");
        assert.equal((isvc.metadata.annotations as Record<string, string>)["mlflow.org/model-version"], "7");
    });
    it("a missing alias stops the render with exit 3, naming model, alias and registry", async () => {
        const err = await render("dev", sets("staging"), uri).then(
            () => assert.fail("expected a failure"),
            (e: unknown) => e,
        );
        const { code, message } = exitCodeOf(err);
        assert.equal(code, 3);
        assert.match(message, /staging/);
        assert.match(message, /CaliforniaHousingRegressor/);
        assert.match(message, new RegExp(uri.replace("http://", "")));
    });
    it("an unreachable registry exits 3 naming host:port", async () => {
        const err = await render("dev", sets(), "http://127.0.0.1:9").then(
            () => assert.fail("expected a failure"),
            (e: unknown) => e,
        );
        const { code, message } = exitCodeOf(err);
        assert.equal(code, 3, message);
        assert.match(message, /127\.0\.0\.1:9/);
    });
    it("no served models: no lookup, no InferenceService", async () => {
        const before = calls.length;
        const r = await render("dev");
        assert.equal(calls.length, before);
        assert.ok(!r.kubernetes.some((o) => o.kind === "InferenceService"));
    });
});
