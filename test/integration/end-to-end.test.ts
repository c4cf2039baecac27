/**
 * The platform's promise on real services: "each training job = one MLflow run; the approved version is what
 * KServe serves". PostgreSQL and moto's S3 server run on 127.0.0.1; every process below is started from the
 * RENDERED Kubernetes objects (support/rendered.ts), with only listen host/port, Secret values and in-cluster
 * endpoints substituted:
 *   1. the dev stack's schema-migration Job and tracking-server Deployment (images/mlflow venv);
 *   2. the dev stack's train-baseline CronJob (images/trainer venv) on a synthetic CSV in moto;
 *   3. `promote`, then a render serving that alias: storageUri, lineage, MLmodel and code/src in moto;
 *   4. the mlflow-pyfunc ClusterServingRuntime's command over the downloaded storageUri: one prediction,
 *      equal to the trainer's own model's;
 *   5. (issue 7) the local stack (artifactStore.mode=minio), moto standing in for MinIO's S3 API: artifacts
 *      land in the bucket mlflow-artifacts and the served storageUri points into it.
 */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client, type BucketLocationConstraint } from "@aws-sdk/client-s3";
import { main as promoteMain } from "../../cli/promote";
import { SCORING_SERVER_PATH } from "../../manifests/serving";
import type { CliIo } from "../../cli/resolve-model";
import { MlflowRegistryClient, resolveModel } from "../../lib/registry";
import type { KubernetesObject, RenderResult } from "../../lib/render";
import { allowedStoragePrefixes } from "../../lib/serving-lookup";
import { render } from "../support/render";
import type { S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import type { PostgresServer } from "../../testbed/postgres";
import { getWithHost, lastJsonLine, tail, type CommandResult, stepLog } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import {
  dockerEntrypoint,
  dockerEnv,
  findRendered,
  flagValue,
  localCommand,
  localEnv,
  renderedContainer,
  assertMetricsScrape,
  TEST_POD_IP,
  renderedEnvValue,
  runLocal,
  startLocal,
  withArgReplaced,
  withFlagValue,
  type LocalService,
  type RenderedContainer,
} from "../../testbed/rendered";
import { registerCleanup, sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { ensureVenv, isVenvName, REPO_ROOT, type Venv } from "../../testbed/venv";
import { getJson } from "../../testbed/mlflow";
import { downloadPrefix, listKeys, splitS3 } from "../../testbed/s3-objects";

const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `e2e-${SUFFIX}`;
/** The local stack's MinIO bucket (Pulumi.local.yaml); moto stands in for MinIO. */
const LOCAL_BUCKET = "mlflow-artifacts";
const CLUSTER_HOST = "mlflow.mlflow.svc.cluster.local:5000";
/** Where KServe's storage initializer puts the model (a KServe convention, not the platform's choice). */
const KSERVE_MODEL_DIR = "/mnt/models";
const FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"];
const TRAINER_DOCKERFILE = path.join(REPO_ROOT, "images", "trainer", "Dockerfile");
const SERVING_DOCKERFILE = path.join(REPO_ROOT, "images", "serving", "Dockerfile");
const MLFLOW_DOCKERFILE = path.join(REPO_ROOT, "images", "mlflow", "Dockerfile");

// ---- small helpers ------------------------------------------------------------------------------------

const { log, timed } = stepLog("e2e");


function capture(): { io: CliIo; out: { stdout: string; stderr: string } } {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t), env: {} } };
}

/** Sets env vars for the duration of f (a render reads AWS_* and AWS_ENDPOINT_URL_S3 from process.env). */
async function withProcessEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function ensureBucket(s3: S3Client, bucket: string, region: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return; // another test of this process made it
  } catch { /* create it */ }
  await s3.send(new CreateBucketCommand({
    Bucket: bucket,
    ...(region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
  }));
}

function pins(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)/.exec(line);
    if (m) out.set(m[1].toLowerCase().replace(/_/g, "-"), m[2]);
  }
  return out;
}

