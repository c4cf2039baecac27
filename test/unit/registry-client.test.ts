import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { MlflowRegistryClient, authFromEnv, authorizationHeader } from "../../lib/registry/client";
import { RegistryError } from "../../lib/registry/errors";

// Bodies exactly as MLflow 3 sends them (mlflow/store/model_registry/sqlalchemy_store.py, server/auth/__init__.py,
// server/security_utils.py); the integration test checks the real server against the same codes.
const ALIAS_MISSING = { error_code: "INVALID_PARAMETER_VALUE", message: "Registered model alias production not found." };
const VERSION_MISSING = { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Model Version (name=M, version=9) not found" };
const MODEL_MISSING = { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Registered Model with name=Nope not found" };
const BASIC_401 =
    "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.";
const HOST_403 = "Invalid Host header - possible DNS rebinding attack detected";
const MV = {
    model_version: {
        name: "M",
        version: "2",
        creation_timestamp: 1700000000000,
        current_stage: "None",
        source: "models:/m-0a1b2c",
        run_id: "run123",
        status: "READY",
        aliases: ["production"],
        model_id: "m-0a1b2c",
    },
};

interface Seen {
    method: string;
    path: string;
    query: URLSearchParams;
    headers: http.IncomingHttpHeaders;
    body: string;
}
type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | "hang";

async function fakeServer(handler: (req: Seen, n: number) => Reply) {
    const seen: Seen[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://x");
            const s: Seen = { method: req.method ?? "", path: url.pathname, query: url.searchParams, headers: req.headers, body };
            seen.push(s);
            const r = handler(s, seen.length);
            if (r === "hang") return;
            const text = typeof r.body === "string" ? r.body : r.body === undefined ? "" : JSON.stringify(r.body);
            const type = typeof r.body === "string" ? "text/plain" : "application/json";
            res.writeHead(r.status, { "content-type": type, ...r.headers }).end(text);
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        seen,
        close: () => {
            server.closeAllConnections();
            return new Promise<void>((r) => server.close(() => r()));
        },
    };
}

async function rejectsCode(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<RegistryError> {
    let caught: unknown;
    await p.then(
        () => assert.fail(`expected ${code}`),
        (e: unknown) => (caught = e),
    );
    assert.ok(caught instanceof RegistryError, `expected RegistryError, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    assert.ok(!caught.message.includes("\n"), "one line");
    for (const f of fragments) assert.ok(caught.message.includes(f), `message "${caught.message}" should include "${f}"`);
    return caught;
}

describe("registry client: auth", () => {
    it("authFromEnv reads MLFLOW_TRACKING_* and falls back to config", () => {
        assert.deepEqual(authFromEnv({ MLFLOW_TRACKING_USERNAME: "u", MLFLOW_TRACKING_PASSWORD: "p", MLFLOW_TRACKING_TOKEN: "t" }), {
            username: "u",
            password: "p",
            token: "t",
        });
        assert.deepEqual(authFromEnv({}, { username: "cu", password: "cp" }), { username: "cu", password: "cp" });
        assert.deepEqual(authFromEnv({ MLFLOW_TRACKING_PASSWORD: "envp", MLFLOW_TRACKING_USERNAME: "" }, { username: "cu", password: "cp" }), {
            username: "cu",
            password: "envp",
        });
        assert.deepEqual(authFromEnv({}), {});
    });

    it("basic wins over bearer when both are set; bearer alone; nothing without a password", () => {
        const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
        assert.equal(authorizationHeader({ username: "u", password: "p", token: "t" }), basic);
        assert.equal(authorizationHeader({ token: "t" }), "Bearer t");
        assert.equal(authorizationHeader({ username: "u", token: "t" }), "Bearer t");
        assert.equal(authorizationHeader({ username: "u" }), undefined);
        assert.equal(authorizationHeader(undefined), undefined);
    });
});

describe("registry client: construction", () => {
    it("normalizes the tracking URI and always names host:port", () => {
        const a = new MlflowRegistryClient({ trackingUri: "http://mlflow.mlflow.svc" });
        assert.equal(a.hostPort, "mlflow.mlflow.svc:80");
        assert.equal(a.registry, "http://mlflow.mlflow.svc:80");
        const b = new MlflowRegistryClient({ trackingUri: "https://example.com/mlflow/" });
        assert.equal(b.registry, "https://example.com:443/mlflow");
        assert.equal(b.trackingUri, "https://example.com/mlflow");
    });

    for (const bad of ["localhost:5000", "file:///mlruns", "databricks", "http://user:pw@host:5000"]) {
        it(`rejects tracking URI ${bad}`, () =>
            assert.throws(() => new MlflowRegistryClient({ trackingUri: bad }), (e: unknown) => e instanceof RegistryError && e.code === "INVALID_URI"));
    }

    it("never prints credentials from the URI", () =>
        assert.throws(() => new MlflowRegistryClient({ trackingUri: "http://user:s3cret@host:5000" }), (e: Error) => !e.message.includes("s3cret")));
});

describe("registry client: requests", () => {
    let srv: Awaited<ReturnType<typeof fakeServer>>;
    let reply: (req: Seen, n: number) => Reply;
    before(async () => {
        srv = await fakeServer((req, n) => reply(req, n));
    });
    after(() => srv.close());
    beforeEach(() => (srv.seen.length = 0));
    const client = (extra: Partial<ConstructorParameters<typeof MlflowRegistryClient>[0]> = {}) =>
        new MlflowRegistryClient({ trackingUri: srv.url, retries: 3, backoffMs: 1, timeoutMs: 2000, ...extra });

    it("GETs the alias endpoint and keeps MLflow's optional fields", async () => {
        reply = () => ({ status: 200, body: MV });
        const mv = await client({ auth: { username: "u", password: "p", token: "t" } }).getModelVersionByAlias("M", "production");
        assert.equal(mv.version, "2");
        assert.equal(mv.run_id, "run123");
        assert.equal(mv.source, "models:/m-0a1b2c");
        assert.equal(mv.description, undefined);
        assert.equal(srv.seen.length, 1);
        const s = srv.seen[0]!;
        assert.equal(s.method, "GET");
        assert.equal(s.path, "/api/2.0/mlflow/registered-models/alias");
        assert.equal(s.query.get("name"), "M");
        assert.equal(s.query.get("alias"), "production");
        assert.equal(s.headers.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
    });

    it("sends a bearer token when there is no username/password, and honours a path prefix", async () => {
        reply = () => ({ status: 200, body: MV });
        await new MlflowRegistryClient({ trackingUri: `${srv.url}/mlflow/`, auth: { token: "tok" } }).getModelVersion("M", "2");
        assert.equal(srv.seen[0]!.path, "/mlflow/api/2.0/mlflow/model-versions/get");
        assert.equal(srv.seen[0]!.query.get("version"), "2");
        assert.equal(srv.seen[0]!.headers.authorization, "Bearer tok");
    });

    it("reads artifact_uri from get-download-uri", async () => {
        reply = () => ({ status: 200, body: { artifact_uri: "s3://bucket/direct/1/models/m-0a1b2c/artifacts" } });
        assert.equal(await client().getDownloadUri("M", "2"), "s3://bucket/direct/1/models/m-0a1b2c/artifacts");
        assert.equal(srv.seen[0]!.path, "/api/2.0/mlflow/model-versions/get-download-uri");
        reply = () => ({ status: 200, body: {} });
        await rejectsCode(client().getDownloadUri("M", "2"), "BAD_RESPONSE", "artifact_uri");
    });

    it("POSTs name, alias, version as JSON to set an alias", async () => {
        reply = () => ({ status: 200, body: {} });
        await client().setAlias("M", "production", "3");
        const s = srv.seen[0]!;
        assert.equal(s.method, "POST");
        assert.equal(s.path, "/api/2.0/mlflow/registered-models/alias");
        assert.match(String(s.headers["content-type"]), /application\/json/);
        assert.deepEqual(JSON.parse(s.body), { name: "M", alias: "production", version: "3" });
    });

    it("missing alias (HTTP 400 INVALID_PARAMETER_VALUE) → ALIAS_NOT_FOUND, no retry", async () => {
        reply = () => ({ status: 400, body: ALIAS_MISSING });
        await rejectsCode(client().getModelVersionByAlias("M", "production"), "ALIAS_NOT_FOUND", '"production"', '"M"', `127.0.0.1:${srv.port}`, "promote");
        assert.equal(srv.seen.length, 1);
    });

    it("missing version (HTTP 404) → VERSION_NOT_FOUND; missing model → MODEL_NOT_FOUND; no retry", async () => {
        reply = () => ({ status: 404, body: VERSION_MISSING });
        await rejectsCode(client().getModelVersion("M", "9"), "VERSION_NOT_FOUND", "Version 9", '"M"', `127.0.0.1:${srv.port}`);
        reply = () => ({ status: 404, body: MODEL_MISSING });
        await rejectsCode(client().getModelVersionByAlias("Nope", "production"), "MODEL_NOT_FOUND", '"Nope"', 'alias "production"');
        assert.equal(srv.seen.length, 2);
    });

    it("401 from basic auth → UNAUTHORIZED naming the env vars, no retry", async () => {
        reply = () => ({ status: 401, body: BASIC_401, headers: { "www-authenticate": 'Basic realm="mlflow"' } });
        await rejectsCode(client().getModelVersionByAlias("M", "production"), "UNAUTHORIZED", "no credentials", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", '"M"');
        await rejectsCode(client({ auth: { username: "alice", password: "bad" } }).getModelVersion("M", "1"), "UNAUTHORIZED", 'user "alice"');
        await rejectsCode(client({ auth: { token: "t" } }).getModelVersion("M", "1"), "UNAUTHORIZED", "MLFLOW_TRACKING_TOKEN");
        assert.equal(srv.seen.length, 3);
    });

    it("403 from the host check → HOST_REJECTED with --allowed-hosts; other 403 → FORBIDDEN", async () => {
        reply = () => ({ status: 403, body: HOST_403 });
        await rejectsCode(client().getModelVersionByAlias("M", "production"), "HOST_REJECTED", "--allowed-hosts", `"127.0.0.1:${srv.port}"`, '"M"');
        reply = () => ({ status: 403, body: "Permission denied" });
        await rejectsCode(client({ auth: { username: "bob", password: "x" } }).getModelVersionByAlias("M", "production"), "FORBIDDEN", 'user "bob"', "Permission denied");
        assert.equal(srv.seen.length, 2);
    });

    it("retries 503 then succeeds", async () => {
        reply = (_r, n) => (n === 1 ? { status: 503, body: "upstream down" } : { status: 200, body: MV });
        assert.equal((await client().getModelVersionByAlias("M", "production")).version, "2");
        assert.equal(srv.seen.length, 2);
    });

    it("retries 429 and 5xx at most `retries` times", async () => {
        reply = (_r, n) => (n % 2 ? { status: 429, body: { error_code: "REQUEST_LIMIT_EXCEEDED", message: "slow down" } } : { status: 500, body: { error_code: "INTERNAL_ERROR", message: "db gone" } });
        await rejectsCode(client({ retries: 2 }).getModelVersionByAlias("M", "production"), "SERVER_ERROR", "HTTP 429", "3 attempts", `127.0.0.1:${srv.port}`);
        assert.equal(srv.seen.length, 3);
        srv.seen.length = 0;
        await rejectsCode(client({ retries: 0 }).getModelVersion("M", "1"), "SERVER_ERROR", "HTTP 429");
        assert.equal(srv.seen.length, 1);
    });

    it("backs off exponentially between retries", async () => {
        reply = () => ({ status: 502, body: "bad gateway" });
        const t0 = Date.now();
        await rejectsCode(client({ retries: 3, backoffMs: 40 }).getModelVersion("M", "1"), "SERVER_ERROR");
        const elapsed = Date.now() - t0;
        assert.equal(srv.seen.length, 4);
        assert.ok(elapsed >= 40 + 80 + 160 - 5, `expected ≥ 275 ms of backoff, took ${elapsed} ms`);
    });

    it("does not retry other 4xx", async () => {
        reply = () => ({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE", message: "Invalid alias name: 'a b'." } });
        await rejectsCode(client().getModelVersionByAlias("M", "a b"), "HTTP_ERROR", "Invalid alias name");
        assert.equal(srv.seen.length, 1);
    });

    it("times out a hanging server per attempt and retries", async () => {
        reply = () => "hang";
        const t0 = Date.now();
        await rejectsCode(client({ timeoutMs: 150, retries: 1 }).getModelVersionByAlias("M", "production"), "UNREACHABLE", "timed out after 150 ms", `127.0.0.1:${srv.port}`, "2 attempts", "kubectl port-forward");
        assert.equal(srv.seen.length, 2);
        assert.ok(Date.now() - t0 >= 290);
    });

    it("a non-JSON 200 (not an MLflow API) → BAD_RESPONSE", async () => {
        reply = () => ({ status: 200, body: "<html>login</html>" });
        await rejectsCode(client().getModelVersion("M", "1"), "BAD_RESPONSE", "non-JSON");
    });

    it("a 404 without MLflow's JSON names the path and the tracking URI", async () => {
        reply = () => ({ status: 404, body: "Not Found" });
        await rejectsCode(client().getModelVersion("M", "1"), "HTTP_ERROR", "/api/2.0/mlflow/model-versions/get", "static-prefix");
    });
});

describe("registry client: unreachable", () => {
    it("connection refused → UNREACHABLE naming host:port, after the retries", async () => {
        const srv = await fakeServer(() => ({ status: 200 }));
        const port = srv.port;
        await srv.close();
        let calls = 0;
        const counting: typeof fetch = (input, init) => {
            calls++;
            return fetch(input, init);
        };
        await rejectsCode(
            new MlflowRegistryClient({ trackingUri: `http://127.0.0.1:${port}`, retries: 2, backoffMs: 1, fetchImpl: counting }).getModelVersionByAlias("M", "production"),
            "UNREACHABLE",
            `127.0.0.1:${port}`,
            "connection refused",
            '"M"',
            'alias "production"',
            "kubectl port-forward svc/mlflow -n mlflow 5000:5000",
        );
        assert.equal(calls, 3);
    });

    it("DNS failure → UNREACHABLE naming the host", async () => {
        await rejectsCode(
            new MlflowRegistryClient({ trackingUri: "http://mlflow.invalid:5000", retries: 0 }).getModelVersion("M", "1"),
            "UNREACHABLE",
            "mlflow.invalid:5000",
            "cannot resolve host mlflow.invalid",
        );
    });
});
