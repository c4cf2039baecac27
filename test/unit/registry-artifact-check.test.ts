import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyArtifact } from "../../lib/registry/artifact-check";
import { RegistryError } from "../../lib/registry/errors";

// A tiny path-style S3 stand-in: HEAD /<bucket>/<key> → 200 for known objects, 403 for bucket "locked", else 404.
describe("registry artifact check: verifyArtifact", () => {
    const objects = new Set(["bucket/direct/1/models/m-1/artifacts/MLmodel", "bucket/MLmodel"]);
    const seen: Array<{ method: string; path: string; auth: string }> = [];
    let server: http.Server;
    let endpoint: string;
    const saved: Record<string, string | undefined> = {};
    const CREDS = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined };

    before(async () => {
        server = http.createServer((req, res) => {
            const path = decodeURIComponent((req.url ?? "/").split("?")[0]!);
            seen.push({ method: req.method ?? "", path, auth: String(req.headers.authorization ?? "") });
            const key = path.slice(1);
            if (key.startsWith("locked/")) res.writeHead(403).end();
            else if (objects.has(key)) res.writeHead(200, { "content-length": "0", etag: '"abc"', "last-modified": new Date(0).toUTCString() }).end();
            else res.writeHead(404).end();
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        // the default credential chain reads the process environment
        for (const [k, v] of Object.entries(CREDS)) {
            saved[k] = process.env[k];
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });
    after(async () => {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
    });
    beforeEach(() => (seen.length = 0));

    it("HEADs <uri>/MLmodel path-style at AWS_ENDPOINT_URL_S3 with SigV4", async () => {
        await verifyArtifact("s3://bucket/direct/1/models/m-1/artifacts/", { env: { AWS_ENDPOINT_URL_S3: endpoint } });
        assert.equal(seen.length, 1);
        assert.equal(seen[0]!.method, "HEAD");
        assert.equal(seen[0]!.path, "/bucket/direct/1/models/m-1/artifacts/MLmodel");
        assert.match(seen[0]!.auth, /^AWS4-HMAC-SHA256 Credential=testing\//);
    });

    it("opts.endpoint wins over the environment; a bucket-root model works", async () => {
        await verifyArtifact("s3://bucket", { endpoint, env: { AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9" } });
        assert.equal(seen[0]!.path, "/bucket/MLmodel");
    });

    it("a missing MLmodel → ARTIFACT_MISSING: KServe would start and crash", async () => {
        await assert.rejects(verifyArtifact("s3://bucket/direct/1/models/m-2/artifacts", { endpoint, label: 'model "M" version 2' }), (e: unknown) => {
            assert.ok(e instanceof RegistryError);
            assert.equal(e.code, "ARTIFACT_MISSING");
            assert.ok(e.message.startsWith('model "M" version 2: '), e.message);
            assert.ok(e.message.includes("KServe would start and crash: no model at s3://bucket/direct/1/models/m-2/artifacts/MLmodel"), e.message);
            return true;
        });
    });

    it("access denied → ARTIFACT_CHECK_FAILED naming the object", async () => {
        await assert.rejects(verifyArtifact("s3://locked/m", { endpoint }), (e: unknown) => {
            assert.ok(e instanceof RegistryError);
            assert.equal(e.code, "ARTIFACT_CHECK_FAILED");
            assert.ok(e.message.includes("s3://locked/m/MLmodel") && e.message.includes("403"), e.message);
            return true;
        });
    });

    it("rejects a non-s3 URI without a request", async () => {
        await assert.rejects(verifyArtifact("gs://bucket/m", { endpoint }), (e: unknown) => e instanceof RegistryError && e.code === "INVALID_URI");
        assert.equal(seen.length, 0);
    });
});
