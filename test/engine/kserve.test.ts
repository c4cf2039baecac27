/**
 * KServe's real controller and webhooks (testbed/kserve.ts, KServe v0.20.0 as it ships: default mode Serverless,
 * Istio-class ingress, its own `default` storage container) act on the platform's InferenceServices, deployed by
 * the real engine from a real MLflow registry. kwok's node runs no container, so what is checked here is what
 * KServe makes of the objects: the predictor it creates, the init container its pod webhook injects, its status;
 * the real-node suite runs the same pods for real.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { startMlflowServer, mlflowServerArgs, type MlflowServer } from "../../testbed/mlflow";
import { freePort } from "../../testbed/ports";
import { tail } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { sharedMoto, sharedPostgres } from "../integration/support/services";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { startKServe, type KServe } from "../../testbed/kserve";
import type { KubeObject } from "../../testbed/kube";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";

const FIXTURE = path.join(__dirname, "..", "integration", "fixtures", "register_models.py");
const MODEL = "KServeEngineRegressor";
const ISVC = "housing";
const NS = "mlflow-kserve-engine";
const BUCKET = "mlflow-artifacts";
const INITIALIZER = "mlflow-platform/storage-initializer:local";
/** The kwok stage pod-init-fails fails an init container of this image (toolchain/kwok/stages.yaml). */
const FAILING_INITIALIZER = "mlflow-platform/storage-initializer:kwok-fails";

interface FixtureResult { aliasVersion: string; versions: Record<string, { downloadUri: string; runId: string; source: string }> }
type Pod = KubeObject & { spec: { initContainers?: Container[]; containers: Container[]; securityContext?: Record<string, unknown> }; status?: { phase?: string } };
interface Container { name: string; image: string; args?: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; securityContext?: Record<string, unknown>; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }

