/**
 * Serving on the real engine with a real registry: a real MLflow server (PostgreSQL backend, artifacts in
 * moto's S3) holds three versions of a registered model; the local stack serving it goes up on an API
 * server with KServe's real CRDs, and the stored InferenceService carries the resolved storageUri and
 * lineage. Promoting another version shows, in the engine's preview, exactly the fields that follow the
 * version; with the registry stopped, preview and up fail naming model, alias and host:port, and neither
 * the state nor the cluster changes. On a cluster without KServe, a stack serving a model fails at preview,
 * naming KServe and how to install it, before anything is created.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startMlflowServer, mlflowServerArgs, type MlflowServer } from "../../testbed/mlflow";
import { freePort } from "../../testbed/ports";
import { tail } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { sharedMoto, sharedPostgres } from "../integration/support/services";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { parseConfig } from "../../config";
import { requireClusterApis } from "../../lib/cluster-apis";
import { offlineAddedRemoved, offlineDiff, offlineRender, stepKeys } from "./support/platform";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";

const FIXTURE = path.join(__dirname, "..", "integration", "fixtures", "register_models.py");
const MODEL = "EngineRegressor";
const ISVC = "california-housing";
const NS = "mlflow-serving-engine";
const BUCKET = "mlflow-artifacts"; // the local stack's MinIO bucket: the allowed storage prefix

interface FixtureResult { aliasVersion: string; versions: Record<string, { downloadUri: string; runId: string; source: string }> }

describe("engine: serving a registered model from a real MLflow registry", function () {
  this.timeout(20 * 60_000);
  let cluster: Cluster;
  let stack: EngineStack;
  let mlflow: MlflowServer;
  let models: FixtureResult;
  let config: Record<string, ConfigValue>;
  const saved: Record<string, string | undefined> = {};

  before(async function () {
    this.timeout(80 * 60_000);
    const [c, moto, pg] = await Promise.all([sharedCluster(), sharedMoto(), sharedPostgres()]);
    cluster = c;
    await cluster.installCrds("kserve");
    await moto.createBucket(BUCKET).catch((err: unknown) => { if (!/BucketAlreadyOwnedByYou|already/i.test(String(err))) throw err; });
    const db = `engine_serving_${randomBytes(4).toString("hex")}`;
    await pg.createDatabase(db);
    mlflow = await startMlflowServer({
      args: mlflowServerArgs(await freePort(), ["--workers", "1", "--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/engine`, "--no-serve-artifacts"]),
      env: moto.env(), healthTimeoutMs: 600_000,
    });
    const r = await runPython("trainer", FIXTURE, {
      args: ["--model-name", MODEL, "--versions", "3", "--alias", "production", "--alias-version", "2"],
      env: { ...moto.env(), MLFLOW_TRACKING_URI: mlflow.url, GIT_PYTHON_REFRESH: "quiet" }, timeoutMs: 20 * 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    if (r.code !== 0 || !line) throw new Error(`register_models.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    models = JSON.parse(line.slice("RESULT_JSON=".length)) as FixtureResult;
    // The program's MLmodel check reads moto with the default credential chain of this (the program's) process.
    for (const [k, v] of Object.entries(moto.env())) { saved[k] = process.env[k]; process.env[k] = v; }

    stack = await engineStack(cluster, { base: "local" });
    config = {
      ...secretConfig(localSecrets()),
      namespace: NS,
      "serving.registry.uri": mlflow.url,
      "serving.runtimeImage": "mlflow-platform/serving:local",
      "serving.models[0].name": ISVC,
      "serving.models[0].registeredModel": MODEL,
      "serving.models[0].alias": "production",
      // No KServe controller in this suite (kserve.test.ts runs it): nothing would load the model.
      "serving.readyTimeoutSeconds": 0,
    };
    await stack.configure(config);
  });

  after(async () => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    await mlflow?.stop();
  });

  const storedIsvc = async () => {
    const o = await cluster.kube.get("serving.kserve.io/v1beta1", "InferenceService", NS, ISVC);
    assert.ok(o, `InferenceService ${NS}/${ISVC} is in the API server`);
    return o as unknown as { metadata: { annotations: Record<string, string>; resourceVersion: string }; spec: { predictor: { model: { storageUri: string } } } };
  };

  it("`pulumi up` stores the InferenceService with the resolved storageUri and lineage annotations", async () => {
    await stack.up();
    const isvc = await storedIsvc();
    const v2 = models.versions["2"];
    assert.equal(models.aliasVersion, "2");
    assert.equal(isvc.spec.predictor.model.storageUri, `${v2.downloadUri}/`);
    assert.match(v2.downloadUri, /^s3:\/\/mlflow-artifacts\/.+\/models\/m-[0-9a-f]+\/artifacts$/);
    assert.equal(isvc.metadata.annotations["mlflow.org/model-version"], "2");
    assert.equal(isvc.metadata.annotations["mlflow.org/run-id"], v2.runId);
    assert.equal(isvc.metadata.annotations["mlflow.org/alias"], "production");
    const runtime = await cluster.kube.get("serving.kserve.io/v1alpha1", "ClusterServingRuntime", undefined, "mlflow-pyfunc");
    assert.ok(runtime, "the mlflow-pyfunc runtime is installed for the served model");
  });

  it("promoting version 3 shows exactly the storageUri and the lineage that follows the version in the preview", async () => {
    const res = await fetch(`${mlflow.url}/api/2.0/mlflow/registered-models/alias`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: MODEL, alias: "production", version: "3" }),
    });
    assert.equal(res.status, 200, await res.text());
    const run = await stack.preview();
    const changed = run.steps.filter((s) => s.op !== "same");
    assert.deepEqual(changed.map((s) => `${s.op} ${s.name}`), [`update serving-${ISVC}`]);
    const fields = Object.keys(changed[0].detailedDiff).sort();
    assert.deepEqual(fields, [
      'metadata.annotations["mlflow.org/model-version"]',
      'metadata.annotations["mlflow.org/run-id"]',
      'metadata.annotations["mlflow.org/source"]',
      "spec.predictor.model.storageUri",
    ].sort(), `changed fields: ${fields.join(", ")}`);
    await stack.up();
    assert.equal((await storedIsvc()).spec.predictor.model.storageUri, `${models.versions["3"].downloadUri}/`);
  });

  it("a served model added, then removed: the engine creates, then deletes, exactly its InferenceService, as the offline diff says", async () => {
    const second = { "serving.models[1].name": `${ISVC}-v1`, "serving.models[1].registeredModel": MODEL, "serving.models[1].version": "1" };
    const [one, two] = await Promise.all([offlineRender("local", config), offlineRender("local", { ...config, ...second })]);
    const added = await stack.withConfig(second, () => stack.preview());
    const isvc = `kubernetes:serving.kserve.io/v1beta1:InferenceService::serving-${ISVC}-v1`;
    assert.deepEqual(stepKeys(added.steps, ["create", "update", "replace", "delete"]), [isvc]);
    assert.deepEqual(offlineAddedRemoved(offlineDiff(one, two)), { added: [isvc], removed: [], replaced: [] });
    await stack.withConfig(second, () => stack.up());
    const pinned = await cluster.kube.get("serving.kserve.io/v1beta1", "InferenceService", NS, `${ISVC}-v1`);
    assert.equal((pinned?.spec as { predictor: { model: { storageUri: string } } }).predictor.model.storageUri, `${models.versions["1"].downloadUri}/`);
    const removed = await stack.preview();
    assert.deepEqual(stepKeys(removed.steps, ["create", "update", "replace", "delete"]), [isvc]);
    assert.deepEqual(stepKeys(removed.steps, ["delete"]), [isvc]);
    assert.deepEqual(offlineAddedRemoved(offlineDiff(two, one)), { added: [], removed: [isvc], replaced: [] });
    await stack.up();
    assert.equal(await cluster.kube.get("serving.kserve.io/v1beta1", "InferenceService", NS, `${ISVC}-v1`), undefined);
  });

  it("with the registry stopped, preview and up fail naming model, alias and host:port; state and cluster unchanged", async () => {
    const stateFile = findStackState(stack.stateDir);
    const before = stateResources(stateFile);
    const isvcBefore = (await storedIsvc()).metadata.resourceVersion;
    const hostPort = new URL(mlflow.url).host;
    await mlflow.stop();
    for (const op of ["preview", "up"] as const) {
      let message = "";
      await stack[op]().then(() => assert.fail(`${op} succeeded without a registry`), (err: unknown) => { message = String(err); });
      for (const part of [MODEL, "production", hostPort]) assert.ok(message.includes(part), `${op}'s error names ${part}:\n${message.slice(-1500)}`);
    }
    // A failed update rewrites the checkpoint's manifest (time, engine version): what it holds must not change.
    assert.deepEqual(stateResources(stateFile), before, "the stack's state holds the same resources");
    assert.equal((await storedIsvc()).metadata.resourceVersion, isvcBefore, "the InferenceService is unchanged");
  });

  it("a cluster without KServe: a stack serving a model fails at preview naming KServe and how to install it; nothing is created", async () => {
    const ns = "mlflow-no-kserve";
    const served = parseConfig({ artifactStore: { mode: "minio" }, image: { build: false, ref: "m:1", mlflowVersion: "3.17.2" }, training: { image: "t:1" }, serving: { runtimeImage: "s:1", storageInitializer: { image: "i:1" }, models: [{ name: ISVC, alias: "production" }] } }, "t");
    // The check's own client against the real API server, with an exec credential plugin (as EKS's `aws eks get-token`).
    const admin = JSON.parse(fs.readFileSync(cluster.kubeconfig, "utf8")) as { users: { user: Record<string, string> }[] };
    const plugin = path.join(path.dirname(stack.workDir), "exec-plugin.js");
    fs.writeFileSync(plugin, `const fs = require("fs"); process.stdout.write(JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { clientCertificateData: fs.readFileSync(${JSON.stringify(admin.users[0].user["client-certificate"])}, "utf8"), clientKeyData: fs.readFileSync(${JSON.stringify(admin.users[0].user["client-key"])}, "utf8") } }));`);
    const execConfig = JSON.parse(fs.readFileSync(cluster.kubeconfig, "utf8")) as { users: { user: unknown }[] };
    execConfig.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: [plugin], interactiveMode: "Never" } };
    const viaExec = () => ({ kubeconfig: JSON.stringify(execConfig), env: process.env });
    await requireClusterApis(served, viaExec); // KServe's CRDs are installed: the check passes
    await cluster.removeCrds("kserve");
    try {
      await assert.rejects(requireClusterApis(served, viaExec), /KServe is not installed on the cluster https:\/\/127\.0\.0\.1:\d+ \(context "engine-test"\): the API server does not serve InferenceService \(serving\.kserve\.io\/v1beta1, for serving\.models\) and ClusterStorageContainer \(serving\.kserve\.io\/v1alpha1, for serving\.storageInitializer\) and ClusterServingRuntime/);

      const fresh = await engineStack(cluster, { base: "local", stackName: "no-kserve" });
      await fresh.configure({ ...config, namespace: ns });
      for (const op of ["preview", "up"] as const) {
        let message = "";
        await fresh[op]().then(() => assert.fail(`${op} succeeded on a cluster without KServe`), (err: unknown) => { message = String(err); });
        for (const part of ["KServe is not installed", "InferenceService", "kubectl apply --server-side -f", "Nothing was changed"]) assert.ok(message.includes(part), `${op}'s error says "${part}":\n${message.slice(-1500)}`);
      }
      const created = fresh.stateText().match(/urn:pulumi:no-kserve::mlflow-platform::(kubernetes:|mlflow-platform:)[^"]*/g) ?? [];
      assert.deepEqual(created, [], "the stack's state holds no resource of the platform");
      assert.equal(await cluster.kube.get("v1", "Namespace", undefined, ns), undefined, `namespace ${ns} was not created`);
      await fresh.remove();
    } finally {
      await cluster.installCrds("kserve");
    }
  });
});

/**
 * The resources a stack state file holds (what a failed preview or up must leave as they were). A failed
 * update rewrites the file, re-encrypting each secret with a fresh nonce: ciphertexts compare as present.
 */
function stateResources(file: string): unknown {
  const text = fs.readFileSync(file, "utf8").replace(/"ciphertext":"v1:[^"]+"/g, '"ciphertext":"[encrypted]"');
  const state = JSON.parse(text) as { checkpoint: { latest: { resources: unknown; pending_operations?: unknown } } };
  return { resources: state.checkpoint.latest.resources, pending: state.checkpoint.latest.pending_operations ?? [] };
}

/** The file backend's state file of the one stack in `stateDir` (.pulumi/stacks/<project>/<stack>.json). */
function findStackState(stateDir: string): string {
  const dir = path.join(stateDir, ".pulumi", "stacks");
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json")) files.push(p);
    }
  };
  walk(dir);
  assert.equal(files.length, 1, `one stack state file under ${dir} (got ${files.join(", ")})`);
  return files[0];
}
