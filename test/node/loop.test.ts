/**
 * The platform runs for real: the local stack goes up on a real node (testbed/node.ts) with every pod from the
 * images images/build.sh builds, and the architecture's loop runs inside the cluster the way the README tells a
 * user to run it (kubectl, `pulumi up`):
 *
 *   training CSV into MinIO → train-baseline and train-deep Jobs, each one MLflow run in the in-cluster server →
 *   the promote Job's gate (the better version becomes production, a worse one is refused) → the next `pulumi up`
 *   resolves production through a port-forward and KServe's real controller starts the predictor, whose storage
 *   initializer downloads exactly that version from MinIO → the predictor's Service answers what the trainer's
 *   model predicts → a batch Job writes the production version's predictions → the backup CronJob's dump restores
 *   into a fresh database with equal table counts → the gc CronJob exits 0.
 *
 * Every container's memory is sampled from its cgroup while the loop runs: nothing may be OOMKilled, and each
 * workload's peak stays within its limit with a stated margin (the defaults in config.ts come from these peaks).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { ensureImages } from "../../testbed/images";
import { startKServe, type KServe } from "../../testbed/kserve";
import type { KubeObject } from "../../testbed/kube";
import { kubectl, type Kubectl, type PortForward } from "../../testbed/kubectl";
import { memorySampler, type MemorySampler } from "../../testbed/memory";
import { runCommand, stepLog, tail } from "../../testbed/process";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";
import { runPython } from "../../testbed/python";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";
import { postgresBinaries } from "./support/postgres-binaries";

const NS = "mlflow";
const MODEL = "CaliforniaHousingRegressor";
const EXPERIMENT = "california_housing_price";
const BUCKET = "mlflow-artifacts";
const ISVC = "california-housing";
const FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"];
/** Every image the local stack runs (with a served model), as images/build.sh names them. */
const IMAGES = ["mlflow", "trainer", "serving", "storage-initializer", "postgres-standin", "minio-standin", "mc-standin"] as const;
const TOLERANCE = 1e-9;

const { log, timed } = stepLog("node");

interface TrainSummary { run_id: string; model_uri: string; version: number; metrics: Record<string, number> }
interface Run { info: { run_id: string; status: string; experiment_id: string }; data: { params?: { key: string; value: string }[]; metrics?: { key: string; value: number }[]; tags?: { key: string; value: string }[] }; inputs?: { dataset_inputs?: { dataset: { name: string } }[] } }

