/**
 * The local stack on the real Pulumi engine and a real API server (kwok's simulated node): `up`
 * converges with the provider's awaits, a second `up` changes nothing, config switches previewed on top
 * of the deployed stack delete or replace nothing that holds data and agree with the offline diff, the
 * state holds no secret in plaintext, the API server accepts every rendered object in a dry run (and
 * refuses a broken one), and `destroy` leaves the data behind.
 *
 * No KServe CRDs are installed: the local stack serves no model, so it must go up on a cluster without
 * KServe (the serving suite installs them).
 */
import assert from "node:assert/strict";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";
import {
  asKube, credentialSecretNames, destructiveSteps, missingInCluster, offlineAddedRemoved, offlineDiff,
  offlineRender, renderedKeys, secretsInState, stepKeys,
} from "./support/platform";

const NS = "mlflow";

/**
 * The switches an operator makes over a platform's life that need no AWS resource, each previewed by
 * the engine on top of the deployed local stack. `basicAuth` switches supply the basic-auth secrets.
 */
const SWITCHES: { name: string; values: Record<string, ConfigValue>; basicAuth?: boolean }[] = [
  { name: "cluster-local → Ingress + basic auth", basicAuth: true, values: { "access.mode": "ingress", "access.auth": "basic", "access.ingress.host": "mlflow.example.test", "access.ingress.tlsSecretName": "mlflow-tls" } },
  { name: "a new tracking-server image", values: { "image.ref": "mlflow-platform/mlflow:local-2" } },
  { name: "more tracking-server replicas and memory", values: { "trackingServer.replicas": 2, "trackingServer.resources.limits.memory": "2Gi" } },
  { name: "a new training profile", values: { "training.profiles[1].name": "deep", "training.profiles[1].params.max_depth": 12 } },
  { name: "a training schedule", values: { "training.profiles[0].schedule": "0 3 * * 1" } },
  { name: "a new PostgreSQL image (minor upgrade)", values: { "database.inCluster.image": "docker.io/library/postgres:16.9-bookworm" } },
  { name: "a new MinIO image", values: { "artifactStore.minio.image": "quay.io/minio/minio:RELEASE.2025-05-24T17-08-30Z" } },
  { name: "bigger PostgreSQL and MinIO volumes", values: { "database.inCluster.storageSize": "4Gi", "artifactStore.minio.storageSize": "10Gi" } },
  { name: "a rotated PostgreSQL password (supplied)", values: { "database.inCluster.password": { secret: `pg-rotated-${Date.now()}` } } },
  { name: "rotated MinIO keys (supplied)", values: { "artifactStore.minio.secretAccessKey": { secret: `sk-rotated-${Date.now()}` } } },
];

