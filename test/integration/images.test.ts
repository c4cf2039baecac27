/**
 * Issue 11, "images for real": the images built by images/build.sh (buildah, each Dockerfile unchanged:
 * mlflow, trainer, serving and the single sign-on sidecar's oauth2-proxy) run with podman as the cluster
 * runs them — user, command/args, env, workingDir, read-only root filesystem, volumes (emptyDir → tmpfs;
 * Secret/ConfigMap → files with the volume's mode and fsGroup), capabilities and limits all from the
 * RENDERED local stack (the stack whose image references are the locally built images) — against real
 * PostgreSQL and moto's S3 server on 127.0.0.1 (host network). Substituted, and named where it happens:
 * the listen port, Secret values, the in-cluster MinIO/tracking endpoints, and KServe's storage initializer
 * (the test downloads the storageUri into the dir mounted at /mnt/models). oauth2-proxy runs against
 * zitadel/oidc's example OpenID provider (toolchain/) and a stand-in upstream; the Gateway is stood in for
 * by its X-Forwarded headers.
 *
 * Runs unless MLFLOW_PLATFORM_IMAGES=skip. A cold build of the images takes ~10 min; warm, seconds.
 */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { main as promoteMain } from "../../cli/promote";
import type { CliIo } from "../../cli/resolve-model";
import type { KubernetesObject, RenderResult } from "../../lib/render";
import { authenticatedEmails, CALLBACK_PATH, htpasswdLine, MACHINE_USERNAME } from "../../manifests/sso";
import { toolchainBinaries } from "../../testbed/toolchain";
import { render } from "../support/render";
import type { S3Server } from "../../testbed/moto";
import {
  engineEnv,
  ensureImages,
  imageCacheRoot,
  IMAGE_NAMES,
  imagesSkipReason,
  podman,
  podmanRunSpec,
  qualifyImage,
  readImageFile,
  runToCompletion,
  startContainer,
  type BuiltImages,
  type ContainerSecurity,
  type FullContainer,
  type ImageName,
  type PodmanRunSpec,
  type PodmanSpecOptions,
  type PodSecurity,
  type RunningContainer,
  renderedPodSpec,
} from "../../testbed/podman";
import { freePort } from "../../testbed/ports";
import type { PostgresServer } from "../../testbed/postgres";
import { getWithHost, runCommand, tail, stepLog, type ManagedProcess } from "../../testbed/process";
import { PROVIDER_CLIENT, startOidcProvider } from "../../testbed/oidc-provider";
import { runPython } from "../../testbed/python";
import { assertMetricsScrape, findRendered, flagValue, localEnv, renderedContainer, renderedEnvValue, TEST_POD_IP, withFlagValue } from "../../testbed/rendered";
import { registerCleanup, sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";
import { getJson } from "../../testbed/mlflow";
import { listKeys, splitS3 } from "../../testbed/s3-objects";
import { injectedInitializer, kserveS3Env } from "../../testbed/kserve-injection";

const SKIP = imagesSkipReason();
const SUFFIX = randomBytes(4).toString("hex");
/** A bucket of this test only (the local stack's MinIO bucket name, set per render). */
const BUCKET = `images-${SUFFIX}`;
const CLUSTER_HOST = "mlflow.mlflow.svc.cluster.local:5000";
const KSERVE_MODEL_DIR = "/mnt/models";
const FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"];
const SERVING_IMAGE = "mlflow-platform/serving:local";
/**
 * Hyper-parameters unlike train.py's defaults (6, 0.1, 200, 42): a param equal to the rendered env then
 * proves the env reached the trainer in the container (and 60 iterations keep the run short).
 */
const PROFILE = { name: "baseline", params: { max_depth: 4, learning_rate: 0.05, max_iter: 60, random_state: 7 } };
const BASE_SETS = [`artifactStore.minio.bucketName=${BUCKET}`, `serving.runtimeImage=${SERVING_IMAGE}`, `training.profiles=${JSON.stringify([PROFILE])}`];

const { log, timed } = stepLog("images");


function lastJson<T>(out: string, label: string): T {
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${label}: last stdout line is not JSON: ${line}\n${tail(out, 30)}`);
  }
}

interface HttpProbe { httpGet: { path: string; port: number | string; httpHeaders?: { name: string; value: string }[] } }
interface ProbedContainer extends FullContainer { startupProbe?: HttpProbe; readinessProbe?: HttpProbe; livenessProbe?: HttpProbe }
interface TrainSummary { run_id: string; experiment_id: string; model_uri: string; model_id: string; registered_model_name: string; version: number }
interface RunInfo {
  info: { run_id: string; experiment_id: string; status: string; artifact_uri: string };
  data: { params?: { key: string; value: string }[]; metrics?: { key: string; value: number }[]; tags?: { key: string; value: string }[] };
  inputs?: { dataset_inputs?: { dataset: { name: string } }[] };
}

/** Files under `mounted` that the container's user can create: only the rendered volumes may be writable. */
const WRITABLE_PROBE = 'for d in "$@"; do if (: > "$d/.w") 2>/dev/null; then rm -f "$d/.w"; echo "$d"; fi; done';

describe("images: built by images/build.sh, run with podman as the rendered local stack runs them", function () {
  let images: BuiltImages;
  let pg: PostgresServer;
  let moto: S3Server;
  let s3: S3Client;
  let r: RenderResult;
  let tmp: string;
  let db: string;
  let server: RunningContainer | undefined;
  let serverUrl = "";
  let csv = "";
  const keys = () => ({ AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey });
  /** The tracking server's env as rendered: this test's database and keys, moto for MinIO, a pod IP. */
  function trackingEnv(c: FullContainer): Record<string, string> {
    return localEnv(c, { secrets: { MLFLOW_BACKEND_STORE_URI: pg.url(db), ...keys() }, replace: s3Replace(), fields: { "status.podIP": TEST_POD_IP } });
  }

  /** The rendered in-cluster MinIO endpoint → moto (MLflow and boto3 read both). */
  const s3Replace = () => ({ MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_S3: moto.endpoint });

  before(async function () {
    if (SKIP) {
      log(`skipped: ${SKIP}`);
      this.skip();
    }
    this.timeout(80 * 60_000); // a cold machine installs buildah and builds three images first
    tmp = tempDir("images");
    // The image build first and alone (two cores): then the services.
    images = await timed("images/build.sh", () => ensureImages());
    [pg, moto] = await Promise.all([sharedPostgres(), sharedMoto()]);
    s3 = moto.client();
    registerCleanup(() => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    r = await timed("render local", () => render("local", BASE_SETS));
    db = `images_${SUFFIX}`;
    await pg.createDatabase(db);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && server) process.stderr.write(`--- tracking server container output (last 40 lines) ---\n${tail(server.proc.output(), 40)}\n`);
  });

  after(async function () {
    this.timeout(120_000);
    if (server) await server.stop(5);
  });

  it("the local stack renders exactly the image references build.sh produced, and no image carries the host CA", async function () {
    const rendered: Record<ImageName, string | undefined> = {
      mlflow: renderedContainer(findRendered(r, "Deployment", "mlflow"), "mlflow").image,
      trainer: renderedContainer(findRendered(r, "CronJob", "train-baseline"), "trainer").image,
      // No ClusterServingRuntime without serving.models: the serving test checks the one it renders.
      serving: r.config.serving.runtimeImage,
      // No sidecar without access.auth oidc: the oauth2-proxy tests check the one they render.
      "oauth2-proxy": r.config.access.oidc.proxyImage,
      // No ClusterStorageContainer without serving.models: the serving test runs the one it renders.
      "storage-initializer": r.config.serving.storageInitializer.image,
    };
    const hostCa = process.env.MLFLOW_PLATFORM_HOST_CA || "/etc/ssl/certs/ca-certificates.crt";
    const hostSum = fs.existsSync(hostCa) ? createHash("sha256").update(fs.readFileSync(hostCa)).digest("hex") : undefined;
    for (const name of IMAGE_NAMES) {
      assert.ok(rendered[name], `${name}: no image in the render`);
      assert.equal(qualifyImage(rendered[name]!), images[name].ref, `${name}: the render's image is not what images/build.sh built`);
      const inspect = await podman(["image", "inspect", images[name].ref]);
      assert.equal(inspect.code, 0, inspect.stderr);
      const [img] = JSON.parse(inspect.stdout) as { Id: string; Config: { Env?: string[]; Labels?: Record<string, string> } }[];
      assert.equal(img.Config.Labels?.["io.mlflow-platform.inputs"], images[name].inputs, `${name}: containers storage holds another build than the cache names`);
      const idFile = path.join(imageCacheRoot(), `${name}-${images[name].inputs}.id`);
      assert.equal(img.Id, fs.readFileSync(idFile, "utf8").trim(), `${name}: the image in containers storage is not the archived build (${idFile})`);
      const caEnv = (img.Config.Env ?? []).filter((e) => /^(PIP_CERT|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|AWS_CA_BUNDLE)=/.test(e));
      assert.deepEqual(caEnv, [], `${name}: the image keeps a CA env var from the build`);
      const meta = JSON.parse(fs.readFileSync(path.join(imageCacheRoot(), `${name}-${images[name].inputs}.json`), "utf8")) as { ca: string };
      if (meta.ca === "on" && hostSum) {
        // Read from the image's files (oauth2-proxy's image has no shell or sha256sum to run).
        const bundle = await readImageFile(images[name].ref, "/etc/ssl/certs/ca-certificates.crt");
        assert.ok(bundle, `${name}: no /etc/ssl/certs/ca-certificates.crt in the image`);
        assert.notEqual(createHash("sha256").update(bundle).digest("hex"), hostSum, `${name}: /etc/ssl/certs/ca-certificates.crt in the image is the host's bundle (the build-only CA leaked)`);
      }
    }
    log(`engine: ${JSON.stringify(engineEnv())}`);
  });

  it("tracking image: the rendered db-upgrade Job exits 0 and creates MLflow's schema; a broken Job fails", async function () {
    const job = findRendered(r, "Job", /^mlflow-db-upgrade-/);
    const c = renderedContainer(job) as FullContainer;
    const run = (uri: string) => runToCompletion(podmanRunSpec(job, c, { env: localEnv(c, { secrets: { MLFLOW_BACKEND_STORE_URI: uri } }) }), 600_000);
    const res = await timed("rendered db-upgrade Job (podman)", () => run(pg.url(db)));
    assert.equal(res.code, 0, `db upgrade exited ${res.code}:\n${tail(res.stdout + res.stderr, 30)}`);
    const tables = await pg.query(db, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'");
    for (const t of ["alembic_version", "experiments", "runs", "registered_models", "model_versions"]) assert.ok(tables.split(",").includes(t), `no table ${t}: ${tables}`);
    // A deliberately broken Job (its env var renamed): the same check must fail, and fast.
    const broken: FullContainer = { ...c, env: (c.env ?? []).map((e) => (e.name === "MLFLOW_BACKEND_STORE_URI" ? { ...e, name: "MLFLOW_BACKEND_URI" } : e)) };
    const bad = await runToCompletion(podmanRunSpec(job, broken, { env: localEnv(broken, { secrets: { MLFLOW_BACKEND_URI: pg.url(db) } }) }), 120_000);
    assert.notEqual(bad.code, 0, `db upgrade without MLFLOW_BACKEND_STORE_URI exited 0:\n${tail(bad.stdout + bad.stderr, 10)}`);
  });

  it("tracking image: the rendered Deployment, read-only with only its volumes writable, answers the probes, serves the UI and accepts the in-cluster Host", async function () {
    const deployment = findRendered(r, "Deployment", "mlflow");
    const c = renderedContainer(deployment, "mlflow") as ProbedContainer;
    const port = await freePort();
    // Only the port changes (host network: the rendered --host 0.0.0.0 stays).
    const args = withFlagValue(c.args ?? [], ["--port", "-p"], String(port));
    const env = trackingEnv(c);
    const spec = podmanRunSpec(deployment, c, { env, args });
    assert.ok(spec.options.includes("--read-only"), "the rendered container has readOnlyRootFilesystem");
    serverUrl = `http://127.0.0.1:${port}`;
    server = await timed("tracking server container healthy", () => startContainer(spec, { url: `${serverUrl}/health`, timeoutMs: 300_000, label: "tracking server" }));
    log(`tracking server: ${spec.describe}`);

    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"] as const) {
      const probe = c[kind];
      assert.ok(probe, `no ${kind}`);
      const host = probe.httpGet.httpHeaders?.find((h) => h.name.toLowerCase() === "host")?.value;
      assert.ok(host, `${kind} sends no Host header`);
      const res = await getWithHost(`${serverUrl}${probe.httpGet.path}`, host);
      assert.equal(res.status, 200, `${kind} GET ${probe.httpGet.path} (Host: ${host}) -> ${res.status}: ${res.body}`);
    }
    const api = `${serverUrl}/api/2.0/mlflow/experiments/search?max_results=1`;
    const cluster = await getWithHost(api, CLUSTER_HOST);
    assert.equal(cluster.status, 200, `Host ${CLUSTER_HOST}: ${cluster.status} ${cluster.body}`);
    // The UI a port-forward opens (README: "UI at http://localhost:5000"): the image must ship its files.
    const ui = await getWithHost(`${serverUrl}/`, "localhost:5000");
    assert.equal(ui.status, 200, `GET / -> ${ui.status}`);
    assert.ok(/<html/i.test(ui.body) && !/Unable to display MLflow UI/.test(ui.body), `GET / is not the MLflow UI: ${ui.body.slice(0, 200)}`);
    const evil = await getWithHost(api, "evil.example.com");
    assert.equal(evil.status, 403, `Host evil.example.com must be rejected: ${evil.status} ${evil.body}`);
    // Prometheus metrics under the read-only root: the exporter writes only to its emptyDir.
    await assertMetricsScrape(serverUrl);

    const mounted = (c.volumeMounts ?? []).map((m) => m.mountPath);
    const candidates = ["/", "/home/mlflow", "/usr/local/lib/python3.11/site-packages", "/var/tmp", "/run", "/root", "/etc", ...mounted];
    const w = await server.exec(["sh", "-c", WRITABLE_PROBE, "sh", ...candidates]);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(w.stdout.split("\n").filter(Boolean).sort(), [...mounted].sort(), "writable paths = the rendered volume mounts");
  });

  it("tracking image: a client's run artifact lands in moto under the rendered --default-artifact-root", async function () {
    assert.ok(server, "needs the tracking server");
    const venv = await ensureVenv("mlflow");
    const script = [
      "import mlflow, tempfile, os, json",
      "mlflow.set_experiment('images-client')",
      "with mlflow.start_run() as run:",
      "    p = os.path.join(tempfile.mkdtemp(), 'hello.txt'); open(p, 'w').write('hello from a client')",
      "    mlflow.log_artifact(p)",
      "print(json.dumps({'artifact_uri': run.info.artifact_uri}))",
    ].join("\n");
    const res = await runCommand(venv.python, ["-c", script], {
      env: { PATH: process.env.PATH ?? "", HOME: tmp, MLFLOW_TRACKING_URI: serverUrl, ...keys(), ...s3Replace(), AWS_REGION: moto.region },
      timeoutMs: 300_000,
    });
    assert.equal(res.code, 0, tail(res.stdout + res.stderr, 30));
    const { artifact_uri } = lastJson<{ artifact_uri: string }>(res.stdout, "client");
    assert.ok(artifact_uri.startsWith(`s3://${BUCKET}/`), `artifact_uri ${artifact_uri} is not under the rendered s3://${BUCKET}/`);
    const { bucket, key } = splitS3(`${artifact_uri}/hello.txt`);
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await obj.Body!.transformToString(), "hello from a client");
  });

  it("tracking image: a deliberately broken Deployment (its /tmp emptyDir dropped) cannot start under the read-only root", async function () {
    const deployment = findRendered(r, "Deployment", "mlflow");
    const c = renderedContainer(deployment, "mlflow") as FullContainer;
    assert.ok((c.volumeMounts ?? []).some((m) => m.mountPath === "/tmp"), "the render mounts /tmp");
    const broken: FullContainer = { ...c, volumeMounts: (c.volumeMounts ?? []).filter((m) => m.mountPath !== "/tmp") };
    const args = withFlagValue(c.args ?? [], ["--port", "-p"], String(await freePort()));
    const env = trackingEnv(c);
    // A healthy server never exits: the 120 s limit then rejects and fails the test.
    const res = await runToCompletion(podmanRunSpec(deployment, broken, { env, args }), 120_000);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /No usable temporary directory/);
  });

  let trained: TrainSummary | undefined;

  it("trainer image: the rendered CronJob's pod logs one run with the params, metrics, dataset lineage, a registered version and code/src", async function () {
    assert.ok(server, "needs the tracking server");
    const cron = findRendered(r, "CronJob", "train-baseline");
    const c = renderedContainer(cron, "trainer") as FullContainer;
    const csvPath = path.join(tmp, "california_housing.csv");
    const gen = await runPython("trainer", path.join(REPO_ROOT, "images", "trainer", "make_synthetic_data.py"), { args: ["--rows", "500", "--seed", "11", "--out", csvPath], timeoutMs: 120_000 });
    assert.equal(gen.code, 0, gen.stderr);
    csv = fs.readFileSync(csvPath, "utf8");
    const dataset = splitS3(renderedEnvValue(c, "DATASET_S3_PATH"));
    assert.equal(dataset.bucket, BUCKET);
    await s3.send(new PutObjectCommand({ Bucket: dataset.bucket, Key: dataset.key, Body: csv }));

    const env = localEnv(c, { secrets: keys(), replace: { MLFLOW_TRACKING_URI: serverUrl, ...s3Replace() } });
    const spec = podmanRunSpec(cron, c, { env });
    assert.ok(spec.options.includes("--read-only"));
    const res = await timed("trainer container", () => runToCompletion(spec, 900_000));
    assert.equal(res.code, 0, `trainer exited ${res.code} (${spec.describe}):\n${tail(res.stdout + res.stderr, 40)}`);
    const summary = lastJson<TrainSummary>(res.stdout, "train.py");

    const { run } = await getJson<{ run: RunInfo }>(serverUrl, "runs/get", { run_id: summary.run_id });
    assert.equal(run.info.status, "FINISHED");
    const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
    for (const k of ["max_depth", "learning_rate", "max_iter", "random_state"]) {
      assert.ok(params[k] !== undefined, `param ${k} missing: ${JSON.stringify(params)}`);
      assert.equal(params[k], renderedEnvValue(c, k.toUpperCase()), `param ${k} = the CronJob's ${k.toUpperCase()}`);
      assert.equal(params[k], String(PROFILE.params[k as keyof typeof PROFILE.params]), `param ${k} = the profile's`);
    }
    const metrics = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
    for (const k of ["train_rmse", "train_r2", "test_rmse", "test_r2"]) assert.ok(Number.isFinite(metrics[k]), `metric ${k}: ${JSON.stringify(metrics)}`);
    const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
    assert.equal(tags["dataset.s3_path"], renderedEnvValue(c, "DATASET_S3_PATH"));
    assert.equal(tags["dataset.dvc_hash"], createHash("md5").update(csv).digest("hex"));
    assert.ok((run.inputs?.dataset_inputs ?? []).some((d) => d.dataset.name === "california_housing"), "dataset input");
    const { model_version: mv } = await getJson<{ model_version: { status: string; run_id: string; source: string } }>(serverUrl, "model-versions/get", { name: renderedEnvValue(c, "REGISTERED_MODEL_NAME"), version: String(summary.version) });
    assert.equal(mv.status, "READY");
    assert.equal(mv.run_id, summary.run_id);
    const modelKey = `${summary.experiment_id}/models/${summary.model_id}/artifacts/`;
    const objects = (await listKeys(s3, BUCKET, modelKey)).map((k) => k.slice(modelKey.length));
    for (const f of ["MLmodel", "code/src/california_housing/model.py", "code/src/california_housing/features.py"]) assert.ok(objects.includes(f), `${f} not in s3://${BUCKET}/${modelKey}: ${objects.join(", ")}`);
    trained = summary;
  });

  it("serving image: the rendered mlflow-pyfunc runtime serves the resolved storageUri from /mnt/models, predicts like the trainer, and stops on SIGTERM within the grace period", async function () {
    assert.ok(server && trained, "needs the trainer run");
    const p = { stdout: "", stderr: "" };
    const io: CliIo = { stdout: (t) => void (p.stdout += t), stderr: (t) => void (p.stderr += t), env: {} };
    assert.equal(await promoteMain(["--tracking-uri", serverUrl, "--model", trained.registered_model_name, "--version", String(trained.version), "--alias", "production"], io), 0, p.stderr);

    // The render that serves the alias: its InferenceService's storageUri is the registry's answer.
    const served = [{ name: "california-housing", registeredModel: trained.registered_model_name, alias: "production" }];
    const saved = { ...process.env };
    Object.assign(process.env, keys(), { AWS_ENDPOINT_URL_S3: moto.endpoint });
    let rs: RenderResult;
    try {
      rs = await timed("render local with serving.models", () => render("local", [...BASE_SETS, `serving.models=${JSON.stringify(served)}`], serverUrl));
    } finally {
      for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"]) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
    type Isvc = KubernetesObject & { spec: { predictor: { securityContext?: PodSecurity; terminationGracePeriodSeconds?: number; model: { storageUri: string; securityContext?: ContainerSecurity; resources?: FullContainer["resources"] } } } };
    const isvc = findRendered(rs, "InferenceService", "california-housing") as Isvc;
    const storageUri = isvc.spec.predictor.model.storageUri;
    assert.equal(storageUri, `s3://${BUCKET}/${trained.experiment_id}/models/${trained.model_id}/artifacts/`, "the version's directory, with a trailing slash");

    const runtimeObj = findRendered(rs, "ClusterServingRuntime", "mlflow-pyfunc");
    const runtime = renderedContainer(runtimeObj, "kserve-container") as FullContainer;
    assert.equal(qualifyImage(runtime.image ?? ""), images.serving.ref, "the rendered runtime's image is the one build.sh built");
    assert.ok([...(runtime.command ?? []), ...(runtime.args ?? [])].includes(KSERVE_MODEL_DIR), `the runtime serves ${KSERVE_MODEL_DIR}`);
    // KServe merges the InferenceService's model container over the runtime's container (fields it sets
    // win) and takes the pod-level securityContext from the predictor.
    const merged: FullContainer = {
      ...runtime,
      securityContext: { ...runtime.securityContext, ...isvc.spec.predictor.model.securityContext },
      resources: isvc.spec.predictor.model.resources ?? runtime.resources,
    };
    // /mnt/models as KServe fills it: the platform's storage initializer, run as KServe's pod webhook injects it
    // (the rendered ClusterStorageContainer's container, args [storageUri, /mnt/models], the keys Secret's S3
    // env, the predictor pod's user and fsGroup, KServe's model volume writable). The version's code holds an
    // empty file (KServe's downloader skips empty objects) and a sibling prefix exists (it matches prefixes as
    // strings): neither may change what lands in /mnt/models.
    const { bucket: b, key: versionKey } = splitS3(storageUri);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: `${versionKey}code/src/empty_pkg/__init__.py`, Body: "" }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: `${versionKey.replace(/\/$/, "")}-old/MLmodel`, Body: "not this version" }));
    const modelDir = path.join(tmp, "mnt-models");
    fs.mkdirSync(modelDir, { mode: 0o777 });
    fs.chmodSync(modelDir, 0o777); // an emptyDir: world-writable
    const csc = findRendered(rs, "ClusterStorageContainer", "mlflow-platform-mlflow");
    const initializer = injectedInitializer(csc, storageUri) as FullContainer;
    assert.equal(qualifyImage(initializer.image ?? ""), images["storage-initializer"].ref, "the rendered storage initializer is the image build.sh built");
    const init = podmanRunSpec(csc, initializer, {
      env: kserveS3Env(findRendered(rs, "Secret", "mlflow-aws-credentials"), keys(), moto.endpoint),
      extraMounts: [{ hostPath: modelDir, mountPath: KSERVE_MODEL_DIR, readOnly: false }],
      pod: { securityContext: isvc.spec.predictor.securityContext },
    });
    const initRun = await timed("storage initializer", () => runToCompletion(init, 300_000));
    assert.equal(initRun.code, 0, `the storage initializer exited ${initRun.code}:\n${tail(initRun.stdout + initRun.stderr, 20)}`);
    const onDisk = listTree(modelDir);
    const inStore = (await listKeys(s3, b, versionKey)).map((k) => k.slice(versionKey.length)).sort();
    assert.deepEqual(onDisk.map(([f]) => f), inStore, "/mnt/models holds exactly the version's objects");
    assert.ok(onDisk.some(([f, size]) => f === "code/src/empty_pkg/__init__.py" && size === 0), "the empty object is there");
    assert.ok(!onDisk.some(([f]) => f.includes("-old")), "nothing from the sibling prefix");

    const port = await freePort();
    const args = withFlagValue(runtime.args ?? [], ["-p", "--port"], String(port));
    const spec = podmanRunSpec(runtimeObj, merged, {
      env: localEnv(runtime),
      args,
      // KServe mounts the storage initializer's volume read-only into kserve-container.
      extraMounts: [{ hostPath: modelDir, mountPath: KSERVE_MODEL_DIR, readOnly: true }],
      pod: { securityContext: isvc.spec.predictor.securityContext, terminationGracePeriodSeconds: isvc.spec.predictor.terminationGracePeriodSeconds },
    });
    const serving = await timed("serving container ready (/ping)", () => startContainer(spec, { url: `http://127.0.0.1:${port}/ping`, timeoutMs: 300_000, label: "mlflow-pyfunc runtime" }));
    log(`serving: ${spec.describe}`);
    let stopped = false;
    try {
      const [header, ...rows] = csv.trim().split("\n");
      const columns = header.split(",");
      const split = { columns: FEATURES, data: [FEATURES.map((f) => Number(rows[0].split(",")[columns.indexOf(f)]))] };
      const res = await fetch(`http://127.0.0.1:${port}/invocations`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ dataframe_split: split }) });
      const text = await res.text();
      assert.equal(res.status, 200, `POST /invocations -> ${res.status}: ${text}`);
      const got = (JSON.parse(text) as { predictions: number[] }).predictions;
      assert.equal(got.length, 1, text);

      // The trainer's own prediction, in the trainer image (the rendered CronJob's pod, another command).
      const cron = findRendered(r, "CronJob", "train-baseline");
      const tc = renderedContainer(cron, "trainer") as FullContainer;
      const fixtures = path.join(__dirname, "fixtures");
      const predict = podmanRunSpec(cron, { ...tc, command: ["python", "/fixtures/e2e_predict.py"], args: ["--model-uri", `models:/${trained.registered_model_name}/${trained.version}`, "--input", JSON.stringify(split)] }, {
        env: localEnv(tc, { secrets: keys(), replace: { MLFLOW_TRACKING_URI: serverUrl, ...s3Replace() } }),
        extraMounts: [{ hostPath: fixtures, mountPath: "/fixtures", readOnly: true }],
      });
      const ref = await timed("trainer image: mlflow.pyfunc prediction", () => runToCompletion(predict, 300_000));
      const line = ref.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
      assert.ok(ref.code === 0 && line, `e2e_predict.py in the trainer image exited ${ref.code}:\n${tail(ref.stdout + ref.stderr, 20)}`);
      const want = (JSON.parse(line.slice("RESULT_JSON=".length)) as { predictions: number[] }).predictions;
      assert.ok(Math.abs(got[0] - want[0]) <= 1e-9, `served ${got[0]} != trainer's ${want[0]}`);

      // SIGTERM, as the kubelet sends it: podman stop with the pod's grace period, then SIGKILL.
      const grace = spec.terminationGracePeriodSeconds;
      const stop = await serving.stop(grace);
      stopped = true;
      log(`serving container stopped in ${(stop.ms / 1000).toFixed(1)} s (grace ${grace} s), exit ${stop.code ?? stop.signal}`);
      assert.notEqual(stop.code, 137, `SIGKILLed after the ${grace} s grace period: SIGTERM did not stop the runtime`);
      assert.ok(stop.ms < grace * 1000, `took ${stop.ms} ms to stop (grace ${grace} s)`);
    } catch (err) {
      process.stderr.write(`--- serving container output ---\n${tail(serving.proc.output(), 40)}\n`);
      throw err;
    } finally {
      if (!stopped) await serving.stop(2);
    }
  });

  it("tracking image: the rendered Deployment's server stops on SIGTERM within the pod's grace period", async function () {
    assert.ok(server, "needs the tracking server");
    const grace = server.spec.terminationGracePeriodSeconds;
    const stop = await server.stop(grace);
    log(`tracking server container stopped in ${(stop.ms / 1000).toFixed(1)} s (grace ${grace} s), exit ${stop.code ?? stop.signal}`);
    server = undefined;
    assert.notEqual(stop.code, 137, `SIGKILLed after the ${grace} s grace period: SIGTERM did not stop the server`);
    assert.ok(stop.ms < grace * 1000, `took ${stop.ms} ms (grace ${grace} s)`);
  });
});