describe("real node: the local stack from the built images, and the seed's whole loop inside the cluster", function () {
  this.timeout(30 * 60_000);
  let cluster: Cluster;
  let kserve: KServe | undefined;
  let stack: EngineStack;
  let k: Kubectl;
  let sampler: MemorySampler | undefined;
  let mlflow: PortForward;
  let minio: PortForward;
  let s3: S3Client;
  let keys: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
  let outputs: Record<string, unknown>;
  const trained = new Map<string, TrainSummary>();
  const saved: Record<string, string | undefined> = {};
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-node-loop-"));
  const config: Record<string, ConfigValue> = {
    ...secretConfig(localSecrets()),
    "training.profiles[1].name": "deep",
    "training.profiles[1].params.max_depth": 10,
    "training.profiles[1].params.learning_rate": 0.05,
    "training.profiles[1].params.max_iter": 300,
    "training.profiles[1].params.random_state": 42,
    "batch.profiles[0].name": "nightly",
    "gc.enabled": true,
    // The image runs 3.17.2; declared as its previous patch release, the upgrade step below is a real one: stop,
    // backup, migration (a no-op here: test/integration/mlflow-upgrade.test.ts migrates a real 3.10.1 schema),
    // rollout, resume, on the real node.
    "image.mlflowVersion": "3.17.1",
  };

  const setEnv = (vars: Record<string, string>) => { for (const [key, v] of Object.entries(vars)) { if (!(key in saved)) saved[key] = process.env[key]; process.env[key] = v; } };
  /** A template's launch command, run as the README says (kubectl on PATH, the cluster's kubeconfig); the Job's name. */
  const launch = async (command: string): Promise<string> => {
    const r = await runCommand("sh", ["-c", command], { env: { ...process.env, PATH: `${cluster.toolchain.binDir}:${process.env.PATH}`, KUBECONFIG: cluster.kubeconfig }, timeoutMs: 120_000 });
    const name = /job\.batch\/(\S+) created/.exec(r.stdout)?.[1];
    if (r.code !== 0 || !name) throw new Error(`${command} exited ${r.code}:\n${tail(r.stdout + r.stderr, 20)}`);
    return name;
  };
  /** Waits until a Job completes or fails; its pod's log. */
  const jobResult = async (name: string, timeoutMs = 15 * 60_000): Promise<{ ok: boolean; log: string }> => {
    const job = await cluster.kube.waitFor(`Job ${name} to finish`, timeoutMs, async () => {
      const j = await cluster.kube.get("batch/v1", "Job", NS, name);
      const cs = ((j?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).filter((c) => c.status === "True");
      return cs.some((c) => c.type === "Complete" || c.type === "Failed") ? j : undefined;
    });
    const ok = ((job.status as { conditions: { type: string; status: string }[] }).conditions).some((c) => c.type === "Complete" && c.status === "True");
    // Every pod of the Job (a retried Job has several): how each ended, and its log, each line prefixed with its pod.
    const pods = await podsOf(`job-name=${name}`);
    let log = "";
    for (const pod of pods) {
      const ended = (pod.status?.containerStatuses ?? []).map((cs) => `${cs.name}: ${JSON.stringify(cs.state?.terminated ?? cs.state)}`).join("; ");
      const body = (await cluster.kube.request("GET", `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/log?tailLines=200`)).body;
      log += `[pod/${pod.metadata.name}] ended: ${ended}\n${body.split("\n").map((l) => `[pod/${pod.metadata.name}] ${l}`).join("\n")}\n`;
    }
    return { ok, log };
  };
  const mlflowGet = async <T>(apiPath: string, query: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${mlflow.url}/api/2.0/mlflow/${apiPath}?${new URLSearchParams(query)}`);
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${apiPath}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };
  const production = async () => (await mlflowGet<{ model_version: { version: string } }>("registered-models/alias", { name: MODEL, alias: "production" })).model_version.version;
  const podsOf = async (selector: string) => (await cluster.kube.list("v1", "Pod", NS, selector)) as (KubeObject & { status?: PodStatus; spec: { containers: { name: string; image: string }[]; initContainers?: { name: string; image: string }[] } })[];
  /** The trainer's own model's predictions for rows (the trainer venv loads the model from MinIO through the port-forward). */
  const trainerPredictions = async (modelUri: string, rows: number[][]): Promise<number[]> => {
    const r = await runPython("trainer", path.join(REPO_ROOT, "test", "integration", "fixtures", "e2e_predict.py"), {
      args: ["--model-uri", modelUri, "--input", JSON.stringify({ columns: FEATURES, data: rows })],
      env: { ...keys, MLFLOW_TRACKING_URI: mlflow.url, MLFLOW_S3_ENDPOINT_URL: minio.url, AWS_DEFAULT_REGION: "us-east-1", GIT_PYTHON_REFRESH: "quiet" },
      timeoutMs: 10 * 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    if (r.code !== 0 || !line) throw new Error(`e2e_predict.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 20)}`);
    return (JSON.parse(line.slice("RESULT_JSON=".length)) as { predictions: number[] }).predictions;
  };
  const withLogs = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      const events = await k.tryRun(["get", "events", "--namespace", NS, "--sort-by=.lastTimestamp"]).catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- events\n${tail(events?.stdout ?? "", 25)}\n--- KServe\n${kserve?.logs(15) ?? ""}`);
    }
  };

  before(async function () {
    this.timeout(60 * 60_000);
    const [c, images] = await Promise.all([sharedCluster({ node: "real" }), ensureImages(IMAGES), ensureVenv("trainer")]);
    cluster = c;
    k = kubectl(cluster);
    await timed("import the images into containerd", () => cluster.node!.importImages(IMAGES.map((n) => images[n].archive)));
    kserve = await startKServe(cluster);
    sampler = memorySampler(cluster);
    stack = await engineStack(cluster, { base: "local", stackName: "node" });
    await stack.configure(config);
  });

  after(async () => {
    for (const [key, v] of Object.entries(saved)) { if (v === undefined) delete process.env[key]; else process.env[key] = v; }
    if (sampler) log(`memory peaks (working set, MiB):\n${sampler.report()}`);
    await sampler?.stop();
    await mlflow?.stop();
    await minio?.stop();
    await kserve?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("`pulumi up` of the local stack: every pod runs from the images the stack names and is Ready for real", () => withLogs(async () => {
    await timed("pulumi up (local stack)", () => stack.up());
    outputs = await stack.outputs();
    const pods = await podsOf("app.kubernetes.io/part-of=mlflow-platform");
    const byComponent = (name: string) => pods.filter((p) => p.metadata.labels?.["app.kubernetes.io/name"] === name);
    for (const name of ["tracking-server", "postgres", "minio"]) {
      const ps = byComponent(name);
      assert.equal(ps.length, 1, `one ${name} pod`);
      assert.equal(ps[0].status?.phase, "Running", `${name} runs`);
      assert.ok(ps[0].status?.containerStatuses?.every((cs) => cs.ready && cs.restartCount === 0), `${name}'s containers are ready, never restarted: ${JSON.stringify(ps[0].status?.containerStatuses)}`);
    }
    assert.deepEqual(byComponent("tracking-server")[0].spec.containers.map((c) => c.image), ["mlflow-platform/mlflow:local"]);
    for (const job of ["minio-bucket"]) assert.ok((await cluster.kube.get("batch/v1", "Job", NS, job)), `Job ${job}`);
    const jobs = await cluster.kube.list("batch/v1", "Job", NS);
    for (const j of jobs) {
      const done = ((j.status as { succeeded?: number } | undefined)?.succeeded ?? 0) >= 1;
      assert.ok(done, `Job ${j.metadata.name} completed`);
    }
    mlflow = await k.portForward(NS, "svc/mlflow", 5000);
    const health = await fetch(`${mlflow.url}/health`);
    assert.equal(health.status, 200, "the tracking server answers through `kubectl port-forward svc/mlflow`");
  }));

  it("NetworkPolicies are enforced (kube-router): only the database's clients reach PostgreSQL, and the loop below runs under them", () => withLogs(async () => {
    assert.ok(await cluster.kube.get("networking.k8s.io/v1", "NetworkPolicy", NS, "postgres-ingress"), "the platform fences PostgreSQL, also cluster-local");
    const probe = async (name: string, labels: Record<string, string>): Promise<string> => {
      await cluster.kube.apply({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS, labels },
        spec: {
          restartPolicy: "Never", automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: "probe", image: "mlflow-platform/trainer:local", command: ["python", "-c",
              // A new pod's address reaches the policy engine's allow-list a moment after the pod starts:
              // try for 15 s (a client connects within it; an outsider never does).
              `import socket, time\nend = time.time() + 15\nwhile True:\n    try:\n        socket.create_connection(("postgres.${NS}.svc.cluster.local", 5432), timeout=2).close(); print("CONNECTED"); break\n    except Exception as e:\n        if time.time() > end: print("REFUSED", type(e).__name__); break\n        time.sleep(0.5)`],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true },
            resources: { limits: { cpu: "200m", memory: "128Mi" } },
          }],
        },
      } as KubeObject);
      await cluster.kube.waitFor(`pod ${name} done`, 120_000, async () => (["Succeeded", "Failed"].includes(String(((await cluster.kube.get("v1", "Pod", NS, name))?.status as PodStatus | undefined)?.phase)) ? true : undefined));
      const out = (await k.run(["logs", "--namespace", NS, name])).stdout.trim();
      await k.run(["delete", "pod", "--namespace", NS, name, "--wait=false"]);
      return out;
    };
    assert.match(await probe("np-outsider", { app: "outsider" }), /^REFUSED/, "a pod that is no database client is refused");
    assert.equal(await probe("np-client", { "mlflow-platform/database-client": "true" }), "CONNECTED", "a labelled database client connects");
  }));

  it("the training data goes into MinIO, and train-baseline and train-deep each make one MLflow run in the in-cluster server", () => withLogs(async () => {
    // As the README: the keys from the Secret, a port-forward to MinIO, the CSV to datasets/.
    const secret = async (key: string) => Buffer.from((await k.run(["get", "secret", "--namespace", NS, "mlflow-aws-credentials", "-o", `jsonpath={.data.${key}}`])).stdout, "base64").toString("utf8");
    keys = { AWS_ACCESS_KEY_ID: await secret("AWS_ACCESS_KEY_ID"), AWS_SECRET_ACCESS_KEY: await secret("AWS_SECRET_ACCESS_KEY") };
    minio = await k.portForward(NS, "svc/minio", 9000);
    s3 = new S3Client({ endpoint: minio.url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: keys.AWS_ACCESS_KEY_ID, secretAccessKey: keys.AWS_SECRET_ACCESS_KEY } });
    const csv = path.join(tmp, "california_housing.csv");
    const gen = await runPython("trainer", path.join(REPO_ROOT, "images", "trainer", "make_synthetic_data.py"), { args: ["--rows", "2000", "--out", csv] });
    assert.equal(gen.code, 0, gen.stderr);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "datasets/california_housing.csv", Body: fs.readFileSync(csv) }));

    const templates = outputs.trainingTemplates as { profile: string; launch: string }[];
    assert.deepEqual(templates.map((t) => t.profile), ["baseline", "deep"]);
    const jobs = await Promise.all(templates.map(async (t) => ({ profile: t.profile, job: await launch(t.launch) })));
    for (const { profile, job } of jobs) {
      const r = await timed(`Job ${job}`, () => jobResult(job));
      assert.ok(r.ok, `${job} completed:\n${tail(r.log, 20)}`);
      const pods = new Set(r.log.split("\n").map((l) => /^\[pod\/([^\]]+)\]/.exec(l)?.[1]).filter(Boolean));
      assert.equal(pods.size, 1, `${job} ran one pod, not a retry:\n${r.log.split("\n").filter((l) => !/GIT_PYTHON|git executable|git\.refresh|\$PATH|rectified|silenced|aggravated|quiet\|q|warn\|w|error\|e|Example:|export GIT/.test(l)).slice(-60).join("\n")}`);
      const summary = r.log.split("\n").map((l) => l.replace(/^\[[^\]]*\] /, "")).filter((l) => l.startsWith("{")).pop();
      trained.set(profile, JSON.parse(summary ?? "{}") as TrainSummary);
    }
    const { experiment } = await mlflowGet<{ experiment: { experiment_id: string } }>("experiments/get-by-name", { experiment_name: EXPERIMENT });
    const search = await fetch(`${mlflow.url}/api/2.0/mlflow/runs/search`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ experiment_ids: [experiment.experiment_id] }) });
    const runs = ((await search.json()) as { runs: Run[] }).runs;
    assert.equal(runs.length, 2, "one MLflow run per Job");
    for (const [profile, summary] of trained) {
      const run = runs.find((r) => r.info.run_id === summary.run_id);
      assert.ok(run, `${profile}'s run is in the in-cluster server`);
      assert.equal(run.info.status, "FINISHED");
      const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
      for (const key of ["max_depth", "learning_rate", "max_iter", "random_state"]) assert.ok(params[key] !== undefined, `${profile}: param ${key}`);
      assert.equal(params.max_depth, profile === "deep" ? "10" : "6");
      const metrics = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
      for (const key of ["train_rmse", "test_rmse", "train_r2", "test_r2"]) assert.ok(Number.isFinite(metrics[key]), `${profile}: metric ${key}`);
      const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
      assert.equal(tags["dataset.s3_path"], `s3://${BUCKET}/datasets/california_housing.csv`);
      assert.match(tags["dataset.dvc_hash"] ?? "", /^[0-9a-f]{32}$/);
      assert.ok((run.inputs?.dataset_inputs ?? []).some((d) => d.dataset.name === "california_housing"), `${profile}: the dataset is the run's input`);
      const mv = await mlflowGet<{ model_version: { run_id: string; status: string } }>("model-versions/get", { name: MODEL, version: String(summary.version) });
      assert.equal(mv.model_version.run_id, summary.run_id);
      assert.equal(mv.model_version.status, "READY");
      const { artifact_uri } = await mlflowGet<{ artifact_uri: string }>("model-versions/get-download-uri", { name: MODEL, version: String(summary.version) });
      const keysUnder = await listKeys(s3, artifact_uri);
      assert.ok(keysUnder.some((x) => /\/code\/src\/california_housing\/[^/]+\.py$/.test(x)), `${profile}: code/src is packaged with the model (${artifact_uri})`);
    }
  }));

  it("the promote Job applies the gate: the better version becomes production, a worse one is refused and the alias stays", () => withLogs(async () => {
    const [a, b] = [...trained.values()].sort((x, y) => y.metrics.test_rmse - x.metrics.test_rmse); // a: worse, b: better
    assert.ok(a.metrics.test_rmse > b.metrics.test_rmse, "the two profiles differ");
    const template = outputs.promotionTemplate as { launch: string };
    const promote = async (version: number) => jobResult(await launch(template.launch.replace(/<version>/g, String(version))), 5 * 60_000);
    const first = await promote(a.version);
    assert.ok(first.ok, first.log);
    assert.equal(await production(), String(a.version), "an unset alias: the first version is promoted");
    const better = await promote(b.version);
    assert.ok(better.ok, better.log);
    assert.equal(await production(), String(b.version), "the better version becomes production");
    const worse = await promote(a.version);
    assert.equal(worse.ok, false, `promoting the worse version fails the Job:\n${worse.log}`);
    assert.match(worse.log, /refus/i);
    assert.equal(await production(), String(b.version), "the alias stays");
  }));

  let rows: number[][];
  let expected: number[];

  it("the next `pulumi up` resolves production through the port-forward; KServe's predictor downloads exactly that version and serves the trainer's predictions", () => withLogs(async () => {
    const prod = [...trained.values()].sort((x, y) => x.metrics.test_rmse - y.metrics.test_rmse)[0];
    assert.equal(await production(), String(prod.version), "production is the better version");
    setEnv({ ...keys, AWS_ENDPOINT_URL_S3: minio.url });
    await stack.configure({
      "serving.registry.uri": mlflow.url,
      "serving.readyTimeoutSeconds": 600,
      "serving.models[0].name": ISVC,
      "serving.models[0].alias": "production",
      "serving.models[0].minReplicas": 1,
      "serving.models[0].maxReplicas": 1,
    });
    await timed("pulumi up (serving production)", () => stack.up());
    outputs = await stack.outputs();
    assert.equal(outputs.servedModelsLoaded, true, "the up waited until KServe loaded the version");
    const served = (outputs.servedModels as { version: string; storageUri: string }[])[0];
    assert.equal(served.version, String(prod.version));
    // /mnt/models holds exactly the version's objects: the empty ones too, nothing of a sibling prefix.
    const pod = (await podsOf(`serving.kserve.io/inferenceservice=${ISVC}`)).find((p) => p.status?.phase === "Running");
    assert.ok(pod, "a running predictor pod");
    assert.equal(pod.spec.initContainers?.find((c) => c.name === "storage-initializer")?.image, "mlflow-platform/storage-initializer:local");
    const listed = await k.run(["exec", "--namespace", NS, pod.metadata.name, "-c", "kserve-container", "--", "python", "-c",
      "import os,json;r='/mnt/models';print(json.dumps(sorted([[os.path.relpath(os.path.join(d,f),r),os.path.getsize(os.path.join(d,f))] for d,_,fs in os.walk(r) for f in fs])))"]);
    const onDisk = JSON.parse(listed.stdout.trim()) as [string, number][];
    const inStore = await listObjects(s3, `${served.storageUri}/`);
    assert.deepEqual(onDisk, inStore, "the predictor's /mnt/models is exactly the version's artifacts (empty objects included)");

    rows = sampleRows(5);
    expected = await trainerPredictions(`models:/${MODEL}/${prod.version}`, rows);
    const svc = await k.portForward(NS, `svc/${ISVC}-predictor`, 80);
    try {
      const res = await fetch(`${svc.url}/invocations`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: rows } }) });
      assert.equal(res.status, 200, await res.clone().text());
      const got = ((await res.json()) as { predictions: number[] }).predictions;
      assert.equal(got.length, rows.length);
      got.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) <= TOLERANCE, `row ${i}: the predictor says ${p}, the trainer's model ${expected[i]}`));
    } finally {
      await svc.stop();
    }
  }));

  it("a model the storage initializer cannot load fails the up at once, naming it; KServe's status says FailedToLoad", () => withLogs(async () => {
    let message = "";
    const missing = `s3://${BUCKET}/no-such-model/artifacts`;
    await stack.withConfig({ "serving.models[0].storageUri": missing, "serving.verifyArtifacts": false, "serving.readyTimeoutSeconds": 300 }, () => stack.up(), ["serving.models[0].alias"])
      .then(() => assert.fail("up succeeded although no model is there"), (err: unknown) => { message = String(err); });
    for (const part of [`served model "${ISVC}"`, `${missing}/`, "storage initializer", "No model found"]) assert.ok(message.includes(part), `the error names ${part}:\n${message.slice(-1500)}`);
    // The up fails on the pod's state; KServe writes the model's state a moment later (seen in CI: still "Loading").
    const state = async () => ((await cluster.kube.get("serving.kserve.io/v1beta1", "InferenceService", NS, ISVC))?.status as { modelStatus?: { states?: { targetModelState?: string } } } | undefined)?.modelStatus?.states?.targetModelState;
    await cluster.kube.waitFor("KServe's targetModelState FailedToLoad", 60_000, async () => ((await state()) === "FailedToLoad" ? true : undefined)).catch(async () => undefined);
    assert.equal(await state(), "FailedToLoad");
    await timed("pulumi up (back to production)", () => stack.up());
    assert.equal((await stack.outputs()).servedModelsLoaded, true);
  }));

  it("a batch Job from its template writes the production version's predictions", () => withLogs(async () => {
    const template = (outputs.batchTemplates as { launch: string; input: string; output: string }[])[0];
    const input = [FEATURES.join(","), ...rows.map((r) => r.join(","))].join("\n") + "\n";
    const { bucket, key } = splitS3(template.input);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: input }));
    const r = await timed("batch Job", async () => jobResult(await launch(template.launch)));
    assert.ok(r.ok, r.log);
    const predictionsKey = (await listObjects(s3, `${template.output}/`)).map(([k2]) => k2).find((k2) => k2.endsWith("predictions.csv"));
    assert.ok(predictionsKey, `predictions.csv under ${template.output}`);
    const out = splitS3(`${template.output}/${predictionsKey}`);
    const text = await (await s3.send(new GetObjectCommand({ Bucket: out.bucket, Key: out.key }))).Body!.transformToString("utf8");
    const [head, ...lines] = text.trim().split("\n");
    const col = head.split(",").length - 1;
    const got = lines.map((l) => Number(l.split(",")[col]));
    got.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) <= TOLERANCE, `row ${i}: batch ${p}, production ${expected[i]}`));
  }));

  it("the backup CronJob's dump lands in MinIO and scripts/restore-database.sh restores it into a fresh database with equal table counts", () => withLogs(async () => {
    const backup = outputs.backup as { launch: string; prefix: string };
    const r = await timed("backup Job", async () => jobResult(await launch(backup.launch)));
    assert.ok(r.ok, r.log);
    const dumps = (await listObjects(s3, `${backup.prefix}/mlflow/`)).filter(([key]) => key.endsWith(".dump"));
    assert.ok(dumps.length >= 1, `a dump under ${backup.prefix}/mlflow/`);
    const pg = await k.portForward(NS, "svc/postgres", 5432);
    try {
      const uri = Buffer.from((await k.run(["get", "secret", "--namespace", NS, "mlflow-backend-store", "-o", "jsonpath={.data.uri}"])).stdout, "base64").toString("utf8");
      const base = uri.replace(/@[^/]+\//, `@127.0.0.1:${pg.port}/`);
      const bin = await postgresBinaries();
      const psql = (url: string, sql: string) => runCommand(path.join(bin, "psql"), ["-Atq", url, "-c", sql], { env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
      const made = await psql(base, "create database mlflow_restore_check");
      assert.equal(made.code, 0, made.stderr);
      const target = base.replace(/\/[^/?]+(\?|$)/, "/mlflow_restore_check$1");
      const venv = await ensureVenv("trainer");
      const restore = await runCommand("bash", [path.join(REPO_ROOT, "scripts", "restore-database.sh"), "latest"], {
        env: { ...process.env, ...keys, AWS_ENDPOINT_URL_S3: minio.url, AWS_DEFAULT_REGION: "us-east-1", BACKUP_PREFIX: `${backup.prefix}/mlflow`, TARGET_DATABASE_URL: target, PG_BIN: bin, PYTHON: venv.python },
        timeoutMs: 10 * 60_000,
      });
      assert.equal(restore.code, 0, tail(restore.stdout + restore.stderr, 30));
      const counts = async (url: string) => {
        const tables = (await psql(url, "select schemaname||'.'||tablename from pg_tables where schemaname='public' order by 1")).stdout.trim().split("\n").filter(Boolean);
        const out: Record<string, string> = {};
        for (const t of tables) out[t] = (await psql(url, `select count(*) from ${t}`)).stdout.trim();
        return out;
      };
      const [source, restored] = await Promise.all([counts(base), counts(target)]);
      assert.ok(Object.keys(source).length > 20, `MLflow's tables: ${Object.keys(source).length}`);
      assert.deepEqual(restored, source, "every table's row count is equal");
      await psql(base, "drop database mlflow_restore_check");
    } finally {
      await pg.stop();
    }
  }));

  it("the gc CronJob runs and exits 0", () => withLogs(async () => {
    const r = await timed("gc Job", async () => jobResult(await launch(`kubectl create job --namespace ${NS} --from=cronjob/mlflow-gc mlflow-gc-manual`)));
    assert.ok(r.ok, r.log);
  }));

  it("an MLflow upgrade (image.mlflowVersion 3.17.1 → 3.17.2, a new image reference): stop, backup, migration, rollout, resume; every run and the alias kept; the predictor answers throughout", () => withLogs(async () => {
    const exp = (await mlflowGet<{ experiment: { experiment_id: string } }>("experiments/get-by-name", { experiment_name: EXPERIMENT })).experiment.experiment_id;
    const runsOf = async () => {
      const res = await fetch(`${mlflow.url}/api/2.0/mlflow/runs/search`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ experiment_ids: [exp], max_results: 1000 }) });
      const runs = ((await res.json()) as { runs?: Run[] }).runs ?? [];
      return runs.map((r) => `${r.info.run_id} ${r.info.status} ${(r.data.metrics ?? []).map((m) => `${m.key}=${m.value}`).sort().join(",")}`).sort();
    };
    const aliasUri = async () => (await mlflowGet<{ model_version: { version: string; source: string } }>("registered-models/alias", { name: MODEL, alias: "production" })).model_version;
    const [runsBefore, prodBefore] = [await runsOf(), await aliasUri()];
    assert.ok(runsBefore.length >= 2, runsBefore.join("\n"));
    await cluster.node!.tagImage("docker.io/mlflow-platform/mlflow:local", "docker.io/mlflow-platform/mlflow:local-upgrade");
    await stack.configure({ "image.ref": "mlflow-platform/mlflow:local-upgrade", "image.mlflowVersion": "3.17.2" });

    // The tracking server's ready pods, sampled every 250 ms while the up runs; the predictor asked alongside
    // (inference never calls MLflow).
    const predictor = await k.portForward(NS, `svc/${ISVC}-predictor`, 80);
    const samples: { t: number; ready: number; predicted: boolean }[] = [];
    let sampling = true;
    const body = JSON.stringify({ dataframe_split: { columns: FEATURES, data: [[8.3, 41, 6.9, 1.0, 322, 2.5, 37.88, -122.23]] } });
    const sampler_ = (async () => {
      while (sampling) {
        const pods = await podsOf("app.kubernetes.io/name=tracking-server").catch(() => []);
        const ready = pods.filter((p) => (p.status?.containerStatuses ?? []).length > 0 && p.status!.containerStatuses!.every((cs) => cs.ready)).length;
        const predicted = await fetch(`${predictor.url}/invocations`, { method: "POST", headers: { "Content-Type": "application/json" }, body, signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
        samples.push({ t: Date.now(), ready, predicted });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    let up;
    try {
      up = await timed("pulumi up (MLflow upgrade)", () => stack.up());
    } finally {
      sampling = false;
      await sampler_;
      await predictor.stop();
    }
    const steps = up.steps.filter((x) => x.op !== "same").map((x) => `${x.op} ${x.object?.kind ?? x.type} ${x.object?.name ?? x.name}`);
    for (const want of ["create Job mlflow-upgrade-3-17-1-to-3-17-2-stop", "create Job mlflow-upgrade-3-17-1-to-3-17-2-backup", "create Job mlflow-upgrade-3-17-1-to-3-17-2-resume", "update Deployment mlflow"])
      assert.ok(steps.includes(want), `${want}: ${steps.join("; ")}`);
    const down = samples.filter((x) => x.ready === 0);
    assert.ok(down.length > 0, "the tracking server was stopped (no ready pod at some sample)");
    const downSeconds = (down[down.length - 1].t - down[0].t) / 1000;
    log(`MLflow upgrade on the real node: tracking server unavailable ${downSeconds.toFixed(1)} s (no ready pod from the first to the last of ${down.length} samples at 250 ms); the predictor answered ${samples.filter((x) => x.predicted).length} of ${samples.length} samples`);
    assert.ok(samples.every((x) => x.predicted), "the predictor answered while the tracking server was stopped");
    assert.equal(samples[samples.length - 1].ready, 1, "ready again at the end of the up");

    // Every run and the alias are there, served by the new image.
    await mlflow.stop();
    mlflow = await k.portForward(NS, "svc/mlflow", 5000);
    assert.deepEqual(await runsOf(), runsBefore);
    assert.deepEqual(await aliasUri(), prodBefore);
    const tracking = await podsOf("app.kubernetes.io/name=tracking-server");
    assert.deepEqual(tracking.map((p) => p.spec.containers[0].image), ["mlflow-platform/mlflow:local-upgrade"]);
    // The pre-upgrade backup is in MinIO, MANIFEST last; the record says 3.17.2; gc runs again.
    const backup = outputs.backup as { prefix: string };
    const objects = (await listObjects(s3, `${backup.prefix}/pre-upgrade-3.17.1-to-3.17.2/`)).map(([key]) => key.replace(/\d{8}T\d{6}Z/, "<stamp>"));
    assert.deepEqual(objects.sort(), ["MANIFEST", "mlflow/<stamp>.dump"], objects.join(", "));
    const record = await cluster.kube.get("v1", "ConfigMap", NS, "mlflow-schema");
    assert.equal(record?.metadata.annotations?.["mlflow-platform.io/mlflow-version"], "3.17.2");
    const gc = await cluster.kube.get("batch/v1", "CronJob", NS, "mlflow-gc");
    assert.notEqual((gc?.spec as { suspend?: boolean } | undefined)?.suspend, true, "the gc CronJob is unsuspended");
  }));

  it("no container was OOMKilled, and every workload's peak memory stays within its limit with a margin", () => withLogs(async () => {
    const pods = await podsOf("");
    const killed = pods.flatMap((p) => [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]
      .filter((cs) => cs.lastState?.terminated?.reason === "OOMKilled" || cs.state?.terminated?.reason === "OOMKilled").map((cs) => `${p.metadata.name}/${cs.name}`));
    assert.deepEqual(killed, [], "OOMKilled containers");
    assert.deepEqual(sampler!.overLimit(0.8), [], "containers whose peak working set passed 80 % of their memory limit");
  }));
});

interface ContainerStatus { name: string; ready: boolean; restartCount: number; state?: { terminated?: { reason?: string; exitCode?: number } }; lastState?: { terminated?: { reason?: string } } }
interface PodStatus { phase?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] }

function splitS3(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

/** [relative key, size] of every object under an s3:// directory URI (ending in /), sorted. */
async function listObjects(s3: S3Client, dirUri: string): Promise<[string, number][]> {
  const { bucket, key: prefix } = splitS3(dirUri);
  const out: [string, number][] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key && !o.Key.endsWith("/")) out.push([o.Key.slice(prefix.length), o.Size ?? 0]);
    token = page.NextContinuationToken;
  } while (token);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

async function listKeys(s3: S3Client, dirUri: string): Promise<string[]> {
  return (await listObjects(s3, dirUri.endsWith("/") ? dirUri : `${dirUri}/`)).map(([key]) => key).map((key) => `${dirUri.replace(/\/$/, "")}/${key}`);
}

/** Rows shaped like the training data (fixed values, the features' ranges). */
function sampleRows(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [3 + i * 0.7, 20 + i, 5.2 + i * 0.1, 1.05, 1200 + 100 * i, 2.8, 34 + i * 0.9, -118.5 - i * 0.6]);
}
