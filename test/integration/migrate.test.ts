/**
 * scripts/migrate-database.sh on real services, in the runbook's order: two PostgreSQL servers (in-cluster
 * stand-in and RDS stand-in), moto S3 for artifacts, a real MLflow server on the source that logs runs and
 * registers a model with an alias; the source server stopped (writes frozen); the copy; a real MLflow server on
 * the target that must answer the registry lookups exactly like the source did; a second copy refused.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import type { S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import { startPostgres, tableCounts, type PostgresServer } from "../../testbed/postgres";
import { runCommand, spawnManaged, type CommandResult } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { sharedMoto } from "./support/services";
import { REPO_ROOT } from "../../testbed/venv";

const SCRIPT = path.join(REPO_ROOT, "scripts", "migrate-database.sh");
const SEED = path.join(REPO_ROOT, "test", "integration", "fixtures", "seed_mlflow.py");
const DB = "mlflow";
const MODEL = "MigrationCheck";

/** SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the MLflow image pins psycopg2. */
const sqlalchemyUri = (url: string) => url.replace(/^postgresql:/, "postgresql+psycopg2:");

/** A digest of the rows the registry lookups depend on, to prove "untouched" beyond counts. */
const FINGERPRINT = `select md5(concat_ws('/',
  (select string_agg(t::text, ',' order by t::text) from runs t),
  (select string_agg(t::text, ',' order by t::text) from model_versions t),
  (select string_agg(t::text, ',' order by t::text) from registered_model_aliases t),
  (select string_agg(t::text, ',' order by t::text) from metrics t),
  (select string_agg(version_num, ',') from alembic_version)))`;

/** `schema.table source target` rows of the script's report. */
function reportedCounts(stdout: string): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const m of stdout.matchAll(/^(\S+\.\S+)\s+(\d+|-)\s+(\d+|-)/gm)) rows.set(m[1], [m[2], m[3]]);
  return rows;
}

async function migrate(env: Record<string, string>): Promise<CommandResult & { ms: number }> {
  const started = Date.now();
  const r = await runCommand("bash", [SCRIPT], { env: { ...process.env, ...env }, timeoutMs: 300_000 });
  return { ...r, ms: Date.now() - started };
}

