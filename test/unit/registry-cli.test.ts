import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { main as promote } from "../../cli/promote";
import { main as resolveModel, type CliIo } from "../../cli/resolve-model";

/** An in-memory registry speaking MLflow's REST shapes for the four endpoints the CLIs use. */
async function fakeMlflow() {
    const downloads: Record<string, string> = {
        "1": "s3://bucket/direct/1/models/m-1/artifacts",
        "2": "s3://bucket/direct/1/models/m-2/artifacts",
        "3": "mlflow-artifacts:/1/models/m-3/artifacts",
        "4": "s3://other/models/m-4",
    };
    const aliases: Record<string, string> = { production: "2", proxied: "3", foreign: "4" };
    const posts: unknown[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://x");
            const q = url.searchParams;
            const send = (status: number, obj: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(obj));
            const mv = (v: string) => ({ model_version: { name: "M", version: v, source: `models:/m-${v}`, run_id: `run${v}`, status: "READY" } });
            const noVersion = (v: string) => send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `Model Version (name=M, version=${v}) not found` });
            if (q.get("name") !== null && q.get("name") !== "M") {
                return send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `Registered Model with name=${q.get("name")} not found` });
            }
            switch (`${req.method} ${url.pathname}`) {
                case "GET /api/2.0/mlflow/registered-models/alias": {
                    const v = aliases[q.get("alias") ?? ""];
                    return v ? send(200, mv(v)) : send(400, { error_code: "INVALID_PARAMETER_VALUE", message: `Registered model alias ${q.get("alias")} not found.` });
                }
                case "GET /api/2.0/mlflow/model-versions/get":
                    return downloads[q.get("version") ?? ""] ? send(200, mv(q.get("version")!)) : noVersion(q.get("version") ?? "");
                case "GET /api/2.0/mlflow/model-versions/get-download-uri": {
                    const d = downloads[q.get("version") ?? ""];
                    return d ? send(200, { artifact_uri: d }) : noVersion(q.get("version") ?? "");
                }
                case "POST /api/2.0/mlflow/registered-models/alias": {
                    const b = JSON.parse(body) as { alias: string; version: string };
                    posts.push(b);
                    if (!downloads[b.version]) return noVersion(b.version);
                    aliases[b.alias] = b.version;
                    return send(200, {});
                }
                default:
                    return send(404, { error_code: "ENDPOINT_NOT_FOUND", message: "no such endpoint" });
            }
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        aliases,
        posts,
        close: () => {
            server.closeAllConnections();
            return new Promise<void>((r) => server.close(() => r()));
        },
    };
}

function io(env: NodeJS.ProcessEnv = {}) {
    const out = { stdout: "", stderr: "" };
    const cli: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env };
    return { out, cli };
}

function oneStderrLine(stderr: string, ...fragments: string[]): void {
    assert.equal(stderr.split("\n").length, 2, `exactly one line: ${JSON.stringify(stderr)}`);
    for (const f of fragments) assert.ok(stderr.includes(f), `"${stderr.trim()}" should include "${f}"`);
}

