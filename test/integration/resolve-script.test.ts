/**
 * scripts/resolve_model_artifact_uri.py (MLflow's Python client) against `npm run resolve-model` (cli/resolve-model.ts,
 * our REST client), on real MLflow tracking servers (PostgreSQL backend stores, moto's S3):
 *   - direct:   --default-artifact-root s3://<bucket>/direct --no-serve-artifacts (download URIs are s3://)
 *   - proxied:  --artifacts-destination s3://<bucket>/proxied (download URIs are mlflow-artifacts:/…)
 * fixtures/register_models.py registers two real sklearn versions per server (production → 1). For every alias and
 * version, plain and --json, both print the same bytes and exit alike; after a promotion both follow the alias; on
 * each error both exit alike with one stderr line, and the lines are equal after the command name.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { main as promoteMain } from "../../cli/promote";
import { main as resolveMain, type CliIo } from "../../cli/resolve-model";
import { startMlflowServer, mlflowServerArgs, type MlflowServer } from "../../testbed/mlflow";
import { freePort } from "../../testbed/ports";
import { tail } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { sharedMoto, sharedPostgres } from "./support/services";
import { REPO_ROOT } from "../../testbed/venv";

const SCRIPT = path.join(REPO_ROOT, "scripts", "resolve_model_artifact_uri.py");
const FIXTURE = path.join(__dirname, "fixtures", "register_models.py");
const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `resolve-script-${SUFFIX}`;
const DIRECT_MODEL = "ScriptDirectRegressor";
const PROXIED_MODEL = "ScriptProxiedRegressor";
const TS_PREFIX = "resolve-model: ";
const PY_PREFIX = "resolve_model_artifact_uri: ";

interface FixtureResult {
    aliasVersion: string;
    latestVersion: string;
    versions: Record<string, { source: string; runId: string; downloadUri: string }>;
}

interface Outcome {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

interface Pair {
    ts: Outcome;
    py: Outcome;
}

async function registerModels(trackingUri: string, model: string, env: Record<string, string>): Promise<FixtureResult> {
    const r = await runPython("trainer", FIXTURE, {
        args: ["--model-name", model, "--versions", "2", "--alias", "production", "--alias-version", "1"],
        env: { ...env, MLFLOW_TRACKING_URI: trackingUri, GIT_PYTHON_REFRESH: "quiet" },
        timeoutMs: 20 * 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    if (r.code !== 0 || !line) throw new Error(`register_models.py for ${model} exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    return JSON.parse(line.slice("RESULT_JSON=".length)) as FixtureResult;
}

/** The TypeScript CLI in this process, with its own environment (nothing inherited). */
async function runTs(argv: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
    const out = { stdout: "", stderr: "" };
    const io: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env };
    const start = Date.now();
    const code = await resolveMain(argv, io);
    return { code, ...out, ms: Date.now() - start };
}

/** The Python script in the trainer venv; the test process's MLFLOW_* variables were removed in before(). */
async function runPy(argv: string[], env: Record<string, string>): Promise<Outcome> {
    const start = Date.now();
    const r = await runPython("trainer", SCRIPT, { args: argv, env, cwd: REPO_ROOT, timeoutMs: 5 * 60_000 });
    return { ...r, ms: Date.now() - start };
}

async function both(argv: string[], env: Record<string, string> = {}): Promise<Pair> {
    const [ts, py] = await Promise.all([runTs(argv, { ...env }), runPy(argv, env)]);
    return { ts, py };
}

/** Runs `jobs` with at most `limit` at a time (each runs a Python process that imports mlflow: CPU-bound). */
async function limited<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
    const results: T[] = new Array(jobs.length);
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < jobs.length) {
            const i = next++;
            results[i] = await jobs[i]!();
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
    return results;
}

function describePair(p: Pair): string {
    return `TS exit ${p.ts.code} stdout ${JSON.stringify(p.ts.stdout)} stderr ${JSON.stringify(p.ts.stderr)}; ` +
        `Python exit ${p.py.code} stdout ${JSON.stringify(p.py.stdout)} stderr ${JSON.stringify(p.py.stderr)}`;
}