async function getJson<T>(base: string, p: string): Promise<T> {
  const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${p} -> ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function postJson<T>(base: string, p: string, body: unknown): Promise<T> {
  const res = await fetch(`${base}${p}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${p} -> ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

interface ModelVersion { name: string; version: string; source: string; run_id: string; aliases?: string[] }
interface Run { info: { run_id: string; status: string }; data: { params?: { key: string; value: string }[]; metrics?: { key: string; value: number; step: number }[] } }
interface Seeded { experimentId: string; runIds: string[]; model: string; versions: string[] }

/** What a client sees of the registry and the runs: must be identical before and after the move. */
interface RegistryView {
  alias: ModelVersion;
  downloadUris: Record<string, string>;
  runs: { id: string; status: string; params: string[]; metrics: string[]; rmseHistory: number[] }[];
}

async function registryView(base: string, seeded: Seeded): Promise<RegistryView> {
  const alias = (await getJson<{ model_version: ModelVersion }>(base,
    `/api/2.0/mlflow/registered-models/alias?name=${encodeURIComponent(MODEL)}&alias=production`)).model_version;
  const downloadUris: Record<string, string> = {};
  for (const v of seeded.versions) {
    downloadUris[v] = (await getJson<{ artifact_uri: string }>(base,
      `/api/2.0/mlflow/model-versions/get-download-uri?name=${encodeURIComponent(MODEL)}&version=${v}`)).artifact_uri;
  }
  const found = await postJson<{ runs?: Run[] }>(base, "/api/2.0/mlflow/runs/search", { experiment_ids: [seeded.experimentId] });
  const runs = [];
  for (const r of (found.runs ?? []).sort((a, b) => a.info.run_id.localeCompare(b.info.run_id))) {
    const history = await getJson<{ metrics?: { value: number; step: number }[] }>(base,
      `/api/2.0/mlflow/metrics/get-history?run_id=${r.info.run_id}&metric_key=rmse`);
    runs.push({
      id: r.info.run_id,
      status: r.info.status,
      params: (r.data.params ?? []).map((p) => `${p.key}=${p.value}`).sort(),
      metrics: (r.data.metrics ?? []).map((m) => `${m.key}=${m.value}@${m.step}`).sort(),
      rmseHistory: (history.metrics ?? []).sort((a, b) => a.step - b.step).map((m) => m.value),
    });
  }
  return { alias: { ...alias, aliases: [...(alias.aliases ?? [])].sort() }, downloadUris, runs };
}

describe("scripts/migrate-database.sh: in-cluster PostgreSQL → RDS copy on real servers", function () {
  let source: PostgresServer;
  let target: PostgresServer;
  let s3: S3Server;
  let seeded: Seeded;
  let before_: RegistryView;
  let artifactArgs: string[];
  let copied = false;
  const bucket = `migrate-${process.pid}-${Date.now().toString(36)}`;
  const timings: string[] = [];
  const pgBin = () => ({ PG_BIN: source.binDir });

  const startMlflowOn = (pg: PostgresServer): Promise<MlflowServer> => freePort().then((port) => startMlflowServer({
    args: mlflowServerArgs(port, ["--backend-store-uri", sqlalchemyUri(pg.url(DB)), ...artifactArgs, "--workers", "1"]),
    env: s3.env(),
    healthTimeoutMs: 240_000,
  }));

  before(async function () {
    this.timeout(1_500_000); // a first run also builds the mlflow venv (several minutes)
    let t = Date.now();
    [source, target, s3] = await Promise.all([startPostgres({ name: "migrate-source" }), startPostgres({ name: "migrate-rds" }), sharedMoto()]);
    await Promise.all([source.createDatabase(DB), target.createDatabase(DB), s3.createBucket(bucket)]);
    artifactArgs = ["--artifacts-destination", `s3://${bucket}/mlartifacts`, "--serve-artifacts"];
    timings.push(`servers ${Date.now() - t} ms`);

    t = Date.now();
    const server = await startMlflowOn(source);
    timings.push(`source MLflow up ${Date.now() - t} ms`);
    try {
      t = Date.now();
      const seed = await runPython("mlflow", SEED, {
        args: [server.url, MODEL], env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1", MLFLOW_HTTP_REQUEST_TIMEOUT: "60" },
      });
      assert.equal(seed.code, 0, `seed_mlflow.py failed:\n${seed.stderr.slice(-3000)}`);
      seeded = JSON.parse(seed.stdout.trim().split("\n").pop() ?? "") as Seeded;
      assert.deepEqual(seeded.versions, ["1", "2"]);
      timings.push(`seed ${Date.now() - t} ms`);
      before_ = await registryView(server.url, seeded);
    } finally {
      // The runbook's first step: the tracking server is scaled to 0 before the copy (writes frozen).
      await server.stop();
    }
    assert.equal(before_.alias.version, "1");
    assert.equal(before_.runs.length, 2);
  });

  after(async function () {
    process.stdout.write(`      [migrate timings] ${timings.join("; ")}\n`);
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it("copies every row: exit 0 and equal count(*) per table on both sides", async function () {
    const r = await migrate({ SOURCE_DATABASE_URL: source.url(DB), TARGET_DATABASE_URL: target.url(DB), ...pgBin() });
    timings.push(`copy ${r.ms} ms`);
    assert.equal(r.code, 0, `migrate-database.sh exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /OK: \d+ tables, \d+ rows/);

    const [src, tgt] = await Promise.all([tableCounts(source, DB), tableCounts(target, DB)]);
    assert.deepEqual([...tgt.entries()], [...src.entries()]);
    // Not a vacuous equality: what the fixture wrote is there.
    assert.equal(tgt.get("public.runs"), 2);
    assert.equal(tgt.get("public.model_versions"), 2);
    assert.equal(tgt.get("public.registered_model_aliases"), 1);
    assert.ok((tgt.get("public.metrics") ?? 0) >= 12, `metrics: ${tgt.get("public.metrics")}`);
    // The script's printed table agrees with our own counts, table by table.
    const reported = reportedCounts(r.stdout);
    assert.deepEqual([...reported.keys()].sort(), [...src.keys()].sort());
    for (const [table, n] of src) assert.deepEqual(reported.get(table), [String(n), String(n)], table);
    assert.equal(await target.query(DB, "select version_num from alembic_version"), await source.query(DB, "select version_num from alembic_version"));
    timings.push(`${src.size} tables, ${[...src.values()].reduce((a, b) => a + b, 0)} rows`);
    // No password in anything it printed.
    for (const secret of [source.password, target.password]) assert.ok(!(r.stdout + r.stderr).includes(secret), "a password was printed");
    copied = true;
  });

  it("a tracking server on the target resolves the same alias to the same artifact location", async function () {
    assert.ok(copied, "depends on the copy above");
    const t = Date.now();
    const server = await startMlflowOn(target);
    timings.push(`target MLflow up ${Date.now() - t} ms`);
    try {
      const after_ = await registryView(server.url, seeded);
      assert.deepEqual(after_.alias, before_.alias);
      assert.deepEqual(after_.downloadUris, before_.downloadUris);
      assert.deepEqual(after_.runs, before_.runs);
      assert.deepEqual(after_.runs.map((r) => r.id), [...seeded.runIds].sort());
      assert.equal(after_.runs[0].rmseHistory.length, 5);
      // The same artifact root: the production model's files download through the target server.
      const uri = after_.downloadUris[after_.alias.version];
      assert.match(uri, /^mlflow-artifacts:\//);
      const res = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${uri.replace(/^mlflow-artifacts:\/+/, "")}/MLmodel`);
      const mlmodel = await res.text();
      assert.equal(res.status, 200, mlmodel);
      assert.match(mlmodel, /python_function/);
    } finally {
      await server.stop();
    }
  });

  it("refuses a second copy into the now non-empty target (exit 3) and leaves it untouched", async function () {
    assert.ok(copied, "depends on the copy above");
    const counts = await tableCounts(target, DB);
    const fingerprint = await target.query(DB, FINGERPRINT);
    const r = await migrate({ SOURCE_DATABASE_URL: source.url(DB), TARGET_DATABASE_URL: `${target.url(DB)}?sslmode=disable`, ...pgBin() });
    assert.equal(r.code, 3, `expected exit 3, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
    const errors = r.stderr.trim().split("\n");
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /target .*already holds MLflow rows .*ALLOW_NON_EMPTY_TARGET=true/);
    assert.ok(!r.stderr.includes(target.password));
    assert.deepEqual([...(await tableCounts(target, DB)).entries()], [...counts.entries()]);
    assert.equal(await target.query(DB, FINGERPRINT), fingerprint);
  });

  it("with ALLOW_NON_EMPTY_TARGET=true replaces the target and verifies (SQLAlchemy-style URLs accepted)", async function () {
    assert.ok(copied, "depends on the copy above");
    // A stray row only in the target: replaced by the source's rows.
    await target.query(DB, "insert into experiments (name, lifecycle_stage) values ('stray', 'active')");
    const r = await migrate({
      SOURCE_DATABASE_URL: sqlalchemyUri(source.url(DB)), TARGET_DATABASE_URL: sqlalchemyUri(target.url(DB)),
      ALLOW_NON_EMPTY_TARGET: "true", ...pgBin(),
    });
    timings.push(`copy over non-empty target ${r.ms} ms`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /dropped and replaced/);
    assert.deepEqual([...(await tableCounts(target, DB)).entries()], [...(await tableCounts(source, DB)).entries()]);
    assert.equal(await target.query(DB, FINGERPRINT), await source.query(DB, FINGERPRINT));
    assert.equal(await target.query(DB, "select count(*) from experiments where name = 'stray'"), "0");
  });

  it("refuses a source with connected writers (exit 7); forced, a write during the copy fails the verification (exit 4)", async function () {
    await Promise.all([source.createDatabase("probe"), target.createDatabase("probe")]);
    await source.query("probe", "create table t (i int)");
    // A writer that keeps committing for up to 60 s: the tracking server NOT scaled to 0.
    const writer = spawnManaged(path.join(source.binDir, "psql"), ["-X", "-h", "127.0.0.1", "-p", String(source.port), "-U", source.user,
      "-d", "probe", "-c", "do $$ begin for i in 1..3000 loop insert into t values (i); commit; perform pg_sleep(0.02); end loop; end $$"],
    { env: { ...process.env, PGPASSWORD: source.password } });
    try {
      while (Number(await source.query("probe", "select count(*) from t")) === 0) await new Promise((res) => setTimeout(res, 100));
      // The freeze is enforced: with a writer connected the copy is refused before anything is written.
      const refused = await migrate({ SOURCE_DATABASE_URL: source.url("probe"), TARGET_DATABASE_URL: target.url("probe"), ...pgBin() });
      assert.equal(refused.code, 7, `expected exit 7, got ${refused.code}:\n${refused.stdout}\n${refused.stderr}`);
      assert.match(refused.stderr, /other session\(s\) connected to the source database: scale the tracking server to 0/);
      assert.equal(await target.query("probe", "select count(*) from pg_tables where schemaname = 'public'"), "0");
      // Told to go on anyway, the verification still catches the writes that land during the copy.
      const r = await migrate({ SOURCE_DATABASE_URL: source.url("probe"), TARGET_DATABASE_URL: target.url("probe"), ALLOW_ACTIVE_SOURCE: "true", ...pgBin() });
      assert.equal(r.code, 4, `expected exit 4, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^public\.t\s+\d+\s+\d+\s+<-- differs$/m);
      assert.match(r.stdout, /other session\(s\) connected to the source/);
      assert.match(r.stderr, /verification failed/);
    } finally {
      await writer.stop(2000);
    }
  });

  it("names the unreachable side and never prints its password", async function () {
    const closed = await freePort();
    const secret = "Sup3r-Secret-Pw";
    const down = `postgresql://mlflow:${secret}@127.0.0.1:${closed}/${DB}?sslmode=require`;
    const r = await migrate({ SOURCE_DATABASE_URL: source.url(DB), TARGET_DATABASE_URL: down, ...pgBin() });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`^migrate-database: error: target database unreachable at postgresql://mlflow:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/`, "m"));
    assert.ok(!(r.stdout + r.stderr).includes(secret), "the target password was printed");

    const s = await migrate({ SOURCE_DATABASE_URL: down, TARGET_DATABASE_URL: target.url(DB), ...pgBin() });
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /error: source database unreachable/);
    assert.ok(!(s.stdout + s.stderr).includes(secret));

    const wrong = target.url(DB).replace(encodeURIComponent(target.password), secret);
    const w = await migrate({ SOURCE_DATABASE_URL: source.url(DB), TARGET_DATABASE_URL: wrong, ...pgBin() });
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /error: target database refused the connection .*password authentication failed/);
    assert.ok(!(w.stdout + w.stderr).includes(secret));
  });
});