describe("resolve-model CLI", () => {
    let srv: Awaited<ReturnType<typeof fakeMlflow>>;
    before(async () => (srv = await fakeMlflow()));
    after(() => srv.close());

    it("prints only the storage URI", async () => {
        const { out, cli } = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "models:/M@production"], cli), 0, out.stderr);
        assert.equal(out.stdout, "s3://bucket/direct/1/models/m-2/artifacts\n");
        assert.equal(out.stderr, "");
    });

    it("--json prints the whole record; the tracking URI may come from MLFLOW_TRACKING_URI", async () => {
        const { out, cli } = io({ MLFLOW_TRACKING_URI: srv.url });
        assert.equal(await resolveModel(["models:/M@production", "--json"], cli), 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), {
            name: "M",
            version: "2",
            alias: "production",
            runId: "run2",
            source: "models:/m-2",
            storageUri: "s3://bucket/direct/1/models/m-2/artifacts",
        });
    });

    it("a pinned version has alias null", async () => {
        const { out, cli } = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "--json", "models:/M/1"], cli), 0, out.stderr);
        const rec = JSON.parse(out.stdout) as Record<string, unknown>;
        assert.equal(rec.version, "1");
        assert.equal(rec.alias, null);
        assert.equal(rec.storageUri, "s3://bucket/direct/1/models/m-1/artifacts");
    });

    it("--artifacts-destination maps proxied URIs; without it the lookup fails naming the flag", async () => {
        const ok = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "--artifacts-destination", "s3://bucket/proxied", "models:/M@proxied"], ok.cli), 0, ok.out.stderr);
        assert.equal(ok.out.stdout, "s3://bucket/proxied/1/models/m-3/artifacts\n");
        const bad = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "models:/M@proxied"], bad.cli), 1);
        oneStderrLine(bad.out.stderr, "resolve-model:", "--artifacts-destination", 'alias "proxied"');
    });

    it("--allow-prefix is repeatable and enforced", async () => {
        const ok = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "--allow-prefix", "s3://bucket", "--allow-prefix=s3://other", "models:/M@foreign"], ok.cli), 0, ok.out.stderr);
        const bad = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "--allow-prefix", "s3://bucket", "models:/M@foreign"], bad.cli), 1);
        oneStderrLine(bad.out.stderr, "s3://other/models/m-4", "s3://bucket", 'model "M"');
        assert.equal(bad.out.stdout, "");
    });

    it("missing alias: exit 1, one line naming model, alias and host:port", async () => {
        const { out, cli } = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "models:/M@nope"], cli), 1);
        oneStderrLine(out.stderr, '"nope"', '"M"', `127.0.0.1:${srv.port}`);
        assert.equal(out.stdout, "");
    });

    it("missing model and missing version: exit 1", async () => {
        const a = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "models:/Other@production"], a.cli), 1);
        oneStderrLine(a.out.stderr, '"Other"');
        const b = io();
        assert.equal(await resolveModel(["--tracking-uri", srv.url, "models:/M/99"], b.cli), 1);
        oneStderrLine(b.out.stderr, "Version 99");
    });

    for (const [argv, fragment] of [
        [["models:/M@production"], "--tracking-uri"],
        [["--tracking-uri", "http://x", "--bogus", "models:/M@p"], "unknown option --bogus"],
        [["--tracking-uri", "http://x"], "missing model URI"],
        [["--tracking-uri", "http://x", "models:/M"], '"models:/M"'],
        [["--tracking-uri", "http://x", "a", "b"], "too many"],
        [["--tracking-uri", "ftp://x", "models:/M@p"], "ftp://x"],
        [["--tracking-uri", "http://x", "--allow-prefix", "bucket", "models:/M@p"], '"bucket"'],
        [["--tracking-uri", "http://x", "--artifacts-destination", "/data", "models:/M@p"], "--artifacts-destination"],
    ] as const) {
        it(`bad arguments exit 2: ${argv.join(" ")}`, async () => {
            const { out, cli } = io();
            assert.equal(await resolveModel([...argv], cli), 2);
            oneStderrLine(out.stderr, fragment);
        });
    }

    it("an invalid MLFLOW_TRACKING_URI names the variable", async () => {
        const { out, cli } = io({ MLFLOW_TRACKING_URI: "file:./mlruns" });
        assert.equal(await resolveModel(["models:/M@production"], cli), 2);
        oneStderrLine(out.stderr, "MLFLOW_TRACKING_URI", "file:./mlruns");
    });

    it("unreachable registry: exit 1 naming host:port", async function () {
        this.timeout(15_000); // default retries with backoff
        const dead = await fakeMlflow();
        await dead.close();
        const { out, cli } = io();
        assert.equal(await resolveModel(["--tracking-uri", dead.url, "models:/M@production"], cli), 1);
        oneStderrLine(out.stderr, `127.0.0.1:${dead.port}`, "unreachable", "kubectl port-forward");
    });
});

describe("promote CLI", () => {
    // Promotions themselves (the gate, the alias, the trail, a missing version) run against real MLflow servers:
    // test/integration/promotion.test.ts and registry.test.ts.
    for (const [argv, fragment] of [
        [["--model", "M", "--version", "1"], "--tracking-uri"],
        [["--tracking-uri", "http://x", "--version", "1"], "missing --model"],
        [["--tracking-uri", "http://x", "--model", "M"], "missing --version"],
        [["--tracking-uri", "http://x", "--model", "M", "--version", "v1"], '"v1"'],
        [["--tracking-uri", "http://x", "--model", "M", "--version", "1", "--alias", "latest"], "reserved"],
        [["--tracking-uri", "http://x", "--model", "M", "--version", "1", "--stage", "Production"], "unknown option --stage"],
    ] as const) {
        it(`bad arguments exit 2: ${argv.join(" ")}`, async () => {
            const { out, cli } = io();
            assert.equal(await promote([...argv], cli), 2);
            oneStderrLine(out.stderr, fragment);
        });
    }
});
