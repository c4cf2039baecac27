/**
 * Batch inference on real services: one MLflow tracking server (the images/mlflow venv) on PostgreSQL with
 * moto's S3 as the artifact store (direct: clients upload to S3). The reference trainer (images/trainer/train.py)
 * registers two real versions (HistGradientBoostingRegressor pyfuncs with a signature, different
 * hyperparameters, so their predictions differ). The batch container's command and env come from the
 * `batch-nightly` CronJob the builder renders (manifests/batch.ts), with only what cannot exist outside a
 * cluster substituted: the tracking URI, the Secret-backed keys, BATCH_RUN_ID (the downward API's Job name),
 * the S3 endpoint and the image's /app path. Checked:
 *   1. alias production → v1: predictions.csv = the input's rows + v1's predictions, computed independently
 *      by loading models:/<name>/1 (tolerance 1e-9); metadata.json names version 1;
 *   2. the alias moves to v2: the next run uses v2 (metadata, predictions);
 *   3. a missing input object, 4. an input without a column the signature names, and 5. an unset alias:
 *      exit code ≠ 0 (4, 5 and 3), one line naming the path / the column / the alias, nothing written.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { KubernetesObject } from "../../lib/render";
import { batchCronJob, type BatchSpec } from "../../manifests/batch";
import { getJson, mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import type { S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import type { PostgresServer } from "../../testbed/postgres";
import { lastJsonLine, stepLog, tail, type CommandResult } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { dockerEnv, localCommand, localEnv, renderedContainer, renderedEnvValue, runLocal, type RenderedContainer } from "../../testbed/rendered";
import { listKeys, splitS3 } from "../../testbed/s3-objects";
import { registerCleanup, sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT, type Venv } from "../../testbed/venv";

const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `batch-it-${SUFFIX}`;
const IN_CLUSTER_TRACKING = "http://mlflow.mlflow.svc.cluster.local:5000";
const KEYS_SECRET = "mlflow-aws-credentials";
const TRAINER_DIR = path.join(REPO_ROOT, "images", "trainer");
const TRAINER_DOCKERFILE = path.join(TRAINER_DIR, "Dockerfile");
const FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"];
const TOLERANCE = 1e-9;

const { log, timed } = stepLog("batch");

interface TrainSummary { run_id: string; model_uri: string; registered_model_name: string; version: number }
interface Metadata {
  registered_model: string; alias: string; version: string; model_uri: string; model_run_id: string; model_source: string;
  storage_uri: string; rows: number; input: string; output: string; batch_run_id: string; profile: string; prediction_column: string; created_at: string;
}
interface Csv { header: string[]; rows: string[][] }

function parseCsv(text: string): Csv {
  // Numeric CSV only (what make_synthetic_data.py and pandas write here): no quoting.
  const [head, ...lines] = text.trim().split(/\r?\n/);
  return { header: head.split(","), rows: lines.map((l) => l.split(",")) };
}

async function getText(s3: S3Client, uri: string): Promise<string> {
  const { bucket, key } = splitS3(uri);
  const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return obj.Body!.transformToString("utf8");
}

describe("batch inference against a real MLflow server", function () {
  let pg: PostgresServer;
  let moto: S3Server;
  let s3: S3Client;
  let trainerVenv: Venv;
  let server: MlflowServer;
  let tmp: string;
  let container: RenderedContainer;
  let model: string;
  let versions: TrainSummary[];
  let inputUri: string;
  let outputPrefix: string;
  let input: Csv;
  /** Each version's predictions for the input rows, from models:/<name>/<version> loaded on its own. */
  const expected = new Map<string, number[]>();
  const keys = () => ({ AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey });

  /** The rendered container as a local process: its command with /app → images/trainer, its env with only the cluster's parts substituted. */
  function runBatch(runId: string, replace: Record<string, string> = {}): Promise<CommandResult> {
    assert.deepEqual(container.command, ["python", "/app/batch_predict.py"], "the CronJob runs batch_predict.py");
    const local = { ...container, command: (container.command ?? []).map((a) => (a.startsWith("/app/") ? path.join(TRAINER_DIR, a.slice("/app/".length)) : a)) };
    const env = localEnv(container, {
      secrets: keys(),
      // BATCH_RUN_ID is the downward API's Job name: the pod label the Job controller sets
      fields: { "metadata.labels['batch.kubernetes.io/job-name']": runId },
      replace: { MLFLOW_TRACKING_URI: server.url, ...replace },
      // AWS S3 in the render (no endpoint override); moto here
      add: { MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_S3: moto.endpoint },
    });
    const cmd = localCommand(local, { binDir: path.dirname(trainerVenv.python), env, imageEnv: dockerEnv(TRAINER_DOCKERFILE) });
    return timed(`batch run ${runId}`, () => runLocal(cmd, { cwd: fs.mkdtempSync(path.join(tmp, "batch-")), timeoutMs: 600_000 }));
  }

  async function postJson(apiPath: string, body: Record<string, string>): Promise<void> {
    const res = await fetch(`${server.url}/api/2.0/mlflow/${apiPath}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, `POST ${apiPath} ${JSON.stringify(body)}: ${await res.text()}`);
  }

  const setAlias = (alias: string, version: string) => postJson("registered-models/alias", { name: model, alias, version });

  async function predictIndependently(version: string): Promise<number[]> {
    const split = { columns: FEATURES, data: input.rows.map((r) => FEATURES.map((f) => Number(r[input.header.indexOf(f)]))) };
    const r = await timed(`trainer venv: models:/${model}/${version} predicts on its own`, () =>
      runPython("trainer", path.join(__dirname, "fixtures", "e2e_predict.py"), {
        args: ["--model-uri", `models:/${model}/${version}`, "--input", JSON.stringify(split)],
        env: { ...moto.env(), MLFLOW_TRACKING_URI: server.url },
        timeoutMs: 300_000,
      }));
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    assert.ok(r.code === 0 && line, `e2e_predict.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 20)}`);
    return (JSON.parse(line.slice("RESULT_JSON=".length)) as { predictions: number[] }).predictions;
  }

  /** What a successful run wrote, checked against the input and the version's own predictions. */
  async function checkRun(r: CommandResult, runId: string, version: TrainSummary): Promise<{ metadata: Metadata; predictions: number[] }> {
    const v = String(version.version);
    assert.equal(r.code, 0, `batch_predict.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    assert.equal(r.stderr.trim(), "", "a successful run prints nothing on stderr (no warnings in the Job's log)");
    const versionLines = r.stdout.split("\n").filter((l) => l.startsWith("model "));
    assert.deepEqual(versionLines.length, 1, `one line naming the version used:\n${r.stdout}`);
    assert.match(versionLines[0], new RegExp(`^model models:/${model}@production -> version ${v} \\(run ${version.run_id}, `));

    const dir = `${outputPrefix}/${runId}`;
    const { bucket, key } = splitS3(dir);
    assert.deepEqual((await listKeys(s3, bucket, `${key}/`)).sort(), [`${key}/metadata.json`, `${key}/predictions.csv`]);

    const metadata = JSON.parse(await getText(s3, `${dir}/metadata.json`)) as Metadata;
    const downloadUri = (await getJson<{ artifact_uri: string }>(server.url, "model-versions/get-download-uri", { name: model, version: v })).artifact_uri;
    assert.deepEqual(
      { ...metadata, created_at: undefined },
      {
        registered_model: model,
        alias: "production",
        version: v,
        model_uri: `models:/${model}/${v}`,
        model_run_id: version.run_id,
        model_source: version.model_uri,
        storage_uri: downloadUri,
        rows: input.rows.length,
        input: inputUri,
        output: `${dir}/predictions.csv`,
        batch_run_id: runId,
        profile: "nightly",
        prediction_column: "prediction",
        created_at: undefined,
      },
    );
    assert.ok(Math.abs(Date.parse(metadata.created_at) - Date.now()) < 10 * 60_000, `created_at ${metadata.created_at}`);
    assert.deepEqual(lastJsonLine<Metadata>(r, "batch_predict.py"), metadata, "the last stdout line is metadata.json");

    const out = parseCsv(await getText(s3, `${dir}/predictions.csv`));
    assert.deepEqual(out.header, [...input.header, "prediction"], "the input's columns, then prediction");
    assert.equal(out.rows.length, input.rows.length);
    out.rows.forEach((row, i) => {
      assert.deepEqual(row.slice(0, -1).map(Number), input.rows[i].map(Number), `row ${i}: the input's values`);
    });
    const predictions = out.rows.map((row) => Number(row[row.length - 1]));
    const want = expected.get(v)!;
    predictions.forEach((p, i) => assert.ok(Math.abs(p - want[i]) <= TOLERANCE, `row ${i}: batch ${p} != models:/${model}/${v} ${want[i]}`));
    return { metadata, predictions };
  }

  /** A failed run: its exit code, one stderr line holding `fragments`, and no object under its directory. */
  async function checkFailure(r: CommandResult, runId: string, code: number, ...fragments: string[]): Promise<void> {
    assert.equal(r.code, code, `exit code ${r.code}, expected ${code}:\n${tail(r.stdout + r.stderr, 20)}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0], /^batch_predict\.py: error: /);
    for (const f of fragments) assert.ok(lines[0].includes(f), `"${lines[0]}" should name ${f}`);
    const { bucket, key } = splitS3(`${outputPrefix}/${runId}`);
    assert.deepEqual(await listKeys(s3, bucket, `${key}/`), [], `a failed run wrote under ${outputPrefix}/${runId}/`);
    assert.ok(!r.stdout.includes("wrote "), r.stdout);
  }

  before(async function () {
    this.timeout(30 * 60_000); // a cold machine builds the venvs first
    const t0 = Date.now();
    tmp = tempDir("batch");

    [pg, moto, trainerVenv] = await timed("services and venvs", () => Promise.all([sharedPostgres(), sharedMoto(), ensureVenv("trainer"), ensureVenv("mlflow")]));
    s3 = moto.client();
    registerCleanup(() => s3.destroy());
    await moto.createBucket(BUCKET);

    // The CronJob as the builder renders it for a dev-like stack (AWS S3, static keys in a Secret).
    const spec: BatchSpec = {
      namespace: "mlflow",
      image: "trainer:test",
      trackingUri: IN_CLUSTER_TRACKING,
      registeredModel: "CaliforniaHousingRegressor",
      alias: "production",
      artifactRoot: `s3://${BUCKET}`,
      serviceAccountName: "mlflow-training",
      aws: { keysSecretName: KEYS_SECRET, region: moto.region },
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } },
      activeDeadlineSeconds: 7200,
      ttlSecondsAfterFinished: 86400,
      backoffLimit: 1,
    };
    container = renderedContainer(batchCronJob(spec, { name: "nightly" }) as unknown as KubernetesObject, "batch");
    model = renderedEnvValue(container, "REGISTERED_MODEL_NAME");
    inputUri = renderedEnvValue(container, "BATCH_INPUT_S3_PATH");
    outputPrefix = renderedEnvValue(container, "BATCH_OUTPUT_S3_PREFIX");
    assert.equal(renderedEnvValue(container, "MLFLOW_TRACKING_URI"), IN_CLUSTER_TRACKING);
    assert.equal(renderedEnvValue(container, "BATCH_ALIAS"), "production");
    assert.equal(inputUri, `s3://${BUCKET}/batch/nightly/input.csv`);
    assert.equal(outputPrefix, `s3://${BUCKET}/batch/nightly/predictions`);

    // The server and the data in parallel. Training data and the batch input are synthetic (different seeds);
    // the input keeps the target column: a column the model does not take stays in the output as it was.
    const db = `batch_${SUFFIX}`;
    await pg.createDatabase(db);
    const gen = async (rows: number, seed: number) => {
      const out = path.join(tmp, `data-${seed}.csv`);
      const r = await runPython("trainer", path.join(TRAINER_DIR, "make_synthetic_data.py"), { args: ["--rows", String(rows), "--seed", String(seed), "--out", out], timeoutMs: 120_000 });
      assert.equal(r.code, 0, `make_synthetic_data.py: ${r.stderr}`);
      return fs.readFileSync(out, "utf8");
    };
    const datasetUri = `s3://${BUCKET}/datasets/train.csv`;
    const [started, inputCsv] = await Promise.all([
      timed("MLflow server healthy", async () =>
        startMlflowServer({
          args: mlflowServerArgs(await freePort(), ["--workers", "1", "--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/mlflow`, "--no-serve-artifacts"]),
          env: moto.env(),
          healthTimeoutMs: 600_000,
        })),
      timed("synthetic data in moto", async () => {
        const [trainCsv, batchCsv] = await Promise.all([gen(300, 7), gen(40, 11)]);
        for (const [uri, body] of [[datasetUri, trainCsv], [inputUri, batchCsv]]) {
          const { bucket, key } = splitS3(uri);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        }
        return batchCsv;
      }),
    ]);
    server = started;
    input = parseCsv(inputCsv);
    for (const f of FEATURES) assert.ok(input.header.includes(f), `input has ${f}`);

    // Two versions from the reference trainer, one after the other: two runs logging the same dataset into one
    // experiment at once fail in MLflow 3.17 (a unique-key race on its datasets table). v1's own predictions are
    // computed while v2 trains.
    const train = async (params: string[]) => {
      const r = await timed(`train.py ${params.join(" ")}`, () =>
        runPython("trainer", path.join(TRAINER_DIR, "train.py"), {
          args: params,
          env: { ...moto.env(), MLFLOW_TRACKING_URI: server.url, REGISTERED_MODEL_NAME: model, MLFLOW_EXPERIMENT_NAME: "batch-it", DATASET_S3_PATH: datasetUri, GIT_PYTHON_REFRESH: "quiet" },
          timeoutMs: 600_000,
        }));
      assert.equal(r.code, 0, `train.py ${params.join(" ")} exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
      return lastJsonLine<TrainSummary>(r, "train.py");
    };
    const v1 = await train(["--max-iter", "15", "--max-depth", "2"]);
    const [v2, p1] = await Promise.all([train(["--max-iter", "60", "--max-depth", "5"]), predictIndependently("1")]);
    versions = [v1, v2];
    assert.deepEqual(versions.map((v) => v.version), [1, 2]);
    await setAlias("production", "1");
    const p2 = await predictIndependently("2");
    expected.set("1", p1);
    expected.set("2", p2);
    const apart = Math.max(...p1.map((p, i) => Math.abs(p - p2[i])));
    assert.ok(apart > 1e-3, `versions 1 and 2 must predict differently for the alias move to show (max difference ${apart})`);
    log(`before: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && server) process.stderr.write(`--- MLflow server output (last 30 lines) ---\n${tail(server.output(), 30)}\n`);
  });

  after(async function () {
    this.timeout(120_000);
    await server?.stop();
  });

  let first: { metadata: Metadata; predictions: number[] } | undefined;

  it("production → v1: predictions.csv is the input plus v1's own predictions; metadata.json names v1", async function () {
    first = await checkRun(await runBatch("batch-nightly-1"), "batch-nightly-1", versions[0]);
  });

  it("after the alias moves to v2, the next run uses v2: metadata and predictions change", async function () {
    assert.ok(first, "needs the first run");
    await setAlias("production", "2");
    const second = await checkRun(await runBatch("batch-nightly-2"), "batch-nightly-2", versions[1]);
    assert.notEqual(second.metadata.version, first.metadata.version);
    assert.notDeepEqual(second.predictions, first.predictions);
    // the first run's output is left as it was
    assert.equal((JSON.parse(await getText(s3, `${outputPrefix}/batch-nightly-1/metadata.json`)) as Metadata).version, "1");
  });

  it("a missing input object: exit 4, one line naming the path, nothing written", async function () {
    const missing = `s3://${BUCKET}/batch/nightly/no-such-input.csv`;
    const r = await runBatch("batch-nightly-no-input", { BATCH_INPUT_S3_PATH: missing });
    await checkFailure(r, "batch-nightly-no-input", 4, missing);
  });

  it("an input without a column of the model's signature: exit 5, one line naming the column, nothing written", async function () {
    const uri = `s3://${BUCKET}/batch/nightly/no-aveoccup.csv`;
    const drop = input.header.indexOf("AveOccup");
    const text = [input.header, ...input.rows].map((r) => r.filter((_, i) => i !== drop).join(",")).join("\n") + "\n";
    const { bucket, key } = splitS3(uri);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
    const r = await runBatch("batch-nightly-bad-columns", { BATCH_INPUT_S3_PATH: uri });
    await checkFailure(r, "batch-nightly-bad-columns", 5, uri, "missing column(s) AveOccup", `models:/${model}/2`);
  });

  it("an alias that is not set: exit 3, one line naming the alias, nothing written", async function () {
    const r = await runBatch("batch-nightly-no-alias", { BATCH_ALIAS: "champion" });
    await checkFailure(r, "batch-nightly-no-alias", 3, "'champion'", `models:/${model}@champion`);
  });
});