interface TrainSummary { run_id: string; experiment_id: string; model_uri: string; model_id: string; registered_model_name: string; version: number; metrics: Record<string, number> }
interface RunInfo {
  info: { run_id: string; experiment_id: string; status: string; artifact_uri: string };
  data: { params?: { key: string; value: string }[]; metrics?: { key: string; value: number }[]; tags?: { key: string; value: string }[] };
  inputs?: { dataset_inputs?: { dataset: { name: string; source: string } }[] };
}
interface ModelVersion { name: string; version: string; run_id: string; source: string; status: string; aliases?: string[] }

/** One stack's tracking server started from its rendered objects. */
interface StackServer {
  render: RenderResult;
  db: string;
  upgrade: CommandResult;
  upgradeCommand: string;
  server: LocalService;
}

// ---- the test -----------------------------------------------------------------------------------------

describe("end-to-end", function () {
  let pg: PostgresServer;
  let moto: S3Server;
  let s3: S3Client;
  let mlflowVenv: Venv;
  let trainerVenv: Venv;
  let tmp: string;
  let dev: StackServer;
  let local: StackServer;
  let csv: string;
  const keys = () => ({ AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey });

  /** The rendered Job/Deployment of one stack → schema upgrade on a fresh database, then the server. */
  async function startStack(r: RenderResult, db: string, s3Endpoint: { add?: Record<string, string>; replace?: Record<string, string> }): Promise<StackServer> {
    await pg.createDatabase(db);
    const backend = pg.url(db);
    const bin = path.dirname(mlflowVenv.python);

    const job = renderedContainer(findRendered(r, "Job", /^mlflow-db-upgrade-/));
    const upgradeCmd = localCommand(job, { binDir: bin, env: localEnv(job, { secrets: { MLFLOW_BACKEND_STORE_URI: backend } }) });
    const upgrade = await timed(`${r.stack}: rendered mlflow-db-upgrade Job`, () => runLocal(upgradeCmd, { cwd: tmp, timeoutMs: 300_000 }));

    const deployment = renderedContainer(findRendered(r, "Deployment", "mlflow"), "mlflow");
    const port = await freePort();
    const renderedArgs = deployment.args ?? [];
    // Only host and port change: --allowed-hosts stays as rendered (its localhost:* / 127.0.0.1:* entries
    // are what lets a port-forward on any local port, and this test's clients, in).
    const allowed = flagValue(renderedArgs, "--allowed-hosts").split(",");
    for (const h of ["localhost:*", "127.0.0.1:*"]) assert.ok(allowed.includes(h), `--allowed-hosts has no ${h}: ${allowed.join(",")}`);
    const cwd = fs.mkdtempSync(path.join(tmp, `${r.stack}-server-`));
    // The exporter's directory is an emptyDir in the pod: here a directory of this server's own.
    const args = withFlagValue(withFlagValue(withFlagValue(renderedArgs, ["--host", "-h"], "127.0.0.1"), ["--port", "-p"], String(port)), ["--expose-prometheus"], path.join(cwd, "metrics"));
    const env = localEnv(deployment, { secrets: { MLFLOW_BACKEND_STORE_URI: backend, ...keys() }, fields: { "status.podIP": TEST_POD_IP }, ...s3Endpoint });
    const cmd = localCommand(deployment, { entrypoint: trackingEntrypoint(), args, binDir: bin, env });
    const server = await timed(`${r.stack}: rendered tracking server healthy`, () =>
      startLocal(cmd, { cwd, url: `http://127.0.0.1:${port}`, readyPath: "/health", timeoutMs: 300_000, label: `${r.stack} tracking server` }));
    return { render: r, db, upgrade, upgradeCommand: [upgradeCmd.cmd, ...upgradeCmd.args].join(" "), server };
  }

  /** The tracking image's ENTRYPOINT: from images/mlflow/Dockerfile when it exists, else the `mlflow` CLI. */
  function trackingEntrypoint(): string[] {
    return fs.existsSync(MLFLOW_DOCKERFILE) ? dockerEntrypoint(MLFLOW_DOCKERFILE) : ["mlflow"];
  }

  /** The rendered train-<profile> CronJob's container as a local process: image ENTRYPOINT (/app → images/trainer). */
  function trainerCommand(c: RenderedContainer, env: Record<string, string>) {
    const entrypoint = dockerEntrypoint(TRAINER_DOCKERFILE);
    assert.deepEqual(entrypoint, ["python", "/app/train.py"], "images/trainer ENTRYPOINT");
    const mapped = entrypoint.map((a) => (a.startsWith("/app/") ? path.join(REPO_ROOT, "images", "trainer", a.slice("/app/".length)) : a));
    return localCommand(c, { entrypoint: mapped, binDir: path.dirname(trainerVenv.python), env, imageEnv: dockerEnv(TRAINER_DOCKERFILE) });
  }

  async function upload(uri: string, body: string): Promise<void> {
    const { bucket, key } = splitS3(uri);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  before(async function () {
    this.timeout(40 * 60_000); // a cold machine builds three venvs first
    const t0 = Date.now();
    tmp = tempDir("e2e");

    [pg, moto, mlflowVenv, trainerVenv] = await timed("services and venvs", () =>
      Promise.all([sharedPostgres(), sharedMoto(), ensureVenv("mlflow"), ensureVenv("trainer")]));
    s3 = moto.client();
    registerCleanup(() => s3.destroy());

    // 1. the dev render names the bucket; the bucket is made in the rendered region
    const devRender = await timed("render dev", () => render("dev", [`artifactStore.bucketName=${BUCKET}`]));
    const localRender = await timed("render local", () => render("local"));
    const devRegion = renderedEnvValue(renderedContainer(findRendered(devRender, "Deployment", "mlflow"), "mlflow"), "AWS_REGION");
    await ensureBucket(new S3Client({ endpoint: moto.endpoint, region: devRegion, forcePathStyle: true, credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } }), BUCKET, devRegion);
    await ensureBucket(s3, LOCAL_BUCKET, "us-east-1");

    // The synthetic dataset, uploaded where each stack's training template reads it.
    const csvPath = path.join(tmp, "california_housing.csv");
    const gen = await runPython("trainer", path.join(REPO_ROOT, "images", "trainer", "make_synthetic_data.py"), { args: ["--rows", "500", "--seed", "7", "--out", csvPath], timeoutMs: 120_000 });
    assert.equal(gen.code, 0, `make_synthetic_data.py failed:\n${gen.stderr}`);
    csv = fs.readFileSync(csvPath, "utf8");
    for (const r of [devRender, localRender]) {
      await upload(renderedEnvValue(renderedContainer(findRendered(r, "CronJob", "train-baseline"), "trainer"), "DATASET_S3_PATH"), csv);
    }

    // 2. both stacks' tracking servers, from their rendered objects, in parallel
    [dev, local] = await Promise.all([
      startStack(devRender, `e2e_dev_${SUFFIX}`, { add: { MLFLOW_S3_ENDPOINT_URL: moto.endpoint } }),
      // local: the rendered in-cluster MinIO endpoint → moto (MLflow and boto3 both read it)
      startStack(localRender, `e2e_local_${SUFFIX}`, { replace: { MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_S3: moto.endpoint } }),
    ]);
    log(`before: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    for (const s of [dev, local]) if (s) process.stderr.write(`--- ${s.render.stack} tracking server output (last 40 lines) ---\n${tail(s.server.proc.output(), 40)}\n`);
  });

  after(async function () {
    this.timeout(120_000);
    await Promise.all([dev?.server.stop(), local?.server.stop()]);
  });

  // ---- 1 + 2: schema migration and tracking server ---------------------------------------------------

  it("the rendered schema-migration Job (mlflow db upgrade) exits 0 on the empty database and creates MLflow's schema", async function () {
    for (const s of [dev, local]) {
      assert.equal(s.upgrade.code, 0, `${s.render.stack}: ${s.upgradeCommand} exited ${s.upgrade.code}:\n${tail(s.upgrade.stdout + s.upgrade.stderr, 30)}`);
      const tables = (await pg.query(s.db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).split("\n");
      for (const t of ["alembic_version", "experiments", "runs", "registered_models", "model_versions", "logged_models"]) {
        assert.ok(tables.includes(t), `${s.render.stack}: table ${t} missing after db upgrade; have: ${tables.join(", ")}`);
      }
    }
  });

  it("the rendered tracking server answers /health and enforces its --allowed-hosts", async function () {
    const api = `${dev.server.url}/api/2.0/mlflow/experiments/search?max_results=1`;
    const health = await fetch(`${dev.server.url}/health`);
    assert.equal(health.status, 200);
    const rendered = renderedContainer(findRendered(dev.render, "Deployment", "mlflow"), "mlflow").args ?? [];
    assert.ok(flagValue(rendered, "--allowed-hosts").split(",").includes(CLUSTER_HOST), "the render allows the Service's FQDN");
    const cluster = await getWithHost(api, CLUSTER_HOST);
    assert.notEqual(cluster.status, 403, `Host ${CLUSTER_HOST} rejected: ${cluster.body}`);
    assert.equal(cluster.status, 200, cluster.body);
    const evil = await getWithHost(api, "evil.example.com");
    assert.equal(evil.status, 403, `Host evil.example.com: ${evil.body}`);
  });

  it("the rendered tracking server serves Prometheus metrics: a scrape by pod IP counts the API calls", async function () {
    await assertMetricsScrape(dev.server.url);
  });

  // ---- 3: training from the rendered CronJob ---------------------------------------------------------

  let trained: TrainSummary | undefined;
  let trainer: RenderedContainer;

  it("the rendered train-baseline CronJob logs one run with params, metrics, dataset tags and a registered version", async function () {
    trainer = renderedContainer(findRendered(dev.render, "CronJob", "train-baseline"), "trainer");
    const env = localEnv(trainer, { secrets: keys(), replace: { MLFLOW_TRACKING_URI: dev.server.url }, add: { MLFLOW_S3_ENDPOINT_URL: moto.endpoint } });
    const r = await timed("dev: trainer", () => runLocal(trainerCommand(trainer, env), { cwd: fs.mkdtempSync(path.join(tmp, "train-")), timeoutMs: 600_000 }));
    assert.equal(r.code, 0, `train.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    const summary = lastJsonLine<TrainSummary>(r, "train.py");

    const profile = dev.render.config.training.profiles.find((p) => p.name === renderedEnvValue(trainer, "TRAINING_PROFILE"));
    assert.ok(profile, "the CronJob's profile is in the stack config");
    const experimentName = renderedEnvValue(trainer, "MLFLOW_EXPERIMENT_NAME");
    const modelName = renderedEnvValue(trainer, "REGISTERED_MODEL_NAME");
    assert.equal(experimentName, "california_housing_price");
    assert.equal(modelName, "CaliforniaHousingRegressor");

    const { experiment } = await getJson<{ experiment: { experiment_id: string } }>(dev.server.url, "experiments/get-by-name", { experiment_name: experimentName });
    const { run } = await getJson<{ run: RunInfo }>(dev.server.url, "runs/get", { run_id: summary.run_id });
    assert.equal(run.info.experiment_id, experiment.experiment_id, "the run is in california_housing_price");
    assert.equal(run.info.status, "FINISHED");
    assert.ok(run.info.artifact_uri.startsWith(`s3://${BUCKET}/`), run.info.artifact_uri);

    const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
    for (const k of ["max_depth", "learning_rate", "max_iter", "random_state"] as const) {
      assert.equal(params[k], String(profile.params[k]), `param ${k}`);
      assert.equal(params[k], renderedEnvValue(trainer, k.toUpperCase()), `param ${k} = the CronJob's ${k.toUpperCase()}`);
    }
    const metrics = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
    for (const k of ["train_rmse", "train_r2", "test_rmse", "test_r2"]) {
      assert.ok(Number.isFinite(metrics[k]), `metric ${k} missing or not a number: ${JSON.stringify(metrics)}`);
    }
    assert.ok(metrics.test_r2 > 0.5, `test_r2 ${metrics.test_r2}: the synthetic target is learnable`);
    assert.ok(metrics.train_rmse > 0 && metrics.test_rmse > 0);

    const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
    assert.equal(tags["dataset.s3_path"], renderedEnvValue(trainer, "DATASET_S3_PATH"));
    assert.equal(tags["dataset.s3_path"], `s3://${BUCKET}/datasets/california_housing.csv`);
    assert.equal(tags["dataset.dvc_hash"], createHash("md5").update(csv).digest("hex"), "DVC 3 hash = md5 of the uploaded bytes");
    assert.ok((run.inputs?.dataset_inputs ?? []).some((d) => d.dataset.name === "california_housing"), "the dataset is logged as the run's input");

    const { model_version: mv } = await getJson<{ model_version: ModelVersion }>(dev.server.url, "model-versions/get", { name: modelName, version: String(summary.version) });
    assert.equal(mv.run_id, summary.run_id);
    assert.equal(mv.status, "READY");
    assert.equal(mv.source, summary.model_uri);
    trained = summary;
  });

  // ---- 4: promote, then a render serving the alias ---------------------------------------------------

  let storageUri: string | undefined;
  /** The render that serves the alias: only a stack serving a model declares the mlflow-pyfunc runtime. */
  let servedRender: RenderResult | undefined;

  it("promote sets production; a render serving it writes a storageUri where MLmodel and code/src exist in moto", async function () {
    assert.ok(trained, "needs the training step");
    const p = capture();
    assert.equal(await promoteMain(["--tracking-uri", dev.server.url, "--model", trained.registered_model_name, "--version", String(trained.version), "--alias", "production"], p.io), 0, p.out.stderr);
    assert.match(p.out.stdout, new RegExp(`^models:/${trained.registered_model_name}@production → version ${trained.version} `));
    const alias = await getJson<{ model_version: ModelVersion }>(dev.server.url, "registered-models/alias", { name: trained.registered_model_name, alias: "production" });
    assert.equal(alias.model_version.version, String(trained.version));

    const served = [{ name: "california-housing", registeredModel: trained.registered_model_name, alias: "production" }];
    const r = await timed("render dev with serving.models", () =>
      withProcessEnv({ ...keys(), AWS_ENDPOINT_URL_S3: moto.endpoint }, () =>
        render("dev", [`artifactStore.bucketName=${BUCKET}`, `serving.models=${JSON.stringify(served)}`], dev.server.url)));
    assert.equal(r.config.serving.verifyArtifacts, true, "the MLmodel check ran");
    const isvc = findRendered(r, "InferenceService", "california-housing") as KubernetesObject & { spec: { predictor: { model: { storageUri: string; runtime: string } } } };
    storageUri = isvc.spec.predictor.model.storageUri;
    servedRender = r;
    assert.match(storageUri, new RegExp(`^s3://${BUCKET}/${trained.experiment_id}/models/m-[0-9a-f]+/artifacts/$`), "the version's directory, with a trailing slash");
    assert.equal(storageUri, `s3://${BUCKET}/${trained.experiment_id}/models/${trained.model_id}/artifacts/`);
    const dl = await getJson<{ artifact_uri: string }>(dev.server.url, "model-versions/get-download-uri", { name: trained.registered_model_name, version: String(trained.version) });
    assert.equal(storageUri, `${dl.artifact_uri.replace(/\/+$/, "")}/`, "storageUri = MLflow's download URI of the version, as a directory");
    assert.equal(isvc.spec.predictor.model.runtime, "mlflow-pyfunc");
    const ann = (isvc.metadata.annotations ?? {}) as Record<string, string>;
    assert.equal(ann["mlflow.org/model-version"], String(trained.version));
    assert.equal(ann["mlflow.org/alias"], "production");
    assert.equal(ann["mlflow.org/registered-model"], trained.registered_model_name);
    assert.equal(ann["mlflow.org/run-id"], trained.run_id);

    const { bucket, key } = splitS3(storageUri); // the version's directory: key ends with "/"
    const objects = (await listKeys(s3, bucket, key)).map((k) => k.slice(key.length));
    assert.ok(objects.includes("MLmodel"), `no MLmodel under ${storageUri}: ${objects.join(", ")}`);
    for (const f of ["code/src/california_housing/model.py", "code/src/california_housing/features.py", "code/src/california_housing/__init__.py"]) {
      assert.ok(objects.includes(f), `bundled ${f} missing under ${storageUri}: ${objects.join(", ")}`);
    }
  });

  // ---- 5: the serving runtime's command over the downloaded artifact ---------------------------------

  it("the rendered mlflow-pyfunc runtime's command serves the storageUri and predicts like the trainer's model", async function () {
    assert.ok(trained && storageUri && servedRender, "needs the promote step");
    const runtime = renderedContainer(findRendered(servedRender, "ClusterServingRuntime", "mlflow-pyfunc"), "kserve-container");
    assert.ok((runtime.args ?? []).includes(KSERVE_MODEL_DIR), `the runtime serves ${KSERVE_MODEL_DIR}: ${runtime.args?.join(" ")}`);

    // The venv: a "serving" one from images/serving/requirements.txt when the harness has it; otherwise the
    // trainer's, only when it has exactly the serving image's pinned versions.
    let venv: Venv;
    const servingVenv: string = "serving";
    if (isVenvName(servingVenv)) {
      venv = await ensureVenv(servingVenv);
    } else {
      venv = trainerVenv;
      const want = pins(path.join(REPO_ROOT, "images", "serving", "requirements.txt"));
      const trainerPins = pins(path.join(REPO_ROOT, "images", "trainer", "requirements.txt"));
      for (const pkg of ["mlflow", "scikit-learn", "pandas"]) assert.equal(trainerPins.get(pkg), want.get(pkg), `images/trainer and images/serving pin different ${pkg}`);
      const freeze = await runLocal({ cmd: venv.python, args: ["-m", "pip", "freeze", "--disable-pip-version-check"], env: { PATH: process.env.PATH ?? "" } }, { cwd: tmp, timeoutMs: 120_000 });
      const have = new Map(freeze.stdout.split("\n").map((l) => l.split("==")).filter((p) => p.length === 2).map(([n, v]) => [n.toLowerCase().replace(/_/g, "-"), v.trim()]));
      for (const [pkg, v] of want) assert.equal(have.get(pkg), v, `the trainer venv stands in for images/serving only if ${pkg}==${v}`);
    }

    const modelDir = path.join(tmp, "mnt-models");
    fs.mkdirSync(modelDir);
    const files = await downloadPrefix(s3, storageUri, modelDir);
    assert.ok(files.includes("MLmodel"), `downloaded: ${files.join(", ")}`);

    const port = await freePort();
    // The image's server (COPY scoring_server.py /opt/serving/) is the checkout's file on the host.
    let args = withArgReplaced(runtime.args ?? [], KSERVE_MODEL_DIR, modelDir);
    args = withArgReplaced(args, SCORING_SERVER_PATH, path.join(REPO_ROOT, "images", "serving", "scoring_server.py"));
    args = withFlagValue(withFlagValue(args, ["-h", "--host"], "127.0.0.1"), ["-p", "--port"], String(port));
    const cmd = localCommand(runtime, { args, binDir: path.dirname(venv.python), env: localEnv(runtime), imageEnv: dockerEnv(SERVING_DOCKERFILE) });
    const cwd = fs.mkdtempSync(path.join(tmp, "serving-"));
    const serving = await timed("serving runtime ready (/ping)", () =>
      startLocal(cmd, { cwd, url: `http://127.0.0.1:${port}`, readyPath: "/ping", timeoutMs: 300_000, label: "mlflow-pyfunc runtime" }));
    try {
      const [header, ...rows] = csv.trim().split("\n");
      const columns = header.split(",");
      const row = FEATURES.map((f) => Number(rows[0].split(",")[columns.indexOf(f)]));
      assert.ok(row.every(Number.isFinite), `row ${rows[0]}`);
      const split = { columns: FEATURES, data: [row] };

      const res = await fetch(`${serving.url}/invocations`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ dataframe_split: split }) });
      const text = await res.text();
      assert.equal(res.status, 200, `POST /invocations -> ${res.status}: ${text}`);
      const served = (JSON.parse(text) as { predictions: unknown[] }).predictions;
      assert.equal(served.length, 1, text);
      assert.equal(typeof served[0], "number", text);

      const ref = await timed("trainer venv: mlflow.pyfunc prediction", () =>
        runPython("trainer", path.join(__dirname, "fixtures", "e2e_predict.py"), {
          args: ["--model-uri", `models:/${trained!.registered_model_name}/${trained!.version}`, "--input", JSON.stringify(split)],
          env: { ...keys(), MLFLOW_TRACKING_URI: dev.server.url, MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_REGION: renderedEnvValue(trainer, "AWS_REGION") },
          timeoutMs: 300_000,
        }));
      const line = ref.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
      assert.ok(ref.code === 0 && line, `e2e_predict.py exited ${ref.code}:\n${tail(ref.stdout + ref.stderr, 20)}`);
      const expected = (JSON.parse(line.slice("RESULT_JSON=".length)) as { predictions: number[] }).predictions;
      assert.equal(expected.length, 1);
      assert.ok(Math.abs((served[0] as number) - expected[0]) <= 1e-9, `served ${String(served[0])} != trainer's model ${expected[0]}`);
    } catch (err) {
      process.stderr.write(`--- serving runtime output ---\n${tail(serving.proc.output(), 40)}\n`);
      throw err;
    } finally {
      await serving.stop();
    }
  });

  // ---- 6 (issue 7): the local stack against an S3 endpoint -------------------------------------------

  it("local stack: the rendered server stores artifacts through the S3 endpoint in mlflow-artifacts, and the served storageUri points there", async function () {
    const deployment = renderedContainer(findRendered(local.render, "Deployment", "mlflow"), "mlflow");
    assert.equal(renderedEnvValue(deployment, "MLFLOW_S3_ENDPOINT_URL"), "http://minio.mlflow.svc.cluster.local:9000", "the render points MLflow at MinIO");
    assert.equal(flagValue(deployment.args ?? [], "--default-artifact-root"), `s3://${LOCAL_BUCKET}/`);
    assert.equal((await fetch(`${local.server.url}/health`)).status, 200);

    const cron = renderedContainer(findRendered(local.render, "CronJob", "train-baseline"), "trainer");
    const env = localEnv(cron, {
      secrets: keys(),
      replace: { MLFLOW_TRACKING_URI: local.server.url, MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_S3: moto.endpoint },
    });
    const r = await timed("local: trainer", () => runLocal(trainerCommand(cron, env), { cwd: fs.mkdtempSync(path.join(tmp, "train-local-")), timeoutMs: 600_000 }));
    assert.equal(r.code, 0, `train.py (local CronJob env) exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    const summary = lastJsonLine<TrainSummary>(r, "train.py");

    const { run } = await getJson<{ run: RunInfo }>(local.server.url, "runs/get", { run_id: summary.run_id });
    assert.ok(run.info.artifact_uri.startsWith(`s3://${LOCAL_BUCKET}/`), run.info.artifact_uri);
    const modelKey = `${summary.experiment_id}/models/${summary.model_id}/artifacts`;
    const objects = await listKeys(s3, LOCAL_BUCKET, `${modelKey}/`);
    assert.ok(objects.includes(`${modelKey}/MLmodel`), `MLmodel not in moto's ${LOCAL_BUCKET}/${modelKey}/: ${objects.join(", ")}`);

    const p = capture();
    assert.equal(await promoteMain(["--tracking-uri", local.server.url, "--model", summary.registered_model_name, "--version", String(summary.version)], p.io), 0, p.out.stderr);
    const resolved = await resolveModel(
      new MlflowRegistryClient({ trackingUri: local.server.url }),
      { servedName: "california-housing", registeredModel: summary.registered_model_name, alias: "production" },
      { allowedPrefixes: allowedStoragePrefixes(local.render.config) },
    );
    assert.equal(resolved.storageUri, `s3://${LOCAL_BUCKET}/${modelKey}`);

    const served = [{ name: "california-housing", registeredModel: summary.registered_model_name, alias: "production" }];
    const rendered = await timed("render local with serving.models", () =>
      withProcessEnv({ ...keys(), AWS_ENDPOINT_URL_S3: moto.endpoint }, () => render("local", [`serving.models=${JSON.stringify(served)}`], local.server.url)));
    const isvc = findRendered(rendered, "InferenceService", "california-housing") as KubernetesObject & { spec: { predictor: { model: { storageUri: string } } } };
    assert.equal(isvc.spec.predictor.model.storageUri, `${resolved.storageUri}/`);
    assert.equal(((isvc.metadata.annotations ?? {}) as Record<string, string>)["mlflow.org/model-version"], String(summary.version));
  });
});