describe("engine: KServe's real controller and webhooks serve the platform's InferenceServices", function () {
  this.timeout(20 * 60_000);
  let cluster: Cluster;
  let kserve: KServe | undefined;
  let stack: EngineStack;
  let mlflow: MlflowServer;
  let models: FixtureResult;
  const saved: Record<string, string | undefined> = {};
  const dir = (v: string) => `${models.versions[v].downloadUri}/`;
  const k = () => cluster.kube;

  before(async function () {
    this.timeout(80 * 60_000);
    const [c, moto, pg] = await Promise.all([sharedCluster(), sharedMoto(), sharedPostgres()]);
    cluster = c;
    kserve = await startKServe(cluster);
    await moto.createBucket(BUCKET).catch((err: unknown) => { if (!/BucketAlreadyOwnedByYou|already/i.test(String(err))) throw err; });
    const db = `engine_kserve_${randomBytes(4).toString("hex")}`;
    await pg.createDatabase(db);
    mlflow = await startMlflowServer({
      args: mlflowServerArgs(await freePort(), ["--workers", "1", "--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/kserve-engine`, "--no-serve-artifacts"]),
      env: moto.env(), healthTimeoutMs: 600_000,
    });
    const r = await runPython("trainer", FIXTURE, {
      args: ["--model-name", MODEL, "--versions", "3", "--alias", "production", "--alias-version", "2"],
      env: { ...moto.env(), MLFLOW_TRACKING_URI: mlflow.url, GIT_PYTHON_REFRESH: "quiet" }, timeoutMs: 20 * 60_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
    if (r.code !== 0 || !line) throw new Error(`register_models.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    models = JSON.parse(line.slice("RESULT_JSON=".length)) as FixtureResult;
    for (const [key, v] of Object.entries(moto.env())) { saved[key] = process.env[key]; process.env[key] = v; }

    stack = await engineStack(cluster, { base: "local", stackName: "kserve" });
    const config: Record<string, ConfigValue> = {
      ...secretConfig(localSecrets()),
      namespace: NS,
      "serving.registry.uri": mlflow.url,
      "serving.readyTimeoutSeconds": 120,
      "serving.models[0].name": ISVC,
      "serving.models[0].registeredModel": MODEL,
      "serving.models[0].alias": "production",
      "serving.models[0].minReplicas": 1,
      "serving.models[0].maxReplicas": 1,
    };
    await stack.configure(config);
  });

  after(async () => {
    for (const [key, v] of Object.entries(saved)) { if (v === undefined) delete process.env[key]; else process.env[key] = v; }
    await kserve?.stop();
    await mlflow?.stop();
  });

  const predictorPods = async (): Promise<Pod[]> =>
    (await k().list("v1", "Pod", NS, `serving.kserve.io/inferenceservice=${ISVC}`)).filter((p) => !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp) as Pod[];
  const sourceUri = (o: KubeObject | undefined) =>
    ((o?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined)?.template?.metadata?.annotations ?? {})["internal.serving.kserve.io/storage-initializer-sourceuri"];
  const deployment = () => k().get("apps/v1", "Deployment", NS, `${ISVC}-predictor`);
  const isvc = async () => (await k().get("serving.kserve.io/v1beta1", "InferenceService", NS, ISVC)) as KubeObject & { status?: Record<string, unknown> };
  const withLogs = async <T>(f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (err) { throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- KServe\n${kserve?.logs(25) ?? ""}`); }
  };

  it("`pulumi up` waits until KServe has loaded the version: the predictor Deployment and Service, no HPA, no Ingress", () => withLogs(async () => {
    await stack.up();
    assert.equal((await stack.outputs()).servedModelsLoaded, true, "the up waited for the model to load");
    const d = await deployment();
    assert.ok(d, `KServe created Deployment ${NS}/${ISVC}-predictor`);
    assert.equal(sourceUri(d), dir("2"), "the predictor downloads the production version's directory");
    assert.ok(await k().get("v1", "Service", NS, `${ISVC}-predictor`), "and its Service");
    assert.deepEqual((await k().list("autoscaling/v2", "HorizontalPodAutoscaler", NS)).map((h) => h.metadata.name), [], "a fixed replica count: no HPA");
    assert.deepEqual((await k().list("networking.k8s.io/v1", "Ingress", NS)).map((i) => i.metadata.name), [], "cluster-local: no Ingress, although KServe's install creates them");
    const status = (await isvc()).status as { deploymentMode?: string; conditions?: { type: string; status: string }[] };
    assert.equal(status.deploymentMode, "Standard", "the InferenceService's own mode, not the install's Serverless");
    assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "True");
  }));

  it("the injected init container is the platform's initializer with the resolved storageUri; every container passes Pod Security restricted", () => withLogs(async () => {
    const pods = await predictorPods();
    assert.equal(pods.length, 1);
    const pod = pods[0];
    const init = (pod.spec.initContainers ?? []).find((c) => c.name === "storage-initializer");
    assert.ok(init, "KServe's pod webhook injected the storage initializer");
    assert.equal(init.image, INITIALIZER, "the platform's ClusterStorageContainer, not KServe's default");
    assert.deepEqual(init.args, [dir("2"), "/mnt/models"]);
    const envFrom = (name: string) => init.env?.find((e) => e.name === name);
    assert.deepEqual(envFrom("AWS_ACCESS_KEY_ID")?.valueFrom?.secretKeyRef, { name: "mlflow-aws-credentials", key: "AWS_ACCESS_KEY_ID" });
    assert.equal(envFrom("AWS_ENDPOINT_URL")?.value, `http://minio.${NS}.svc.cluster.local:9000`);
    assert.deepEqual(init.securityContext, {
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] },
      runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" },
    });
    const main = pod.spec.containers.find((c) => c.name === "kserve-container");
    assert.ok(main?.volumeMounts?.some((m) => m.mountPath === "/mnt/models" && m.readOnly === true), "the runtime reads the model read-only");
    const ns = await k().get("v1", "Namespace", undefined, NS);
    assert.equal(ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted", "the API server admitted the pod under restricted");
    // The enforcement is real: the same pod without its securityContexts is refused.
    const bare = { apiVersion: "v1", kind: "Pod", metadata: { name: "restricted-probe", namespace: NS }, spec: { containers: [{ name: "c", image: INITIALIZER }] } } as KubeObject;
    const refused = await k().apply(bare, { dryRun: true });
    assert.equal(refused.status, 403, `a pod that is not restricted is refused: ${refused.body.slice(0, 300)}`);
    assert.match(refused.body, /violates PodSecurity \\"restricted:latest\\"/);
  }));

  it("after the webhooks and the controller acted, a preview and a second up change nothing", () => withLogs(async () => {
    const preview = await stack.preview();
    assert.deepEqual(preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name} ${Object.keys(s.detailedDiff).join(",")}`), []);
    const before = (await isvc()).metadata.resourceVersion;
    const up = await stack.up();
    assert.deepEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), []);
    assert.equal((await isvc()).metadata.resourceVersion, before, "the InferenceService was not written again");
  }));

  it("a promotion moves the storageUri and KServe rolls the predictor to the new version before the up returns", () => withLogs(async () => {
    const res = await fetch(`${mlflow.url}/api/2.0/mlflow/registered-models/alias`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: MODEL, alias: "production", version: "3" }),
    });
    assert.equal(res.status, 200, await res.text());
    await stack.up();
    assert.equal(sourceUri(await deployment()), dir("3"));
    const pods = await predictorPods();
    assert.deepEqual(pods.map((p) => (p.spec.initContainers ?? []).find((c) => c.name === "storage-initializer")?.args?.[0]), [dir("3")], "one pod, the new version's");
  }));

  it("a failed model load shows in the InferenceService's status and fails the up at once, naming the model", () => withLogs(async () => {
    let message = "";
    const t0 = Date.now();
    await stack.withConfig({ "serving.storageInitializer.image": FAILING_INITIALIZER, "serving.models[0].version": "1" }, () => stack.up(), ["serving.models[0].alias"])
      .then(() => assert.fail("up succeeded although the model cannot load"), (err: unknown) => { message = String(err); });
    const seconds = (Date.now() - t0) / 1000;
    for (const part of [`served model "${ISVC}"`, `${MODEL} version 1`, dir("1"), "CrashLoopBackOff", "No model found"]) assert.ok(message.includes(part), `the error names ${part}:\n${message.slice(-1500)}`);
    assert.ok(seconds < 100, `failed at once, not after the 120 s timeout (${seconds.toFixed(0)} s)`);
    const ms = ((await isvc()).status as { modelStatus?: { transitionStatus?: string; states?: { targetModelState?: string }; lastFailureInfo?: { reason?: string } } }).modelStatus;
    assert.equal(ms?.states?.targetModelState, "FailedToLoad");
    assert.equal(ms?.lastFailureInfo?.reason, "ModelLoadFailed");
    // The way back: the config as it was; the up rolls to version 3 again and succeeds.
    await stack.up();
    assert.equal(sourceUri(await deployment()), dir("3"));
  }));

  it("removing the model removes the InferenceService, and KServe's predictor with it", () => withLogs(async () => {
    await stack.withConfig({}, async () => {
      await stack.unconfigure(["serving.models"]);
      await stack.up();
    });
    assert.equal(await isvc(), undefined);
    await k().waitFor("the predictor Deployment and Service gone", 60_000, async () =>
      ((await deployment()) === undefined && (await k().get("v1", "Service", NS, `${ISVC}-predictor`)) === undefined ? true : undefined));
  }));
});