/** Success: same stdout bytes, exit 0 from both, nothing on stderr. */
function assertSameSuccess(p: Pair): void {
    assert.equal(p.ts.code, 0, describePair(p));
    assert.equal(p.py.code, p.ts.code, describePair(p));
    assert.equal(p.py.stderr, "", describePair(p));
    assert.deepEqual(Buffer.from(p.py.stdout, "utf8"), Buffer.from(p.ts.stdout, "utf8"), describePair(p));
}

/** The message of a one-line stderr "<prefix><message>\n". */
function oneLineMessage(o: Outcome, prefix: string, who: string): string {
    assert.ok(o.stderr.startsWith(prefix), `${who} stderr should start with "${prefix}": ${JSON.stringify(o.stderr)}`);
    assert.ok(o.stderr.endsWith("\n") && o.stderr.indexOf("\n") === o.stderr.length - 1, `${who} stderr should be one line: ${JSON.stringify(o.stderr)}`);
    assert.ok(!o.stderr.includes("Traceback"), `${who} printed a traceback`);
    return o.stderr.slice(prefix.length, -1);
}

/** Failure: the expected exit code from both, no stdout, one stderr line each, equal after the command name. */
function assertSameFailure(p: Pair, code: number, ...facts: string[]): string {
    assert.equal(p.ts.code, code, describePair(p));
    assert.equal(p.py.code, p.ts.code, describePair(p));
    assert.equal(p.py.stdout, "", describePair(p));
    const tsMessage = oneLineMessage(p.ts, TS_PREFIX, "TS");
    const pyMessage = oneLineMessage(p.py, PY_PREFIX, "Python");
    for (const f of facts) {
        assert.ok(pyMessage.includes(f), `Python's message should name ${f}: ${pyMessage}`);
        assert.ok(tsMessage.includes(f), `TS's message should name ${f}: ${tsMessage}`);
    }
    assert.equal(pyMessage, tsMessage);
    return pyMessage;
}