describe("engine: the local stack on a real API server", function () {
  this.timeout(20 * 60_000);
  let cluster: Cluster;
  let stack: EngineStack;
  const secrets = localSecrets();
  const base = secretConfig(secrets);

  before(async function () {
    this.timeout(80 * 60_000); // a cold toolchain build
    cluster = await sharedCluster();
    await cluster.removeCrds("kserve"); // whatever ran before in this process: this cluster has no KServe
    stack = await engineStack(cluster, { base: "local" });
    await stack.configure(base);
  });

  it("`pulumi up` converges: every rendered object is in the API server, and nothing else", async () => {
    const run = await stack.up();
    const offline = await offlineRender("local", base);
    assert.deepEqual(stepKeys(run.steps, ["create"]), renderedKeys(offline), "the engine created exactly the offline render's Kubernetes resources");
    assert.deepEqual(await missingInCluster(cluster.kube, offline), []);
    // The provider's awaits passed (up returned); the API server agrees on what they waited for.
    const deploy = await cluster.kube.get("apps/v1", "Deployment", NS, "mlflow");
    assert.equal((deploy?.status as { availableReplicas?: number }).availableReplicas, 1);
    for (const sts of ["postgres", "minio"]) {
      const s = await cluster.kube.get("apps/v1", "StatefulSet", NS, sts);
      assert.equal((s?.status as { readyReplicas?: number }).readyReplicas, 1, `StatefulSet ${sts} ready`);
    }
    const jobs = await cluster.kube.list("batch/v1", "Job", NS);
    assert.ok(jobs.length >= 2, `the schema-migration and bucket Jobs exist (got ${jobs.map((j) => j.metadata.name).join(", ")})`);
    for (const j of jobs) assert.equal((j.status as { succeeded?: number }).succeeded, 1, `Job ${j.metadata.name} complete`);
    const claims = await cluster.kube.list("v1", "PersistentVolumeClaim", NS);
    assert.equal(claims.length, 2);
    for (const c of claims) assert.equal((c.status as { phase?: string }).phase, "Bound", `claim ${c.metadata.name} bound`);
  });

  it("a second `pulumi up` changes nothing (no perpetual diff)", async () => {
    const run = await stack.up();
    const changed = run.steps.filter((s) => s.op !== "same");
    assert.deepEqual(changed.map((s) => `${s.op} ${s.type} ${s.name} ${JSON.stringify(s.detailedDiff)}`), []);
    assert.deepEqual(Object.keys(run.changes).filter((op) => op !== "same"), []);
  });

  it("the state holds no supplied secret in plaintext (nor base64-encoded)", () => {
    assert.deepEqual(secretsInState(stack.stateText(), secrets), []);
  });

  for (const sw of SWITCHES) {
    it(`preview: ${sw.name} deletes or replaces nothing that holds data, and the offline diff agrees`, async () => {
      const values = { ...sw.values, ...(sw.basicAuth ? secretConfig(secrets, { basicAuth: true }) : {}) };
      const run = await stack.withConfig(values, () => stack.preview());
      const [from, to] = await Promise.all([offlineRender("local", base), offlineRender("local", { ...base, ...values })]);
      const destructive = destructiveSteps(run.steps, credentialSecretNames(from));
      assert.deepEqual(destructive.map((s) => `${s.op} ${s.object?.kind} ${s.object?.name} (because ${s.replaceKeys.join(", ")})`), []);
      const offline = offlineAddedRemoved(offlineDiff(from, to));
      assert.deepEqual(stepKeys(run.steps, ["create"]), offline.added, "added: engine vs offline diff");
      assert.deepEqual(stepKeys(run.steps, ["delete"]), offline.removed, "removed: engine vs offline diff");
      assert.deepEqual(stepKeys(run.steps, ["replace"]), offline.replaced, "replaced: engine vs offline diff");
      const updates = stepKeys(run.steps, ["update", "replace", "create", "delete"]);
      assert.ok(updates.length > 0, "the switch changes something");
    });
  }

  it("the API server accepts every rendered object in a server-side dry run, and refuses a broken one", async () => {
    const offline = await offlineRender("local", base);
    const refused: string[] = [];
    for (const o of offline.kubernetes) {
      const r = await cluster.kube.apply(asKube(o), { dryRun: true });
      if (r.status < 200 || r.status > 299) refused.push(`${o.kind} ${o.metadata.name}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    }
    assert.deepEqual(refused, []);
    const deployment = offline.kubernetes.find((o) => o.kind === "Deployment");
    assert.ok(deployment);
    const broken = JSON.parse(JSON.stringify(deployment)) as { spec: { template: { spec: { containers: { name: string }[] } } } };
    broken.spec.template.spec.containers[0].name = "Not_A_DNS_Label";
    const r = await cluster.kube.apply(broken as never, { dryRun: true });
    assert.equal(r.status, 422, `a container named Not_A_DNS_Label is refused (got HTTP ${r.status})`);
  });

  it("`pulumi destroy` leaves the namespace, the StatefulSets and their claims, and removes the rest", async () => {
    const offline = await offlineRender("local", base);
    await stack.destroy();
    const kept = new Set(["Namespace", "StatefulSet"]);
    const left: string[] = [];
    const gone: string[] = [];
    for (const o of offline.kubernetes) {
      const got = await cluster.kube.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name ?? "");
      const id = `${o.kind} ${o.metadata.name}`;
      if (kept.has(o.kind) && !got) gone.push(id);
      if (!kept.has(o.kind) && got && !retained(offline, o.kind, o.metadata.name ?? "")) left.push(id);
    }
    assert.deepEqual(gone, [], "retained objects are still there");
    assert.deepEqual(left, [], "everything else is gone");
    const claims = await cluster.kube.list("v1", "PersistentVolumeClaim", NS);
    assert.deepEqual(claims.map((c) => c.metadata.name).sort(), ["data-minio-0", "data-postgres-0"]);
  });
});

/** Resources the program marks retainOnDelete (beyond the Namespace and StatefulSets). */
function retained(r: Awaited<ReturnType<typeof offlineRender>>, kind: string, name: string): boolean {
  return r.resources.some((x) => x.options?.retainOnDelete && (x.inputs as { kind?: string }).kind === kind && (x.inputs as { metadata?: { name?: string } }).metadata?.name === name);
}
