/**
 * Garbage collection on real services: the `mlflow-gc` CronJob's container (manifests/gc.ts) run as a local
 * process in the images/mlflow venv against a real MLflow tracking server on PostgreSQL with moto's S3.
 *
 * The tracking server runs as the rendered Deployment runs it (manifests/tracking-server.ts: its args, so
 * `--default-artifact-root s3://<bucket>/ --no-serve-artifacts`, and its env, so the backend store from
 * MLFLOW_BACKEND_STORE_URI), with only the listen host and port substituted. The gc container's command and env
 * are the builder's, with only the Secret-backed values (backend-store URI, AWS keys) substituted; the S3
 * endpoint is the builder's input, rendered as the local (MinIO) stack renders it. The process gets a clean
 * environment (PATH, the image's ENV, the container's env): nothing of this test process leaks in.
 *
 * Three runs log params, metrics, tags and two artifacts each, straight to S3 (fixtures/gc_runs.py): `live`
 * stays, `recent` and `old` are deleted. `old` is made older than the retention by moving its `deleted_time`
 * back in PostgreSQL (the column `mlflow gc --older-than` compares): the test then runs the builder's real
 * default, `--older-than 30d`, instead of a seconds-long retention and a sleep that would race the boundary on
 * a loaded machine. Checked: the old run's rows (runs, metrics, latest_metrics, params, tags) and its S3
 * objects are gone; the live and the recent run keep every row and object, and the recent one can still be
 * restored; a second gc deletes nothing.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { parseConfig } from "../../config";
import type { KubernetesObject } from "../../lib/render";
import type { AwsCredentialSource } from "../../manifests/common";
import { gcCronJob, olderThanMillis, type GcSpec } from "../../manifests/gc";
import { trackingServerDeployment } from "../../manifests/tracking-server";
import { startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import type { S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import type { PostgresServer } from "../../testbed/postgres";
import { stepLog, tail, type CommandResult } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { dockerEnv, localCommand, localEnv, renderedContainer, runLocal, withFlagValue, type RenderedContainer } from "../../testbed/rendered";
import { listKeys, splitS3 } from "../../testbed/s3-objects";
import { sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT, type Venv } from "../../testbed/venv";

const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `gc-it-${SUFFIX}`;
const DB = `gc_${SUFFIX}`;
const BACKEND_SECRET = "mlflow-backend-store";
const KEYS_SECRET = "mlflow-aws-credentials";
const MLFLOW_DOCKERFILE = path.join(REPO_ROOT, "images", "mlflow", "Dockerfile");
/** The tables `mlflow gc` clears for a run (MLflow 3.17.2 _hard_delete_run), each keyed by run_uuid. */
const RUN_TABLES = ["runs", "metrics", "latest_metrics", "params", "tags"] as const;
type RowCounts = Record<(typeof RUN_TABLES)[number], number>;
const LABELS = ["live", "recent", "old"] as const;
type Label = (typeof LABELS)[number];

interface Fixture { experimentId: string; runs: Record<Label, { runId: string; artifactUri: string }> }

const { log, timed } = stepLog("gc");
const cfg = parseConfig({}, "test");

