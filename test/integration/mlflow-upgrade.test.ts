/**
 * An MLflow upgrade on real services: a real MLflow 3.10.1 server (basic auth, its own auth database) on the shared
 * PostgreSQL writes an experiment, runs, metrics, two registered versions, the alias `production`, a user and a
 * permission; then the upgrade's steps run as the platform renders them (manifests/upgrade.ts, the migration Job of
 * manifests/tracking-server.ts; command and env from the builders, only endpoints and Secret values substituted):
 * the pre-upgrade backup pod to moto's S3, the migration by MLflow 3.17.2 (images/mlflow's version). Afterwards a
 * 3.17.2 server finds every row and the alias, `production` resolves to the same storage URI, and the backup
 * restores into a fresh database with the source's table counts.
 *
 * The failed migration: a copy of the 3.10.1 database (restored from the backup) gets a table in the way of a
 * 3.17.2 migration (the first table 3.17.2's schema has and 3.10.1's lacks, created beforehand with another shape),
 * so `mlflow db upgrade` fails part-way; the Job's failure line names the backup. The way back the runbook gives
 * (restore the backup into a fresh database, run the old image) is then taken: the old server serves every row.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { MlflowRegistryClient, resolveModel, type ResolvedModel } from "../../lib/registry";
import { BACKUP_SERVICE_ACCOUNT, backupDatabases, backupEncryption, DUMP_CONTAINER, UPLOAD_CONTAINER } from "../../manifests/backup";
import { dbUpgradeJob } from "../../manifests/tracking-server";
import { preUpgradeBackupPrefix, upgradeBackupJob } from "../../manifests/upgrade";
import { mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import { type S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import { tableCounts, type PostgresServer } from "../../testbed/postgres";
import { runCommand, stepLog, type CommandResult } from "../../testbed/process";
import { dockerEnv, localCommand, localEnv, runLocal, type RenderedContainer } from "../../testbed/rendered";
import { runPython } from "../../testbed/python";
import { listKeys } from "../../testbed/s3-objects";
import { ensureVenv, REPO_ROOT, type Venv, type VenvName } from "../../testbed/venv";
import { sharedMoto, sharedPostgres, tempDir } from "./support/services";

const FROM = "3.10.1";
const TO = "3.17.2";
const SEED = path.join(REPO_ROOT, "test", "integration", "fixtures", "seed_mlflow.py");
const RESTORE = path.join(REPO_ROOT, "scripts", "restore-database.sh");
const MLFLOW_DOCKERFILE = path.join(REPO_ROOT, "images", "mlflow", "Dockerfile");
const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `upgrade-it-${SUFFIX}`;
const MODEL = "UpgradeCheck";
const SRC = `upgrade_src_${SUFFIX}`;
const AUTH = `upgrade_auth_${SUFFIX}`;
const ADMIN = { username: "admin", password: `pw-${randomBytes(8).toString("hex")}` };
const { log, timed } = stepLog("upgrade");

interface Job { spec: { template: { spec: { initContainers?: RenderedContainer[]; containers: RenderedContainer[] } } } }

describe(`MLflow upgrade ${FROM} → ${TO} on real PostgreSQL, MLflow and S3 (moto): nothing lost, the backup restores, a failed migration names it`, function () {
    let pg: PostgresServer;
    let moto: S3Server;
    let current: Venv;
    let before_: ResolvedModel;
    let countsBefore: Map<string, number>;
    let alembicBefore = "";
    let backupPrefix = "";

    const authIni = (db: string) => {
        const file = path.join(tempDir("upgrade-auth"), "basic_auth.ini");
        fs.writeFileSync(file, `[mlflow]\ndefault_permission = READ\ndatabase_uri = ${pg.url(db)}\nadmin_username = ${ADMIN.username}\nadmin_password = ${ADMIN.password}\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n`);
        return file;
    };
    const server = (venv: VenvName, db: string, auth: string): Promise<MlflowServer> =>
        freePort().then((port) =>
            startMlflowServer({
                venv,
                args: mlflowServerArgs(port, ["--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/mlartifacts`, "--no-serve-artifacts", "--workers", "1", "--app-name", "basic-auth"]),
                env: { ...moto.env(), MLFLOW_AUTH_CONFIG_PATH: authIni(auth), MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString("hex") },
                healthTimeoutMs: 600_000,
            }),
        );
    const basic = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString("base64")}`;
    async function api(base: string, method: "GET" | "POST", apiPath: string, body?: unknown): Promise<Record<string, unknown>> {
        const r = await fetch(`${base}${apiPath}`, { method, headers: { Authorization: basic, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        assert.equal(r.status, 200, `${method} ${apiPath}: HTTP ${r.status} ${text.slice(0, 300)}`);
        return JSON.parse(text) as Record<string, unknown>;
    }
    const resolve = (url: string) =>
        resolveModel(new MlflowRegistryClient({ trackingUri: url, auth: { username: ADMIN.username, password: ADMIN.password } }), { servedName: "check", registeredModel: MODEL, alias: "production" }, { allowedPrefixes: [`s3://${BUCKET}`] });
    const alembic = (db: string) => pg.query(db, "select version_num from alembic_version");

    /** What a server on `db` shows: the experiment's runs with their metrics, the model's versions, the user and permission. */
    async function contents(url: string): Promise<string> {
        const exp = (await api(url, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=migration-check")).experiment as { experiment_id: string };
        const runs = ((await api(url, "POST", "/api/2.0/mlflow/runs/search", { experiment_ids: [exp.experiment_id], max_results: 100 })).runs ?? []) as { info: { run_id: string; status: string }; data: { params?: unknown[]; metrics?: { key: string; value: number }[] } }[];
        const versions = ((await api(url, "GET", `/api/2.0/mlflow/model-versions/search?${new URLSearchParams({ filter: `name='${MODEL}'` })}`)).model_versions ?? []) as { version: string; source: string; run_id: string }[];
        const alias = (await api(url, "GET", `/api/2.0/mlflow/registered-models/alias?name=${MODEL}&alias=production`)).model_version as { version: string };
        const user = (await api(url, "GET", "/api/2.0/mlflow/users/get?username=alice")).user as { username: string };
        // The permission as the auth app resolves it: 3.10's per-experiment API, or 3.17's role-based one (its auth
        // migration e5f6a7b8c9d0 moves each experiment permission into a role).
        const legacy = await fetch(`${url}/api/2.0/mlflow/experiments/permissions/get?${new URLSearchParams({ experiment_id: exp.experiment_id, username: "alice" })}`, { headers: { Authorization: basic } });
        const permission =
            legacy.status === 404
                ? ((await api(url, "GET", `/api/3.0/mlflow/users/permissions/get?${new URLSearchParams({ username: "alice", resource_type: "experiment", resource_id: exp.experiment_id })}`)) as { permission: string }).permission
                : ((await legacy.json()) as { experiment_permission: { permission: string } }).experiment_permission.permission;
        return JSON.stringify({
            runs: runs.map((r) => ({ id: r.info.run_id, status: r.info.status, params: r.data.params, metrics: (r.data.metrics ?? []).map((m) => [m.key, m.value]).sort() })).sort((a, b) => a.id.localeCompare(b.id)),
            versions: versions.map((v) => [v.version, v.source, v.run_id]).sort(),
            alias: alias.version,
            user: [user.username, permission],
        });
    }
    let contentsBefore = "";

    /** The migration Job's container as rendered for this upgrade, run on `db`; its termination message goes to `terminationLog`. */
    function runMigration(db: string, terminationLog: string): Promise<CommandResult> {
        const job = dbUpgradeJob({
            namespace: "mlflow", name: "mlflow-db-upgrade-x", image: "mlflow-platform/mlflow:local", serviceAccountName: "mlflow", backendStoreSecretName: "mlflow-backend-store",
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } }, upgrade: { from: FROM, to: TO, backup: backupPrefix },
        });
        const [migration] = containers(job);
        const env = localEnv(migration, { secrets: { MLFLOW_BACKEND_STORE_URI: pg.url(db) }, replace: { HOME: tempDir("upgrade-home") }, add: { TERMINATION_LOG: terminationLog } });
        return runLocal(localCommand(migration, { binDir: path.dirname(current.python), imageEnv: dockerEnv(MLFLOW_DOCKERFILE), env }), { cwd: tempDir("upgrade-cwd"), timeoutMs: 600_000 });
    }

    /** The rendered container of a Job: init containers first. */
    const containers = (job: unknown) => {
        const spec = (job as Job).spec.template.spec;
        return [...(spec.initContainers ?? []), ...spec.containers];
    };

    before(async function () {
        this.timeout(30 * 60_000); // a first run builds both venvs
        [pg, moto, current] = await Promise.all([sharedPostgres(), sharedMoto(), ensureVenv("mlflow"), ensureVenv("mlflow-previous")]);
        await Promise.all([moto.createBucket(BUCKET), pg.createDatabase(SRC), pg.createDatabase(AUTH)]);
        const old = await timed(`MLflow ${FROM} up (basic auth)`, () => server("mlflow-previous", SRC, AUTH));
        try {
            const seed = await timed("seed (2 runs, 2 versions, production -> 1)", () =>
                runPython("mlflow-previous", SEED, {
                    args: [old.url, MODEL],
                    env: { ...moto.env(), MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1", MLFLOW_HTTP_REQUEST_TIMEOUT: "60" },
                }),
            );
            assert.equal(seed.code, 0, `seed_mlflow.py failed:\n${seed.stderr.slice(-3000)}`);
            const exp = (await api(old.url, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=migration-check")).experiment as { experiment_id: string };
            await api(old.url, "POST", "/api/2.0/mlflow/users/create", { username: "alice", password: `pw-${randomBytes(8).toString("hex")}` });
            await api(old.url, "POST", "/api/2.0/mlflow/experiments/permissions/create", { experiment_id: exp.experiment_id, username: "alice", permission: "EDIT" });
            before_ = await resolve(old.url);
            contentsBefore = await contents(old.url);
        } finally {
            await old.stop(); // the upgrade's stop step: no writer from here on
        }
        countsBefore = await tableCounts(pg, SRC);
        alembicBefore = await alembic(SRC);
        log(`${FROM} schema ${alembicBefore}; ${countsBefore.size} tables; production -> ${before_.version} ${before_.storageUri}`);
    });

    it("the pre-upgrade backup pod (as rendered) writes a verified dump of both databases to backups/pre-upgrade-<from>-to-<to>/, the MANIFEST last", async function () {
        backupPrefix = String(preUpgradeBackupPrefix(`s3://${BUCKET}`, FROM, TO));
        const job = upgradeBackupJob({
            namespace: "mlflow", from: FROM, to: TO,
            postgresImage: "postgres:16.10", uploaderImage: "mlflow-platform/mlflow:local",
            host: "127.0.0.1", port: pg.port, username: pg.user, passwordSecretName: "postgres-credentials",
            databases: backupDatabases(SRC, AUTH), artifactRoot: `s3://${BUCKET}`,
            aws: { keysSecretName: "mlflow-aws-credentials", region: moto.region, s3Endpoint: moto.endpoint },
            encryption: backupEncryption(), serviceAccountName: BACKUP_SERVICE_ACCOUNT,
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } }, workDirSize: "20Gi",
        });
        const [dump, upload] = containers(job);
        assert.deepEqual([dump.name, upload.name], [DUMP_CONTAINER, UPLOAD_CONTAINER]);
        const dir = tempDir("upgrade-backup");
        const home = tempDir("upgrade-backup-home");
        const d = await runLocal(localCommand(dump, { binDir: pg.binDir, env: localEnv(dump, { secrets: { PGPASSWORD: pg.password }, replace: { BACKUP_DIR: dir, HOME: home } }) }), { cwd: home, timeoutMs: 300_000 });
        assert.equal(d.code, 0, `dump: ${d.stdout}\n${d.stderr}`);
        const u = await runLocal(
            localCommand(upload, {
                binDir: path.dirname(current.python),
                imageEnv: dockerEnv(MLFLOW_DOCKERFILE),
                env: localEnv(upload, { secrets: { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey }, replace: { BACKUP_DIR: dir, HOME: home } }),
            }),
            { cwd: home, timeoutMs: 300_000 },
        );
        assert.equal(u.code, 0, `upload: ${u.stdout}\n${u.stderr}`);
        const keys = await listKeys(moto.client(), BUCKET, `backups/pre-upgrade-${FROM}-to-${TO}/`);
        assert.deepEqual(keys.map((k) => k.replace(/\d{8}T\d{6}Z/, "<stamp>")).sort(), [`${AUTH}/<stamp>.dump`, "MANIFEST", `${SRC}/<stamp>.dump`].map((k) => `backups/pre-upgrade-${FROM}-to-${TO}/${k}`).sort());
        assert.ok(u.stdout.trim().split("\n").at(-2)?.includes("MANIFEST, last"), u.stdout);
    });

    it(`a failed migration (a table in its way) exits non-zero naming the backup; the way back (restore + ${FROM}) serves every row`, async function () {
        assert.ok(backupPrefix, "depends on the backup above");
        const restore = (prefix: string, db: string) =>
            runCommand("bash", [RESTORE, "latest"], { env: { ...process.env, ...moto.env(), PG_BIN: pg.binDir, PYTHON: current.python, BACKUP_PREFIX: prefix, TARGET_DATABASE_URL: pg.url(db) }, timeoutMs: 300_000 });
        const broken = `upgrade_broken_${SUFFIX}`;
        await pg.createDatabase(broken);
        const r = await restore(`${backupPrefix}${SRC}`, broken);
        assert.equal(r.code, 0, `restore: ${r.stdout}\n${r.stderr}`);
        // A table of 3.17.2's schema that 3.10.1's lacks, taken beforehand with another shape: its migration fails.
        const fresh = `upgrade_fresh_${SUFFIX}`;
        await pg.createDatabase(fresh);
        const init = await runCommand(current.bin("mlflow"), ["db", "upgrade", pg.url(fresh)], { env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: "true" }, timeoutMs: 300_000 });
        assert.equal(init.code, 0, init.stderr.slice(-2000));
        const tables = (q: string) => pg.query(q, "select tablename from pg_tables where schemaname = 'public' order by 1").then((t) => t.split("\n").filter((x) => x));
        const [newTables, oldTables] = await Promise.all([tables(fresh), tables(broken)]);
        const added = newTables.filter((t) => !oldTables.includes(t));
        assert.ok(added.length > 0, `${TO}'s schema adds no table to ${FROM}'s: pick an older FROM`);
        await pg.query(broken, `create table ${added[0]} (in_the_way integer)`);

        const terminationLog = path.join(tempDir("upgrade-termination"), "termination-log");
        const failed = await timed("migration made to fail", () => runMigration(broken, terminationLog));
        assert.notEqual(failed.code, 0, failed.stdout);
        const message = fs.readFileSync(terminationLog, "utf8").trim();
        assert.ok(message !== "", `a termination message; the pod's stderr:\n${failed.stderr.slice(-3000)}`);
        assert.match(message, new RegExp(`^mlflow db upgrade from MLflow ${FROM} to ${TO} failed \\(exit \\d+\\): .* restorable from the backup taken before the migration: ${backupPrefix.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(scripts/restore-database\\.sh`));
        assert.ok(failed.stderr.includes(message), "the same line on stderr");
        log(`failed migration (table ${added[0]} in the way): ${message}`);

        // The way back: the backup into a fresh database, the old version on it.
        const back = `upgrade_back_${SUFFIX}`;
        const backAuth = `upgrade_back_auth_${SUFFIX}`;
        await Promise.all([pg.createDatabase(back), pg.createDatabase(backAuth)]);
        for (const [db, target] of [[SRC, back], [AUTH, backAuth]]) {
            const rr = await restore(`${backupPrefix}${db}`, target);
            assert.equal(rr.code, 0, `restore ${db}: ${rr.stdout}\n${rr.stderr}`);
        }
        assert.deepEqual(await tableCounts(pg, back), countsBefore, "the backup restores every table's rows");
        assert.equal(await alembic(back), alembicBefore);
        const old = await timed(`MLflow ${FROM} on the restored database`, () => server("mlflow-previous", back, backAuth));
        try {
            assert.equal(await contents(old.url), contentsBefore);
            assert.deepEqual(await resolve(old.url), before_);
        } finally {
            await old.stop();
        }
    });

    it(`the migration to ${TO} (as rendered), then a ${TO} server: every run, metric, version, the alias, the user and permission; production resolves to the same storage URI`, async function () {
        const terminationLog = path.join(tempDir("upgrade-termination"), "termination-log");
        const t0 = Date.now();
        const r = await runMigration(SRC, terminationLog);
        log(`migration ${FROM} -> ${TO}: ${Date.now() - t0} ms`);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-3000)}`);
        assert.ok(!fs.existsSync(terminationLog), "no failure line on success");
        const alembicAfter = await alembic(SRC);
        assert.notEqual(alembicAfter, alembicBefore, `the schema moved (${alembicBefore} -> ${alembicAfter})`);
        const after = await tableCounts(pg, SRC);
        for (const [table, rows] of countsBefore) if (table !== "public.alembic_version") assert.ok((after.get(table) ?? -1) >= rows, `${table}: ${rows} rows before, ${after.get(table)} after`);

        const next = await timed(`MLflow ${TO} up on the migrated database`, () => server("mlflow", SRC, AUTH));
        try {
            assert.equal(await contents(next.url), contentsBefore);
            const now = await resolve(next.url);
            assert.equal(now.version, before_.version);
            assert.equal(now.storageUri, before_.storageUri);
        } finally {
            await next.stop();
        }
    });
});