describe("scripts/resolve_model_artifact_uri.py equals npm run resolve-model on real MLflow servers", function () {
    let direct: MlflowServer;
    let proxied: MlflowServer;
    let directModels: FixtureResult;
    let proxiedModels: FixtureResult;
    const savedEnv: Record<string, string | undefined> = {};
    const directArgs = () => ["--tracking-uri", direct.url];
    const proxiedArgs = () => ["--tracking-uri", proxied.url, "--artifacts-destination", `s3://${BUCKET}/proxied`, "--allow-prefix", `s3://${BUCKET}`];
    const proxiedStorage = (v: string) => `s3://${BUCKET}/proxied/${proxiedModels.versions[v]!.downloadUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?\/+/, "")}`;

    before(async function () {
        this.timeout(30 * 60_000); // two servers and two fixture runs; slow on a loaded 2-core machine
        // hermetic: neither CLI may pick up a tracking URI, credentials or retry settings of the caller
        for (const k of Object.keys(process.env).filter((k) => k.startsWith("MLFLOW_"))) {
            savedEnv[k] = process.env[k];
            delete process.env[k];
        }
        const t0 = Date.now();
        const [moto, pg] = await Promise.all([sharedMoto(), sharedPostgres()]);
        await moto.createBucket(BUCKET);
        const dbs = { direct: `resolve_script_direct_${SUFFIX}`, proxied: `resolve_script_proxied_${SUFFIX}` };
        for (const db of Object.values(dbs)) await pg.createDatabase(db);
        const s3env = moto.env();
        const proxiedPort = await freePort();
        [direct, proxied] = await Promise.all([
            startMlflowServer({
                args: mlflowServerArgs(await freePort(), ["--workers", "1", "--backend-store-uri", pg.url(dbs.direct), "--default-artifact-root", `s3://${BUCKET}/direct`, "--no-serve-artifacts"]),
                env: s3env,
                healthTimeoutMs: 600_000,
            }),
            startMlflowServer({
                args: mlflowServerArgs(proxiedPort, ["--workers", "1", "--backend-store-uri", pg.url(dbs.proxied), "--artifacts-destination", `s3://${BUCKET}/proxied`]),
                env: s3env,
                healthTimeoutMs: 600_000,
            }),
        ]);
        const t1 = Date.now();
        // direct: the client uploads to S3 itself; proxied: it has no S3 access, the server uploads
        [directModels, proxiedModels] = await Promise.all([
            registerModels(direct.url, DIRECT_MODEL, s3env),
            registerModels(proxied.url, PROXIED_MODEL, {}),
        ]);
        process.stdout.write(`    (setup: services and servers ${((t1 - t0) / 1000).toFixed(0)} s, model registration ${((Date.now() - t1) / 1000).toFixed(0)} s)\n`);
        assert.equal(directModels.aliasVersion, "1");
        assert.equal(proxiedModels.aliasVersion, "1");
    });

    after(async function () {
        this.timeout(120_000);
        await Promise.all([direct?.stop(), proxied?.stop()]);
        for (const [k, v] of Object.entries(savedEnv)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });

    /** alias, version 1, version 2; each plain and --json. */
    const CASES = [
        { label: "models:/<m>@production", target: (m: string) => `models:/${m}@production`, version: "1", json: false },
        { label: "models:/<m>@production --json", target: (m: string) => `models:/${m}@production`, version: "1", json: true },
        { label: "models:/<m>/1", target: (m: string) => `models:/${m}/1`, version: "1", json: false },
        { label: "models:/<m>/1 --json", target: (m: string) => `models:/${m}/1`, version: "1", json: true },
        { label: "models:/<m>/2", target: (m: string) => `models:/${m}/2`, version: "2", json: false },
        { label: "models:/<m>/2 --json", target: (m: string) => `models:/${m}/2`, version: "2", json: true },
    ] as const;

    type Server = "direct" | "proxied";
    type Case = (typeof CASES)[number];
    const modelOf = (server: Server) => (server === "direct" ? DIRECT_MODEL : PROXIED_MODEL);
    /** One invocation of a case; the direct server's JSON cases take the tracking URI from $MLFLOW_TRACKING_URI. */
    const runCase = (server: Server, c: Case): Promise<Pair> =>
        server === "direct" && c.json
            ? both(["--json", c.target(DIRECT_MODEL)], { MLFLOW_TRACKING_URI: direct.url })
            : both([...(server === "direct" ? directArgs() : proxiedArgs()), ...(c.json ? ["--json"] : []), c.target(modelOf(server))]);
    /** The first run of each case, shared by the per-server tests and the promotion's "before" side. */
    const firstRuns = new Map<string, Promise<Pair>>();
    const firstRun = (server: Server, c: Case): Promise<Pair> => {
        const key = `${server} ${c.label}`;
        let p = firstRuns.get(key);
        if (!p) firstRuns.set(key, (p = runCase(server, c)));
        return p;
    };

    for (const server of ["direct", "proxied"] as const) {
        describe(`${server} server: same stdout and exit code for every alias and version`, () => {
            const results: Pair[] = [];
            const model = modelOf(server);
            const expected = (version: string) =>
                server === "direct" ? directModels.versions[version]!.downloadUri.replace(/\/+$/, "") : proxiedStorage(version);

            before(async function () {
                this.timeout(10 * 60_000);
                results.push(...(await limited(CASES.map((c) => () => firstRun(server, c)), 2)));
            });

            CASES.forEach((c, i) => {
                it(c.label, () => {
                    const p = results[i]!;
                    assertSameSuccess(p);
                    // and both are what MLflow itself says (register_models.py asked MlflowClient)
                    if (c.json) {
                        const rec = JSON.parse(p.py.stdout) as Record<string, unknown>;
                        assert.deepEqual(Object.keys(rec), ["name", "version", "alias", "runId", "source", "storageUri"]);
                        const v = (server === "direct" ? directModels : proxiedModels).versions[c.version]!;
                        assert.deepEqual(rec, {
                            name: model,
                            version: c.version,
                            alias: c.label.includes("@") ? "production" : null,
                            runId: v.runId,
                            source: v.source,
                            storageUri: expected(c.version),
                        });
                    } else {
                        assert.equal(p.py.stdout, `${expected(c.version)}\n`);
                    }
                    assert.match(p.py.stdout, /\/models\/m-[0-9a-f]+\/artifacts"?}?\n$/);
                });
            });
        });
    }

    describe("after a promotion (npm run promote moves production 1 → 2) both follow the alias", () => {
        const results: Pair[] = [];
        let beforePromotion: Pair[] = [];

        before(async function () {
            this.timeout(10 * 60_000);
            const aliasCases = (["direct", "proxied"] as const).flatMap((server) => [[server, CASES[0]], [server, CASES[1]]] as const);
            beforePromotion = await limited(aliasCases.map(([server, c]) => () => firstRun(server, c)), 2);
            for (const [url, model] of [[direct.url, DIRECT_MODEL], [proxied.url, PROXIED_MODEL]] as const) {
                const out = { stdout: "", stderr: "" };
                const io: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env: {} };
                assert.equal(await promoteMain(["--tracking-uri", url, "--model", model, "--version", "2", "--alias", "production", "--force", "--reason", "resolve test: the fixture logs no test_rmse"], io), 0, out.stderr);
                assert.match(out.stdout, /@production → version 2 \(no test_rmse\) from version 1 \(no test_rmse\): FORCED past the gate/);
            }
            results.push(...(await limited(aliasCases.map(([server, c]) => () => runCase(server, c)), 2)));
        });

        const labels = ["direct plain", "direct --json", "proxied plain", "proxied --json"];
        labels.forEach((label, i) => {
            it(label, () => {
                assertSameSuccess(beforePromotion[i]!);
                const p = results[i]!;
                assertSameSuccess(p);
                assert.notEqual(p.py.stdout, beforePromotion[i]!.py.stdout, "the output changed with the alias");
                const expected = label.startsWith("direct") ? directModels.versions["2"]!.downloadUri.replace(/\/+$/, "") : proxiedStorage("2");
                if (label.endsWith("--json")) {
                    const rec = JSON.parse(p.py.stdout) as Record<string, unknown>;
                    assert.equal(rec.version, "2");
                    assert.equal(rec.storageUri, expected);
                } else {
                    assert.equal(p.py.stdout, `${expected}\n`);
                }
            });
        });
    });

    describe("errors: same exit code, one stderr line naming the same facts", () => {
        const results = new Map<string, Pair>();

        before(async function () {
            this.timeout(10 * 60_000);
            const jobs: Array<[string, () => Promise<Pair>]> = [
                ["missing alias", () => both([...directArgs(), `models:/${DIRECT_MODEL}@staging`])],
                ["missing model", () => both([...directArgs(), "models:/NoSuchModel@production"])],
                ["missing version", () => both([...directArgs(), `models:/${DIRECT_MODEL}/42`])],
                ["proxied without --artifacts-destination", () => both(["--tracking-uri", proxied.url, `models:/${PROXIED_MODEL}/1`])],
                [
                    "outside --allow-prefix",
                    () =>
                        both([
                            "--tracking-uri", proxied.url,
                            "--artifacts-destination", `s3://${BUCKET}/proxied`,
                            "--allow-prefix", "s3://other-bucket",
                            "--allow-prefix", `s3://${BUCKET}/direct`,
                            `models:/${PROXIED_MODEL}/1`,
                        ]),
                ],
            ];
            const done = await limited(jobs.map(([, job]) => job), 2);
            jobs.forEach(([label], i) => results.set(label, done[i]!));
        });

        it("a missing alias: exit 1, naming the alias, the model and host:port", () => {
            assertSameFailure(results.get("missing alias")!, 1, '"staging"', `"${DIRECT_MODEL}"`, `127.0.0.1:${direct.port}`, "not found");
        });

        it("a missing model: exit 1, naming the model, the alias and host:port", () => {
            assertSameFailure(results.get("missing model")!, 1, '"NoSuchModel"', 'alias "production"', `127.0.0.1:${direct.port}`, "not found");
        });

        it("a missing version: exit 1, naming the version, the model and host:port", () => {
            assertSameFailure(results.get("missing version")!, 1, "Version 42", `"${DIRECT_MODEL}"`, `127.0.0.1:${direct.port}`);
        });

        it("a proxied server without --artifacts-destination: exit 1, naming the option and the mlflow-artifacts:/ URI", () => {
            assertSameFailure(
                results.get("proxied without --artifacts-destination")!,
                1,
                "--artifacts-destination",
                `"${PROXIED_MODEL}"`,
                "version 1",
                `127.0.0.1:${proxied.port}`,
                proxiedModels.versions["1"]!.downloadUri,
            );
        });

        it("a result outside the --allow-prefix list: exit 1, naming location and allowlist", () => {
            assertSameFailure(results.get("outside --allow-prefix")!, 1, proxiedStorage("1"), `s3://other-bucket, s3://${BUCKET}/direct`);
        });

        it("malformed model URIs and arguments: exit 2 before any lookup", async function () {
            this.timeout(5 * 60_000);
            const bad: Array<[string[], string]> = [
                [[...directArgs(), `models:/${DIRECT_MODEL}`], `"models:/${DIRECT_MODEL}"`],
                [[...directArgs(), `models:/${DIRECT_MODEL}/latest`], '"latest"'],
                [[...directArgs(), `models:/${DIRECT_MODEL}@prod!`], '"prod!"'],
                [[...directArgs(), `runs:/abc/model`], '"runs:/abc/model"'],
                [[...directArgs(), "models://x@production"], '"models://x@production"'],
                [[...directArgs(), "models:/a:b@production"], '"a:b"'],
                [[...directArgs(), "--allow-prefix", "gs://bucket", `models:/${DIRECT_MODEL}@production`], '"gs://bucket"'],
                [[...directArgs(), "--artifacts-destination", "/srv/artifacts", `models:/${DIRECT_MODEL}@production`], '"/srv/artifacts"'],
                [[...directArgs(), "--no-such-flag", `models:/${DIRECT_MODEL}@production`], "--no-such-flag"],
                [[...directArgs()], "missing model URI"],
                [["--tracking-uri", "ftp://127.0.0.1:21", `models:/${DIRECT_MODEL}@production`], '"ftp://127.0.0.1:21"'],
            ];
            const pairs = await limited(bad.map(([argv]) => () => both(argv)), 2);
            pairs.forEach((p, i) => {
                const [argv, fact] = bad[i]!;
                assert.equal(p.ts.code, 2, `${argv.join(" ")}: ${describePair(p)}`);
                assert.equal(p.py.code, 2, `${argv.join(" ")}: ${describePair(p)}`);
                assert.equal(p.py.stdout, "");
                const py = oneLineMessage(p.py, PY_PREFIX, "Python");
                const ts = oneLineMessage(p.ts, TS_PREFIX, "TS");
                assert.ok(py.includes(fact) && ts.includes(fact), `${argv.join(" ")}: both should name ${fact}: ${describePair(p)}`);
                // the usage text names the command and the option list has the TS CLI's --verify and --s3-endpoint:
                // only the part before them is compared
                const head = (m: string) => m.replace(/usage: .*|; valid options: .*/, "");
                assert.equal(head(py), head(ts), describePair(p));
            });
        });

        it("a missing tracking URI: exit 2, naming --tracking-uri and MLFLOW_TRACKING_URI", async () => {
            const p = await both([`models:/${DIRECT_MODEL}@production`], { MLFLOW_TRACKING_URI: "" });
            assertSameFailure(p, 2, "--tracking-uri", "MLFLOW_TRACKING_URI");
            const q = await both([`models:/${DIRECT_MODEL}@production`], { MLFLOW_TRACKING_URI: "not-a-url" });
            assertSameFailure(q, 2, "MLFLOW_TRACKING_URI", '"not-a-url"');
        });

        it("an unreachable server (nothing listens on the port): exit 1 within seconds, naming host:port, model and alias", async function () {
            this.timeout(5 * 60_000);
            // what one successful lookup costs here (mostly importing mlflow), measured alone
            const baseline = await runPy([...directArgs(), `models:/${DIRECT_MODEL}@production`], {});
            assert.equal(baseline.code, 0, baseline.stderr);
            const port = await freePort();
            const p = await both(["--tracking-uri", `http://127.0.0.1:${port}`, `models:/${DIRECT_MODEL}@production`]);
            assertSameFailure(p, 1, "unreachable", `127.0.0.1:${port}`, `"${DIRECT_MODEL}"`, 'alias "production"', "connection refused");
            process.stdout.write(`      (Python: lookup ${baseline.ms} ms, unreachable ${p.py.ms} ms; TS unreachable ${p.ts.ms} ms)\n`);
            // MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) would take minutes here
            assert.ok(p.py.ms < baseline.ms + 5_000, `the script took ${p.py.ms} ms to give up; a lookup takes ${baseline.ms} ms`);
            assert.ok(p.py.ms < 30_000, `the script took ${p.py.ms} ms to give up`);
        });
    });
});