describe("garbage collection: the mlflow-gc CronJob's command on real MLflow, PostgreSQL and S3", function () {
  let pg: PostgresServer;
  let moto: S3Server;
  let s3: S3Client;
  let venv: Venv;
  let server: MlflowServer;
  let tmp: string;
  let gcSpec: GcSpec;
  let fixture: Fixture;
  let first: CommandResult;
  const initial = new Map<Label, { rows: RowCounts; keys: string[] }>();

  const aws = (): AwsCredentialSource => ({ keysSecretName: KEYS_SECRET, region: moto.region, s3Endpoint: moto.endpoint });
  /** The values of the Secrets the test owns, by env var name (each must be Secret-backed in the render). */
  const secretValues = (names: readonly string[]): Record<string, string> => {
    const all: Record<string, string> = { MLFLOW_TRACKING_URI: pg.url(DB), MLFLOW_BACKEND_STORE_URI: pg.url(DB), AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey };
    return Object.fromEntries(names.map((n) => [n, all[n]!]));
  };
  const secretBacked = (c: RenderedContainer) => (c.env ?? []).filter((e) => e.valueFrom !== undefined).map((e) => e.name);

  async function rowCounts(runId: string): Promise<RowCounts> {
    assert.match(runId, /^[0-9a-f]{32}$/);
    const sql = RUN_TABLES.map((t) => `SELECT '${t}', count(*) FROM ${t} WHERE run_uuid = '${runId}'`).join(" UNION ALL ");
    const out = await pg.query(DB, sql);
    return Object.fromEntries(out.split("\n").map((l) => { const [t, n] = l.split("|"); return [t, Number(n)]; })) as RowCounts;
  }

  async function artifactKeys(artifactUri: string): Promise<string[]> {
    const { bucket, key } = splitS3(artifactUri);
    return (await listKeys(s3, bucket, `${key.replace(/\/+$/, "")}/`)).sort();
  }

  /** The gc container exactly as rendered (command, env), Secret values substituted, in a clean environment. */
  function runGc(spec: GcSpec): Promise<CommandResult> {
    const container = renderedContainer(gcCronJob(spec) as unknown as KubernetesObject);
    const env = localEnv(container, { secrets: secretValues(secretBacked(container)) });
    const cmd = localCommand(container, { binDir: path.dirname(venv.python), env, imageEnv: dockerEnv(MLFLOW_DOCKERFILE) });
    log(`running: ${[path.basename(cmd.cmd), ...cmd.args].join(" ")} (env: ${Object.keys(cmd.env).join(", ")})`);
    return timed("mlflow gc", () => runLocal(cmd, { cwd: fs.mkdtempSync(path.join(tmp, "gc-")), timeoutMs: 600_000 }));
  }

  before(async function () {
    this.timeout(30 * 60_000);
    [pg, moto, venv] = await Promise.all([sharedPostgres(), sharedMoto(), ensureVenv("mlflow")]);
    await Promise.all([pg.createDatabase(DB), moto.createBucket(BUCKET)]);
    s3 = moto.client();
    tmp = tempDir("gc");

    // The tracking server as the Deployment runs it (one worker: a 2-core test machine).
    const deployment = trackingServerDeployment({
      namespace: "mlflow",
      image: "mlflow-platform/mlflow:local",
      replicas: 1,
      workers: 1,
      resources: cfg.trackingServer.resources,
      serviceAccountName: "mlflow",
      backendStoreSecretName: BACKEND_SECRET,
      artifactRoot: `s3://${BUCKET}/`,
      aws: aws(),
      extraAllowedHosts: [],
    });
    const tracking = renderedContainer(deployment as unknown as KubernetesObject);
    const port = await freePort();
    const args = withFlagValue(withFlagValue(tracking.args ?? [], ["--host"], "127.0.0.1"), ["--port"], String(port));
    assert.ok(args.includes("--no-serve-artifacts") && args.includes(`s3://${BUCKET}/`), `direct S3 artifacts: ${args.join(" ")}`);
    server = await timed("tracking server up", () =>
      startMlflowServer({ args, env: localEnv(tracking, { secrets: secretValues(secretBacked(tracking)) }), healthTimeoutMs: 600_000 }));

    const r = await timed("three runs with artifacts; two deleted", () =>
      runPython("mlflow", path.join(__dirname, "fixtures", "gc_runs.py"), {
        args: ["--experiment", `gc-${SUFFIX}`, "--runs", LABELS.join(","), "--delete", "recent,old"],
        env: { ...moto.env(), MLFLOW_TRACKING_URI: server.url, GIT_PYTHON_REFRESH: "quiet" },
        timeoutMs: 600_000,
      }));
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    assert.ok(r.code === 0 && line, `gc_runs.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    fixture = JSON.parse(line.slice("RESULT_JSON=".length)) as Fixture;

    gcSpec = {
      namespace: "mlflow",
      image: "mlflow-platform/mlflow:local",
      serviceAccountName: "mlflow",
      resources: cfg.trackingServer.resources,
      activeDeadlineSeconds: 3600,
      ttlSecondsAfterFinished: 604_800,
      schedule: "17 3 * * *",
      olderThan: "30d",
      backendStoreSecretName: BACKEND_SECRET,
      aws: aws(),
      backoffLimit: 1,
    };
    // MLflow stamps deleted_time at deletion; one day past the retention makes `old` due, `recent` is not.
    const { runId: oldId } = fixture.runs.old;
    const due = Date.now() - olderThanMillis(gcSpec.olderThan) - 86_400_000;
    const stamped = await pg.query(DB, `SELECT run_uuid, lifecycle_stage, deleted_time IS NOT NULL FROM runs ORDER BY run_uuid`);
    log(`runs before: ${stamped.replace(/\n/g, "; ")}`);
    await pg.query(DB, `UPDATE runs SET deleted_time = ${due} WHERE run_uuid = '${oldId}' AND lifecycle_stage = 'deleted'`);

    for (const label of LABELS) {
      const run = fixture.runs[label];
      initial.set(label, { rows: await rowCounts(run.runId), keys: await artifactKeys(run.artifactUri) });
    }
    first = await runGc(gcSpec);
    log(`gc output:\n${tail(first.stdout + first.stderr, 20)}`);
  });

  after(async function () {
    this.timeout(120_000);
    s3?.destroy();
    await server?.stop();
  });

  it("the runs are set up as the test needs: direct s3:// artifacts, every row and object present, two deleted", async () => {
    for (const label of LABELS) {
      const run = fixture.runs[label];
      assert.ok(run.artifactUri.startsWith(`s3://${BUCKET}/${fixture.experimentId}/${run.runId}/`), `${label}: ${run.artifactUri} is a physical S3 path`);
      const b = initial.get(label)!;
      for (const t of RUN_TABLES) assert.ok(b.rows[t] > 0, `${label}: rows in ${t} before gc`);
      assert.equal(b.rows.metrics, 2, `${label}: two metric steps`);
      assert.deepEqual(b.keys.map((k) => k.slice(k.lastIndexOf("/artifacts/") + "/artifacts/".length)), ["outputs/summary.json", "report.txt"], label);
    }
    const stages = await pg.query(DB, `SELECT run_uuid, lifecycle_stage FROM runs WHERE experiment_id = ${Number(fixture.experimentId)}`);
    const byId = Object.fromEntries(stages.split("\n").map((l) => l.split("|")));
    assert.equal(byId[fixture.runs.recent.runId], "deleted");
    assert.equal(byId[fixture.runs.live.runId], "active");
  });

  it("the rendered command exits 0 and permanently deletes exactly the run deleted more than 30d ago", () => {
    assert.equal(first.code, 0, `mlflow gc exited ${first.code}:\n${tail(first.stdout + first.stderr, 30)}`);
    const deleted = [...first.stdout.matchAll(/^Run with ID (\w+) has been permanently deleted\.$/gm)].map((m) => m[1]);
    assert.deepEqual(deleted, [fixture.runs.old.runId]);
  });

  it("the old run's rows are gone from PostgreSQL: runs, metrics, latest_metrics, params, tags", async () => {
    assert.deepEqual(await rowCounts(fixture.runs.old.runId), { runs: 0, metrics: 0, latest_metrics: 0, params: 0, tags: 0 });
  });

  it("the old run's artifacts are gone from S3", async () => {
    assert.deepEqual(await artifactKeys(fixture.runs.old.artifactUri), []);
  });

  it("the live and the recently deleted run keep every row and every artifact", async () => {
    for (const label of ["live", "recent"] as const) {
      const run = fixture.runs[label];
      assert.deepEqual(await rowCounts(run.runId), initial.get(label)!.rows, `${label}: rows`);
      assert.deepEqual(await artifactKeys(run.artifactUri), initial.get(label)!.keys, `${label}: S3 objects`);
    }
  });

  it("through the server: the old run no longer exists, the recent one can still be restored", async () => {
    const get = (runId: string) => fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${runId}`);
    const gone = await get(fixture.runs.old.runId);
    assert.equal(gone.status, 404, await gone.text());
    const restore = await fetch(`${server.url}/api/2.0/mlflow/runs/restore`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ run_id: fixture.runs.recent.runId }),
    });
    assert.equal(restore.status, 200, await restore.text());
    const recent = (await (await get(fixture.runs.recent.runId)).json()) as { run: { info: { lifecycle_stage: string } } };
    assert.equal(recent.run.info.lifecycle_stage, "active");
  });

  it("a second run deletes nothing and exits 0 (the retry of a failed Job is safe)", async function () {
    this.timeout(600_000);
    const again = await runGc(gcSpec);
    assert.equal(again.code, 0, tail(again.stdout + again.stderr, 30));
    assert.doesNotMatch(again.stdout, /permanently deleted/);
    assert.deepEqual(await rowCounts(fixture.runs.live.runId), initial.get("live")!.rows);
  });
});