// ---- oauth2-proxy: the single sign-on sidecar --------------------------------------------------------

const SSO_HOST = "mlflow.example.test";
const SSO_CLIENT = PROVIDER_CLIENT;
const SSO_ALLOWED = { username: "alice", password: "alice-pass-1", email: "alice@example.com" };
const SSO_MACHINE_PASSWORD = `machine-${randomBytes(12).toString("hex")}`;
/** The local stack behind a Gateway with single sign-on (the sidecar's image is the local stack's own). */
const ssoSets = (issuer: string) => [
  "access.mode=gateway",
  `access.gateway.host=${SSO_HOST}`,
  "access.gateway.name=public",
  "access.gateway.namespace=gateways",
  "access.auth=oidc",
  `access.oidc.issuerUrl=${issuer}`,
  `access.oidc.clientId=${SSO_CLIENT.id}`,
  `access.oidc.clientSecret=${SSO_CLIENT.secret}`,
  `access.oidc.allowedEmails=${JSON.stringify([SSO_ALLOWED.email])}`,
  `access.oidc.machinePassword=${SSO_MACHINE_PASSWORD}`,
];

interface PodVolume { name: string; secret?: { defaultMode?: number }; configMap?: { defaultMode?: number } }

/**
 * A Secret or ConfigMap volume's files as the kubelet writes them: owned by root, group the pod's fsGroup
 * (root without one), mode the volume's defaultMode (Kubernetes' default 0644).
 */
