/**
 * Registry resolution against real MLflow tracking servers (the version pinned in images/mlflow/requirements.txt)
 * with PostgreSQL backend stores and moto's S3:
 *   - direct:   --default-artifact-root s3://<bucket>/direct --no-serve-artifacts (clients upload to S3)
 *   - proxied:  --artifacts-destination s3://<bucket>/proxied (clients upload through the server;
 *               download URIs are mlflow-artifacts:/…), and --allowed-hosts limited to 127.0.0.1:<port>
 *   - auth:     --app-name basic-auth
 * Real sklearn models are registered by fixtures/register_models.py (3 versions, production → 2).
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { main as promoteMain } from "../../cli/promote";
import { main as resolveMain, type CliIo } from "../../cli/resolve-model";
import { MlflowRegistryClient, verifyArtifact, RegistryError, resolveModel, resolveModels, type ResolveTarget } from "../../lib/registry";
import { startMlflowServer, mlflowServerArgs, type MlflowServer } from "../../testbed/mlflow";
import type { S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import type { PostgresServer } from "../../testbed/postgres";
import { runCommand, tail } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { sharedMoto, sharedPostgres } from "./support/services";
import { REPO_ROOT } from "../../testbed/venv";

interface FixtureResult {
    model: string;
    alias: string;
    aliasVersion: string;
    latestVersion: string;
    versions: Record<string, { source: string; runId: string; downloadUri: string }>;
}

const FIXTURE = path.join(__dirname, "fixtures", "register_models.py");
const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `registry-it-${SUFFIX}`;
const ADMIN = { username: "admin", password: `Adm1n-${randomBytes(12).toString("hex")}` };

async function registerModels(trackingUri: string, model: string, env: Record<string, string>): Promise<FixtureResult> {
    const r = await runPython("trainer", FIXTURE, {
        args: ["--model-name", model, "--versions", "3", "--alias", "production", "--alias-version", "2"],
        env: { ...env, MLFLOW_TRACKING_URI: trackingUri, GIT_PYTHON_REFRESH: "quiet" },
        timeoutMs: 20 * 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    if (r.code !== 0 || !line) throw new Error(`register_models.py for ${model} exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    return JSON.parse(line.slice("RESULT_JSON=".length)) as FixtureResult;
}

function capture(env: NodeJS.ProcessEnv = {}) {
    const out = { stdout: "", stderr: "" };
    const io: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env };
    return { out, io };
}

async function rejectsCode(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<RegistryError> {
    let caught: unknown;
    await p.then(
        (v) => assert.fail(`expected ${code}, got ${JSON.stringify(v)}`),
        (e: unknown) => (caught = e),
    );
    assert.ok(caught instanceof RegistryError, `expected RegistryError, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    assert.ok(!caught.message.includes("\n"), "one line");
    for (const f of fragments) assert.ok(caught.message.includes(f), `"${caught.message}" should include "${f}"`);
    return caught;
}

async function json(url: string, init: RequestInit): Promise<unknown> {
    const res = await fetch(url, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} → HTTP ${res.status}: ${text}`);
    return JSON.parse(text);
}

describe("registry resolution against real MLflow servers", function () {
    let moto: S3Server;
    let pg: PostgresServer;
    let direct: MlflowServer;
    let proxied: MlflowServer;
    let auth: MlflowServer;
    let directModels: FixtureResult;
    let proxiedModels: FixtureResult;
    let tmp: string;
    const savedEnv: Record<string, string | undefined> = {};

    before(async function () {
        this.timeout(30 * 60_000); // three servers and two fixture runs; slow on a loaded 2-core machine
        [moto, pg] = await Promise.all([sharedMoto(), sharedPostgres()]);
        await moto.createBucket(BUCKET);
        const dbs = { direct: `registry_direct_${SUFFIX}`, proxied: `registry_proxied_${SUFFIX}`, auth: `registry_auth_${SUFFIX}` };
        for (const db of Object.values(dbs)) await pg.createDatabase(db);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "registry-it-"));
        const authIni = path.join(tmp, "basic_auth.ini");
        fs.writeFileSync(
            authIni,
            [
                "[mlflow]",
                "default_permission = READ",
                `database_uri = sqlite:///${path.join(tmp, "basic_auth.db")}`,
                `admin_username = ${ADMIN.username}`,
                `admin_password = ${ADMIN.password}`,
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
                "",
            ].join("\n"),
        );

        // the verify checks below use the default credential chain of this process
        for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_REGION: moto.region })) {
            savedEnv[k] = process.env[k];
            process.env[k] = v;
        }

        const s3env = moto.env();
        const common = ["--workers", "1"];
        const proxiedPort = await freePort();
        [direct, proxied, auth] = await Promise.all([
            startMlflowServer({
                args: mlflowServerArgs(await freePort(), [...common, "--backend-store-uri", pg.url(dbs.direct), "--default-artifact-root", `s3://${BUCKET}/direct`, "--no-serve-artifacts"]),
                env: s3env,
                healthTimeoutMs: 600_000,
            }),
            startMlflowServer({
                args: mlflowServerArgs(proxiedPort, [
                    ...common,
                    "--backend-store-uri", pg.url(dbs.proxied),
                    "--artifacts-destination", `s3://${BUCKET}/proxied`,
                    "--allowed-hosts", `127.0.0.1:${proxiedPort}`,
                ]),
                env: s3env,
                healthTimeoutMs: 600_000,
            }),
            startMlflowServer({
                args: mlflowServerArgs(await freePort(), [
                    ...common,
                    "--app-name", "basic-auth",
                    "--backend-store-uri", pg.url(dbs.auth),
                    "--default-artifact-root", `s3://${BUCKET}/auth`,
                    "--no-serve-artifacts",
                ]),
                env: { ...s3env, MLFLOW_AUTH_CONFIG_PATH: authIni, MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString("hex") },
                healthTimeoutMs: 600_000,
            }),
        ]);
        // direct: the client uploads to S3 itself; proxied: it has no S3 access at all, the server uploads
        [directModels, proxiedModels] = await Promise.all([
            registerModels(direct.url, "DirectRegressor", s3env),
            registerModels(proxied.url, "ProxiedRegressor", {}),
        ]);
    });

    after(async function () {
        this.timeout(120_000);
        for (const [k, v] of Object.entries(savedEnv)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        await Promise.all([direct?.stop(), proxied?.stop(), auth?.stop()]);
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe("direct s3:// artifact root", () => {
        const client = () => new MlflowRegistryClient({ trackingUri: direct.url });

        it("the fixture registered 3 versions with production on an older one", () => {
            assert.deepEqual(Object.keys(directModels.versions).sort(), ["1", "2", "3"]);
            assert.equal(directModels.aliasVersion, "2");
            assert.equal(directModels.latestVersion, "3");
            for (const v of Object.values(directModels.versions)) {
                assert.match(v.source, /^models:\/m-/, "MLflow 3 source is a logged-model reference");
                assert.ok(v.downloadUri.startsWith(`s3://${BUCKET}/direct/`), v.downloadUri);
            }
        });

        it("resolves the alias to exactly MLflow's download URI of version 2, with lineage", async () => {
            const r = await resolveModel(client(), { servedName: "ch", registeredModel: "DirectRegressor", alias: "production" }, { allowedPrefixes: [`s3://${BUCKET}`] });
            const v2 = directModels.versions["2"]!;
            assert.deepEqual(r, { name: "DirectRegressor", version: "2", alias: "production", runId: v2.runId, source: v2.source, storageUri: v2.downloadUri.replace(/\/+$/, "") });
        });

        it("every pinned version equals get_model_version_download_uri (resolveModels keeps order)", async () => {
            const targets: ResolveTarget[] = ["3", "1", "2"].map((version) => ({ servedName: `v${version}`, registeredModel: "DirectRegressor", version }));
            const out = await resolveModels(client(), targets, { allowedPrefixes: [`s3://${BUCKET}/direct`] }, 2);
            assert.deepEqual(
                out.map((r) => [r.version, r.storageUri]),
                ["3", "1", "2"].map((v) => [v, directModels.versions[v]!.downloadUri.replace(/\/+$/, "")]),
            );
        });

        it("resolve-model prints the storage URI; --json carries the version", async () => {
            const a = capture();
            assert.equal(await resolveMain(["--tracking-uri", direct.url, "models:/DirectRegressor@production"], a.io), 0, a.out.stderr);
            assert.equal(a.out.stdout, `${directModels.versions["2"]!.downloadUri}\n`);
            const b = capture({ MLFLOW_TRACKING_URI: direct.url });
            assert.equal(await resolveMain(["--json", "models:/DirectRegressor/3"], b.io), 0, b.out.stderr);
            const rec = JSON.parse(b.out.stdout) as Record<string, unknown>;
            assert.equal(rec.version, "3");
            assert.equal(rec.runId, directModels.versions["3"]!.runId);
            assert.equal(rec.storageUri, directModels.versions["3"]!.downloadUri);
        });

        it("npx tsx cli/resolve-model.ts: stdout, exit codes and one stderr line", async function () {
            this.timeout(120_000);
            const run = (...args: string[]) => runCommand("npx", ["tsx", "cli/resolve-model.ts", ...args], { cwd: REPO_ROOT, timeoutMs: 90_000 });
            const ok = await run("--tracking-uri", direct.url, "models:/DirectRegressor@production");
            assert.equal(ok.code, 0, ok.stderr);
            assert.equal(ok.stdout, `${directModels.versions["2"]!.downloadUri}\n`);
            const missing = await run("--tracking-uri", direct.url, "models:/DirectRegressor@nope");
            assert.equal(missing.code, 1);
            assert.equal(missing.stdout, "");
            assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
            assert.match(missing.stderr, new RegExp(`"nope".*"DirectRegressor".*127\\.0\\.0\\.1:${direct.port}`));
            const bad = await run("--tracking-uri", direct.url, "--no-such-flag", "models:/DirectRegressor@production");
            assert.equal(bad.code, 2, bad.stderr);
        });

        it("a missing alias is MLflow's HTTP 400, reported as ALIAS_NOT_FOUND naming model, alias and host:port", async () => {
            const e = await rejectsCode(client().getModelVersionByAlias("DirectRegressor", "staging"), "ALIAS_NOT_FOUND", '"staging"', '"DirectRegressor"', `127.0.0.1:${direct.port}`);
            assert.equal(e.status, 400);
            const c = capture();
            assert.equal(await resolveMain(["--tracking-uri", direct.url, "models:/DirectRegressor@staging"], c.io), 1);
            assert.match(c.out.stderr, /^resolve-model: .*"staging".*\n$/);
        });

        it("a missing version is MLflow's HTTP 404, reported as VERSION_NOT_FOUND", async () => {
            const e = await rejectsCode(
                resolveModel(client(), { servedName: "ch", registeredModel: "DirectRegressor", version: "42" }, { allowedPrefixes: [] }),
                "VERSION_NOT_FOUND",
                "Version 42",
                '"DirectRegressor"',
                `127.0.0.1:${direct.port}`,
            );
            assert.equal(e.status, 404);
            await rejectsCode(client().getModelVersionByAlias("NoSuchModel", "production"), "MODEL_NOT_FOUND", '"NoSuchModel"');
        });

        it("another bucket in the allowlist is rejected", async () => {
            await rejectsCode(
                resolveModel(client(), { servedName: "ch", registeredModel: "DirectRegressor", alias: "production" }, { allowedPrefixes: ["s3://some-other-bucket"] }),
                "OUTSIDE_BUCKET",
                `s3://${BUCKET}/direct/`,
                "s3://some-other-bucket",
            );
        });

        it("verifyArtifact finds MLmodel, and fails once it is deleted from S3", async () => {
            const endpoint = moto.endpoint;
            const v1 = directModels.versions["1"]!.downloadUri.replace(/\/+$/, "");
            await verifyArtifact(v1, { endpoint });
            const s3 = moto.client();
            try {
                await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${v1.slice(`s3://${BUCKET}/`.length)}/MLmodel` }));
            } finally {
                s3.destroy();
            }
            await rejectsCode(verifyArtifact(v1, { endpoint }), "ARTIFACT_MISSING", `KServe would start and crash: no model at ${v1}/MLmodel`);
            const c = capture({ AWS_ENDPOINT_URL_S3: endpoint });
            assert.equal(await resolveMain(["--tracking-uri", direct.url, "--verify", "models:/DirectRegressor/1"], c.io), 1);
            assert.match(c.out.stderr, /KServe would start and crash: no model at .*\/MLmodel/);
            const d = capture({ AWS_ENDPOINT_URL_S3: endpoint });
            assert.equal(await resolveMain(["--tracking-uri", direct.url, "--verify", "models:/DirectRegressor@production"], d.io), 0, d.out.stderr);
        });

        it("promote points an alias at a version, and the resolver follows it", async () => {
            const a = capture();
            assert.equal(await promoteMain(["--tracking-uri", direct.url, "--model", "DirectRegressor", "--version", "1", "--alias", "challenger", "--force", "--reason", "registry test: the fixture logs no test_rmse"], a.io), 0, a.out.stderr);
            assert.match(a.out.stdout, /^models:\/DirectRegressor@challenger → version 1 \(no test_rmse\): .*nothing to compare against/);
            const b = capture();
            assert.equal(await promoteMain(["--tracking-uri", direct.url, "--model", "DirectRegressor", "--version", "3", "--alias", "challenger", "--force", "--reason", "registry test: the fixture logs no test_rmse"], b.io), 0, b.out.stderr);
            assert.match(b.out.stdout, /→ version 3 \(no test_rmse\) from version 1 \(no test_rmse\): FORCED past the gate/);
            const r = await resolveModel(client(), { servedName: "ch", registeredModel: "DirectRegressor", alias: "challenger" }, { allowedPrefixes: [] });
            assert.equal(r.storageUri, directModels.versions["3"]!.downloadUri.replace(/\/+$/, ""));
            const c = capture();
            assert.equal(await promoteMain(["--tracking-uri", direct.url, "--model", "DirectRegressor", "--version", "9", "--force", "--reason", "registry test: the fixture logs no test_rmse"], c.io), 1);
            assert.match(c.out.stderr, /Version 9/);
        });
    });

    describe("proxied mlflow-artifacts:/ storage", () => {
        const client = () => new MlflowRegistryClient({ trackingUri: proxied.url });
        const opts = () => ({ artifactsDestination: `s3://${BUCKET}/proxied`, allowedPrefixes: [`s3://${BUCKET}`] });

        it("MLflow answers mlflow-artifacts:/ download URIs", () => {
            for (const v of Object.values(proxiedModels.versions)) assert.match(v.downloadUri, /^mlflow-artifacts:/);
        });

        it("maps the alias's download URI onto the artifacts destination, where the model really is", async () => {
            const r = await resolveModel(client(), { servedName: "ch", registeredModel: "ProxiedRegressor", alias: "production" }, opts());
            const v2 = proxiedModels.versions["2"]!;
            const relative = v2.downloadUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?\/+/, "").replace(/\/+$/, "");
            assert.equal(r.version, "2");
            assert.equal(r.storageUri, `s3://${BUCKET}/proxied/${relative}`);
            // the server uploaded there: the mapped location holds the model
            await verifyArtifact(r.storageUri, { endpoint: moto.endpoint });
        });

        it("resolve-model --artifacts-destination --json carries the version and the s3:// URI", async () => {
            const c = capture({ AWS_ENDPOINT_URL_S3: moto.endpoint });
            const argv = ["--tracking-uri", proxied.url, "--artifacts-destination", `s3://${BUCKET}/proxied`, "--allow-prefix", `s3://${BUCKET}`, "--verify", "--json", "models:/ProxiedRegressor@production"];
            assert.equal(await resolveMain(argv, c.io), 0, c.out.stderr);
            const rec = JSON.parse(c.out.stdout) as Record<string, unknown>;
            assert.equal(rec.version, "2");
            assert.equal(rec.runId, proxiedModels.versions["2"]!.runId);
            assert.match(String(rec.storageUri), new RegExp(`^s3://${BUCKET}/proxied/.+/artifacts$`));
        });

        it("without an artifacts destination the lookup stops, naming the option", async () => {
            await rejectsCode(
                resolveModel(client(), { servedName: "ch", registeredModel: "ProxiedRegressor", version: "3" }, { allowedPrefixes: [] }),
                "NO_ARTIFACTS_DESTINATION",
                "--artifacts-destination",
                '"ProxiedRegressor"',
            );
        });

        it("a Host outside --allowed-hosts is HOST_REJECTED (HTTP 403), naming the host", async () => {
            const viaLocalhost = new MlflowRegistryClient({ trackingUri: `http://localhost:${proxied.port}` });
            const e = await rejectsCode(viaLocalhost.getModelVersionByAlias("ProxiedRegressor", "production"), "HOST_REJECTED", `"localhost:${proxied.port}"`, "--allowed-hosts");
            assert.equal(e.status, 403);
        });
    });

    describe("basic-auth server", () => {
        const basic = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString("base64")}`;
        const STORAGE = () => `s3://${BUCKET}/auth/models/m-auth/artifacts`;

        before(async () => {
            // a registered version made through the REST API as the admin (no Python needed here)
            const headers = { Authorization: basic, "Content-Type": "application/json" };
            await json(`${auth.url}/api/2.0/mlflow/registered-models/create`, { method: "POST", headers, body: JSON.stringify({ name: "AuthRegressor" }) });
            await json(`${auth.url}/api/2.0/mlflow/model-versions/create`, { method: "POST", headers, body: JSON.stringify({ name: "AuthRegressor", source: STORAGE() }) });
        });

        it("401 without credentials, naming the env vars; exit 1 from the CLI", async () => {
            const e = await rejectsCode(new MlflowRegistryClient({ trackingUri: auth.url }).getModelVersion("AuthRegressor", "1"), "UNAUTHORIZED", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD");
            assert.equal(e.status, 401);
            const c = capture();
            assert.equal(await resolveMain(["--tracking-uri", auth.url, "models:/AuthRegressor/1"], c.io), 1);
            assert.match(c.out.stderr, /HTTP 401/);
        });

        it("401 with a wrong password or a bearer token", async () => {
            await rejectsCode(new MlflowRegistryClient({ trackingUri: auth.url, auth: { username: "admin", password: "wrong" } }).getModelVersion("AuthRegressor", "1"), "UNAUTHORIZED", 'user "admin"');
            await rejectsCode(new MlflowRegistryClient({ trackingUri: auth.url, auth: { token: "not-a-token" } }).getModelVersion("AuthRegressor", "1"), "UNAUTHORIZED", "MLFLOW_TRACKING_TOKEN");
        });

        it("with credentials from the environment: promote, then resolve (basic wins over a token)", async () => {
            const env = { MLFLOW_TRACKING_URI: auth.url, MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password, MLFLOW_TRACKING_TOKEN: "ignored" };
            const p = capture(env);
            assert.equal(await promoteMain(["--model", "AuthRegressor", "--version", "1", "--force", "--reason", "registry test: the fixture logs no test_rmse"], p.io), 0, p.out.stderr);
            const r = capture(env);
            assert.equal(await resolveMain(["--json", "models:/AuthRegressor@production"], r.io), 0, r.out.stderr);
            const rec = JSON.parse(r.out.stdout) as Record<string, unknown>;
            assert.equal(rec.version, "1");
            assert.equal(rec.storageUri, STORAGE());
        });
    });

    describe("unreachable registry", () => {
        it("names host:port and suggests a port-forward; the CLI exits 1", async function () {
            this.timeout(60_000);
            const port = await freePort();
            await rejectsCode(
                new MlflowRegistryClient({ trackingUri: `http://127.0.0.1:${port}`, backoffMs: 10 }).getModelVersionByAlias("M", "production"),
                "UNREACHABLE",
                `127.0.0.1:${port}`,
                "kubectl port-forward",
            );
            const c = capture();
            assert.equal(await resolveMain(["--tracking-uri", `http://127.0.0.1:${port}`, "models:/M@production"], c.io), 1);
            assert.match(c.out.stderr, new RegExp(`unreachable.*127\\.0\\.0\\.1:${port}`));
        });
    });
});