function volumeFiles(dir: string, o: KubernetesObject, volume: string, files: Record<string, string>, pod?: PodSecurity): string {
  const spec = renderedPodSpec(o) as unknown as { volumes?: PodVolume[]; securityContext?: PodSecurity };
  const v = (spec.volumes ?? []).find((x) => x.name === volume);
  assert.ok(v && (v.secret || v.configMap), `${o.kind}/${o.metadata.name} has no secret/configMap volume ${volume}`);
  const mode = (v.secret ?? v.configMap)?.defaultMode ?? 0o644;
  const gid = (pod ?? spec.securityContext)?.fsGroup ?? 0;
  const out = path.join(dir, volume);
  fs.mkdirSync(out, { mode: 0o755 });
  fs.chmodSync(out, 0o755);
  for (const [name, content] of Object.entries(files)) {
    const f = path.join(out, name);
    fs.writeFileSync(f, content);
    fs.chownSync(f, 0, gid);
    fs.chmodSync(f, mode);
  }
  return out;
}

/** The `Name:\tvalue…` lines of /proc/<pid>/status. */
function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
}

describe("images: oauth2-proxy, the single sign-on sidecar, run as the rendered local stack runs it", function () {
  let images: BuiltImages;
  let tmp: string;
  let issuer: string;
  let provider: ManagedProcess;
  let r: RenderResult;
  let deployment: KubernetesObject;
  let sidecar: FullContainer;
  let proxy: RunningContainer | undefined;
  let proxyUrl = "";
  let upstream: http.Server;
  let upstreamPort = 0;
  const upstreamSeen: { method: string; url: string; host?: string }[] = [];
  let volumeSources: Record<string, string>;
  let files: { sso: Record<string, string>; emails: Record<string, string> };
  const machineAuth = (password: string) => `Basic ${Buffer.from(`${MACHINE_USERNAME}:${password}`).toString("base64")}`;
  const ssoProbe = (path: string, headers: Record<string, string> = {}) => fetch(`${proxyUrl}${path}`, { headers, redirect: "manual" });

  before(async function () {
    if (SKIP) this.skip();
    this.timeout(80 * 60_000); // images/build.sh (cached when the first describe ran it) and the provider's build
    tmp = tempDir("images-sso");
    images = await timed("images/build.sh", () => ensureImages());
    const started = await timed("the OpenID provider (toolchain/build.sh)", () => startOidcProvider(tmp, [SSO_ALLOWED], `https://${SSO_HOST}${CALLBACK_PATH}`));
    provider = started.proc;
    issuer = started.issuer;

    r = await timed("render local behind a Gateway with single sign-on", () => render("local", ssoSets(issuer)));
    deployment = findRendered(r, "Deployment", "mlflow");
    sidecar = renderedContainer(deployment, "oauth2-proxy") as FullContainer;

    // The upstream: answers every request with MLflow's shape of an empty search, and records it.
    upstreamPort = await freePort();
    upstream = http.createServer((req, res) => {
      upstreamSeen.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host });
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ experiments: [] }));
    });
    await new Promise<void>((resolve) => upstream.listen(upstreamPort, "127.0.0.1", resolve));
    registerCleanup(() => new Promise<void>((resolve) => upstream.close(() => resolve())), () => upstream.close());

    // The Secret's and the ConfigMap's files, from the builders the component uses and the rendered ConfigMap.
    const emails = findRendered(r, "ConfigMap", "mlflow-sso").data as Record<string, string>;
    assert.equal(emails["authenticated-emails"], authenticatedEmails([SSO_ALLOWED.email]));
    files = {
      sso: { "client-secret": SSO_CLIENT.secret, "cookie-secret": randomBytes(16).toString("hex"), htpasswd: htpasswdLine(MACHINE_USERNAME, SSO_MACHINE_PASSWORD) },
      emails,
    };
    const secret = findRendered(r, "Secret", "mlflow-sso") as KubernetesObject & { data?: object; stringData?: object };
    assert.deepEqual(Object.keys(secret.data ?? secret.stringData ?? {}).sort(), Object.keys(files.sso).sort(), "the files written are the rendered Secret's keys");
    const dir = path.join(tmp, "volumes");
    fs.mkdirSync(dir);
    volumeSources = { sso: volumeFiles(dir, deployment, "sso", files.sso), "sso-emails": volumeFiles(dir, deployment, "sso-emails", files.emails) };
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    if (proxy) process.stderr.write(`--- oauth2-proxy container (last 30 lines) ---\n${tail(proxy.proc.output(), 30)}\n`);
    if (provider) process.stderr.write(`--- OpenID provider (last 15 lines) ---\n${tail(provider.output(), 15)}\n`);
  });

  after(async function () {
    this.timeout(120_000);
    if (proxy) await proxy.stop(5);
    await provider?.stop();
  });

  /** The rendered sidecar's podman run: only --http-address (a free port of 127.0.0.1) and --upstream (the test's server) changed. */
  function sidecarSpec(port: number, opts: { pod?: PodmanSpecOptions["pod"]; volumeSources?: Record<string, string> } = {}): PodmanRunSpec {
    let args = withFlagValue(sidecar.args ?? [], ["--http-address"], `127.0.0.1:${port}`);
    assert.equal(flagValue(args, "--upstream"), "http://127.0.0.1:5000/", "the sidecar proxies to MLflow on loopback");
    args = withFlagValue(args, ["--upstream"], `http://127.0.0.1:${upstreamPort}/`);
    return podmanRunSpec(deployment, sidecar, { env: localEnv(sidecar), args, volumeSources: opts.volumeSources ?? volumeSources, pod: opts.pod });
  }

  it("the image: the local stack's sidecar image, FROM scratch with a non-root USER, the sidecar's port, Debian's CA bundle; --version is go.mod's release, like the test binary's", async function () {
    assert.equal(qualifyImage(sidecar.image ?? ""), images["oauth2-proxy"].ref, "the rendered sidecar runs the image images/build.sh built");
    const inspect = await podman(["image", "inspect", images["oauth2-proxy"].ref]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const [img] = JSON.parse(inspect.stdout) as { Config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; ExposedPorts?: Record<string, unknown>; Env?: string[] } }[];
    assert.equal(img.Config.User, "65532:65532", "a numeric non-root USER (runAsNonRoot can check it)");
    assert.deepEqual(img.Config.Entrypoint, ["/bin/oauth2-proxy"]);
    const ports = (sidecar as { ports?: { containerPort: number }[] }).ports ?? [];
    assert.deepEqual(Object.keys(img.Config.ExposedPorts ?? {}), ports.map((p) => `${p.containerPort}/TCP`.toLowerCase()), "EXPOSE = the rendered containerPort");
    const bundle = await readImageFile(images["oauth2-proxy"].ref, "/etc/ssl/certs/ca-certificates.crt");
    assert.ok(bundle, "the image has no CA bundle: https to the provider would fail");
    assert.ok((bundle.toString("latin1").match(/BEGIN CERTIFICATE/g) ?? []).length > 100, "Debian's CA bundle (over 100 certificates)");
    assert.equal(await readImageFile(images["oauth2-proxy"].ref, "/bin/sh"), undefined, "no shell: FROM scratch");

    // The version: the image's binary (run as the image's own USER), the test binary, go.mod's require and binaries.tsv.
    const pinned = /^\s*github\.com\/oauth2-proxy\/oauth2-proxy\/v7 (v\S+)/m.exec(fs.readFileSync(path.join(REPO_ROOT, "images", "oauth2-proxy", "go.mod"), "utf8"))?.[1];
    assert.ok(pinned, "images/oauth2-proxy/go.mod requires oauth2-proxy");
    const row = fs.readFileSync(path.join(REPO_ROOT, "toolchain", "binaries.tsv"), "utf8").split("\n").find((l) => l.startsWith("oauth2-proxy\t"))?.split("\t");
    assert.equal(`v${row?.[3]}`, pinned, "toolchain/binaries.tsv's version = go.mod's");
    const v = await podman(["run", "--rm", "--network", "none", "--runtime", "runc", "--pull", "never", images["oauth2-proxy"].ref, "--version"]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^oauth2-proxy ${pinned.replace(/\./g, "\\.")} \\(built with go`), `the image's --version: ${v.stdout}`);
    // The docs name the release: a bump of go.mod that leaves them stale fails here.
    for (const doc of ["README.md", path.join("images", "README.md"), "config.ts"]) {
      assert.ok(fs.readFileSync(path.join(REPO_ROOT, doc), "utf8").includes(pinned), `${doc} names oauth2-proxy ${pinned}`);
    }
    const { "oauth2-proxy": bin } = await toolchainBinaries(["oauth2-proxy"]);
    const tv = await runCommand(bin, ["--version"], { timeoutMs: 30_000 });
    assert.equal(tv.stdout.trim(), v.stdout.trim(), "the test binary (toolchain/) and the image's are the same release and Go");
  });

  it("the rendered sidecar starts as the pod's user, without capabilities, under a read-only root, and /ping answers 200", async function () {
    const port = await freePort();
    const spec = sidecarSpec(port);
    assert.ok(spec.options.includes("--read-only"), "the rendered container has readOnlyRootFilesystem");
    proxyUrl = `http://127.0.0.1:${port}`;
    proxy = await timed("oauth2-proxy container ready (/ping)", () => startContainer(spec, { url: `${proxyUrl}/ping`, timeoutMs: 60_000, label: "oauth2-proxy" }));
    log(`oauth2-proxy: ${spec.describe}`);
    for (const kind of ["readinessProbe", "livenessProbe"] as const) {
      const probe = (sidecar as ProbedContainer)[kind];
      assert.ok(probe, `no ${kind}`);
      assert.equal(probe.httpGet.port, "http");
      assert.equal((await ssoProbe(probe.httpGet.path)).status, 200, `${kind} GET ${probe.httpGet.path}`);
    }
    // The process as the kernel sees it: the rendered runAsUser/runAsGroup and fsGroup, no capabilities.
    const pid = await podman(["inspect", "--format", "{{.State.Pid}}", spec.name]);
    assert.equal(pid.code, 0, pid.stderr);
    const st = procStatus(Number(pid.stdout.trim()));
    const podSec = (renderedPodSpec(deployment).securityContext ?? {}) as PodSecurity;
    assert.ok(podSec.runAsUser !== undefined && podSec.runAsUser !== 0, "the pod sets a non-root runAsUser");
    assert.equal(st.Uid.split(/\s+/)[0], String(podSec.runAsUser), `uid: ${st.Uid}`);
    assert.equal(st.Gid.split(/\s+/)[0], String(podSec.runAsGroup), `gid: ${st.Gid}`);
    assert.ok(st.Groups.split(/\s+/).includes(String(podSec.fsGroup)), `fsGroup among the groups: ${st.Groups}`);
    assert.equal(st.CapEff, "0000000000000000", "no effective capabilities");
    assert.equal(st.NoNewPrivs, "1");
  });

  it("a browser without a session (the Gateway's X-Forwarded-Proto/Host) is sent to the provider's authorization endpoint", async function () {
    assert.ok(proxy, "needs the proxy");
    const discovery = (await (await fetch(`${issuer}.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
    const res = await ssoProbe("/", { "X-Forwarded-Proto": "https", "X-Forwarded-Host": SSO_HOST });
    assert.equal(res.status, 302, `GET / without a session: ${res.status}`);
    const location = new URL(res.headers.get("location") ?? "");
    assert.equal(`${location.origin}${location.pathname}`, discovery.authorization_endpoint, `redirected to the provider: ${location}`);
    assert.equal(location.searchParams.get("client_id"), SSO_CLIENT.id);
    assert.equal(location.searchParams.get("redirect_uri"), `https://${SSO_HOST}${CALLBACK_PATH}`);
    assert.equal(location.searchParams.get("code_challenge_method"), "S256");
    assert.equal(upstreamSeen.length, 0, "nothing reached the upstream");
  });

  it("an API call without credentials gets 401; with the machine user's basic auth (the rendered htpasswd) it reaches the upstream", async function () {
    assert.ok(proxy, "needs the proxy");
    const api = "/api/2.0/mlflow/experiments/search?max_results=1";
    assert.equal((await ssoProbe(api)).status, 401, "no credentials");
    assert.equal((await ssoProbe(api, { Authorization: machineAuth("wrong-password-0123456789abc") })).status, 401, "a wrong machine password");
    assert.equal(upstreamSeen.length, 0, "nothing reached the upstream");
    const ok = await ssoProbe(api, { Authorization: machineAuth(SSO_MACHINE_PASSWORD) });
    assert.equal(ok.status, 200, `as ${MACHINE_USERNAME}: ${ok.status} ${await ok.text()}`);
    assert.deepEqual(upstreamSeen.map((x) => [x.method, x.url]), [["GET", api]], "the upstream got the call");
    assert.equal(upstreamSeen[0].host, `127.0.0.1:${upstreamPort}`, "--pass-host-header=false: the upstream sees its own loopback host");
  });

  it("the sidecar stops on SIGTERM within the pod's grace period", async function () {
    assert.ok(proxy, "needs the proxy");
    const grace = proxy.spec.terminationGracePeriodSeconds;
    const stop = await proxy.stop(grace);
    proxy = undefined;
    log(`oauth2-proxy container stopped in ${(stop.ms / 1000).toFixed(1)} s (grace ${grace} s), exit ${stop.code ?? stop.signal}`);
    assert.notEqual(stop.code, 137, `SIGKILLed after the ${grace} s grace period`);
    assert.ok(stop.ms < grace * 1000, `took ${stop.ms} ms (grace ${grace} s)`);
  });

  it("deliberately broken: a pod without fsGroup cannot read its Secret's 0440 files (root's) and the sidecar exits", async function () {
    const podSec = (renderedPodSpec(deployment).securityContext ?? {}) as PodSecurity;
    const withoutFsGroup: PodSecurity = { ...podSec, fsGroup: undefined };
    const dir = path.join(tmp, "volumes-no-fsgroup");
    fs.mkdirSync(dir);
    const sources = { sso: volumeFiles(dir, deployment, "sso", files.sso, withoutFsGroup), "sso-emails": volumeFiles(dir, deployment, "sso-emails", files.emails, withoutFsGroup) };
    // A healthy proxy never exits: the limit then rejects and fails the test.
    const res = await runToCompletion(sidecarSpec(await freePort(), { pod: { securityContext: withoutFsGroup }, volumeSources: sources }), 60_000);
    assert.notEqual(res.code, 0, "the proxy ran without reading its Secret");
    // oauth2-proxy validates its options first: "invalid configuration: could not read cookie secret file …".
    assert.match(res.stdout + res.stderr, /could not read cookie secret file: \/etc\/oauth2-proxy\/cookie-secret/, tail(res.stdout + res.stderr, 10));
  });
});

// The translation itself, without containers (runs even with MLFLOW_PLATFORM_IMAGES=skip): what a rendered
// pod becomes on the podman command line, and that a changed manifest changes it.
describe("images: rendered pod → podman run options (support/podman.ts)", function () {
  let r: RenderResult;
  before(async function () {
    this.timeout(120_000);
    r = await render("local", []);
  });

  it("the Job: user, read-only root without podman's own tmpfs, /tmp emptyDir as a sized tmpfs, caps dropped, command as entrypoint", function () {
    const job = findRendered(r, "Job", /^mlflow-db-upgrade-/);
    const c = renderedContainer(job) as FullContainer;
    const s = podmanRunSpec(job, c, { env: { A: "1" }, name: "x" });
    const o = s.options.join(" ");
    assert.match(o, /--user 10001:10001/);
    assert.match(o, /--read-only --read-only-tmpfs=false/);
    assert.match(o, /--tmpfs \/tmp:rw,mode=0777,exec,size=1073741824/);
    assert.match(o, /--cap-drop ALL/);
    assert.match(o, /--security-opt no-new-privileges/);
    assert.match(o, /--entrypoint \["python"\]/);
    // The kubelet's $(VAR) expansion, as podman gets it: mlflow db upgrade of the env's URI, once it connects.
    assert.deepEqual(s.args.slice(0, 1), ["-c"]);
    assert.deepEqual(s.args.slice(2), ["MLFLOW_BACKEND_STORE_URI", "mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]);
    assert.equal(fs.readFileSync(s.envFile, "utf8"), "A=1\n");
    assert.equal(s.terminationGracePeriodSeconds, 30, "Kubernetes' default when the pod sets none");
  });

  it("a changed manifest changes the run: no readOnlyRootFilesystem → no --read-only; a volume with no host source → an error", function () {
    const d = findRendered(r, "Deployment", "mlflow");
    const c = renderedContainer(d, "mlflow") as FullContainer;
    const writable = podmanRunSpec(d, { ...c, securityContext: { ...c.securityContext, readOnlyRootFilesystem: false } }, { env: {} });
    assert.ok(!writable.options.includes("--read-only"));
    const withSecret = { ...d, spec: JSON.parse(JSON.stringify(d.spec)) as Record<string, unknown> } as KubernetesObject;
    const pod = (withSecret.spec as { template: { spec: { volumes: unknown[] } } }).template.spec;
    pod.volumes.push({ name: "auth", secret: { secretName: "s" } });
    assert.throws(() => podmanRunSpec(withSecret, { ...c, volumeMounts: [...(c.volumeMounts ?? []), { name: "auth", mountPath: "/etc/auth" }] }, { env: {} }), /volume auth \(secret\) needs a host dir/);
    assert.throws(() => podmanRunSpec(d, c, { env: { X: "[secret]" } }), /still "\[secret\]"/);
  });
});

/** [relative path, size] of every file under dir, sorted. */
function listTree(dir: string): [string, number][] {
  const out: [string, number][] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push([path.relative(dir, p), fs.statSync(p).size]);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
