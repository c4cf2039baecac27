/**
 * The operations parts on the real engine and a real API server with the Prometheus Operator's and the
 * Gateway API's published CRDs (toolchain/files.tsv): the ServiceMonitor, the HTTPRoute and the
 * HorizontalPodAutoscaler go up and are stored with every field the program sent (an API server prunes
 * what a structural schema does not know, silently, so a misplaced field would deploy as if absent); the
 * Deployment leaves its replica count to the autoscaler, so a count the autoscaler set survives `pulumi
 * up`; and without the CRDs, a stack asking for a ServiceMonitor or an HTTPRoute fails at preview naming
 * what to install, before anything is created.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { requireClusterApis } from "../../lib/cluster-apis";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import type { KubeObject } from "../../testbed/kube";
import { offlineRender } from "./support/platform";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";

const NS = "mlflow-ops";

/** Every value of `sent` is in `stored` at the same path (the API server may add defaults, not drop fields). */
function missingFields(sent: unknown, stored: unknown, at = ""): string[] {
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored) || stored.length !== sent.length) return [`${at}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(stored)}`];
    return sent.flatMap((v, i) => missingFields(v, stored[i], `${at}[${i}]`));
  }
  if (sent !== null && typeof sent === "object") {
    if (stored === null || typeof stored !== "object") return [`${at}: sent an object, stored ${JSON.stringify(stored)}`];
    return Object.entries(sent).flatMap(([k, v]) => missingFields(v, (stored as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return sent === stored ? [] : [`${at}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(stored)}`];
}

describe("engine: metrics, autoscaling and the Gateway API on a real API server", function () {
  this.timeout(20 * 60_000);
  let cluster: Cluster;
  let stack: EngineStack;
  const secrets = localSecrets();
  const config: Record<string, ConfigValue> = {
    ...secretConfig(secrets, { basicAuth: true }),
    namespace: NS,
    "access.mode": "gateway",
    "access.auth": "basic",
    "access.gateway.host": "mlflow.example.test",
    "access.gateway.name": "public",
    "access.gateway.namespace": "gateways",
    "observability.serviceMonitor": true,
    "trackingServer.autoscaling.enabled": true,
    "trackingServer.autoscaling.minReplicas": 1,
    "trackingServer.autoscaling.maxReplicas": 4,
  };
  const apiOf: Record<string, string> = { ServiceMonitor: "monitoring.coreos.com/v1", HTTPRoute: "gateway.networking.k8s.io/v1", HorizontalPodAutoscaler: "autoscaling/v2" };

  before(async function () {
    this.timeout(80 * 60_000); // a cold toolchain build
    cluster = await sharedCluster();
    await cluster.installCrds("prometheus-operator");
    await cluster.installCrds("gateway-api");
    stack = await engineStack(cluster, { base: "local" });
    await stack.configure(config);
  });

  after(async () => {
    // Later suites in this process expect a cluster without these CRDs.
    await cluster?.removeCrds("prometheus-operator");
    await cluster?.removeCrds("gateway-api");
  });

  it("`pulumi up` stores the ServiceMonitor, the HTTPRoute and the HPA with every field the program sent", async () => {
    await stack.up();
    const offline = await offlineRender("local", config);
    for (const kind of Object.keys(apiOf)) {
      const sent = offline.kubernetes.find((o) => o.kind === kind);
      assert.ok(sent, `the render has a ${kind}`);
      const stored = await cluster.kube.get(apiOf[kind], kind, NS, "mlflow");
      assert.ok(stored, `${kind} ${NS}/mlflow is in the API server`);
      assert.deepEqual(missingFields((sent as unknown as { spec: unknown }).spec, (stored as KubeObject & { spec: unknown }).spec, "spec"), [], `${kind}: fields the API server dropped or changed`);
    }
    // The Service the ServiceMonitor selects carries its labels and the port it names.
    const svc = (await cluster.kube.get("v1", "Service", NS, "mlflow")) as KubeObject & { spec: { ports: { name: string }[] } };
    const sm = (await cluster.kube.get("monitoring.coreos.com/v1", "ServiceMonitor", NS, "mlflow")) as KubeObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels?.[k], v, `Service label ${k}`);
    assert.ok(svc.spec.ports.some((p) => p.name === sm.spec.endpoints[0].port));
  });

  it("the Deployment leaves replicas to the autoscaler: a count it set survives `pulumi up`, with a change and without", async () => {
    const scale = `/apis/apps/v1/namespaces/${NS}/deployments/mlflow/scale`;
    // As the autoscaler does: the scale subresource, under its own field manager.
    const r = await cluster.kube.request("PATCH", `${scale}?fieldManager=horizontal-pod-autoscaler`, JSON.stringify({ spec: { replicas: 3 } }), "application/merge-patch+json");
    assert.equal(r.status, 200, r.body);
    const replicas = async () => ((await cluster.kube.get("apps/v1", "Deployment", NS, "mlflow")) as KubeObject & { spec: { replicas: number } }).spec.replicas;
    assert.equal(await replicas(), 3);
    const noChange = await stack.up();
    assert.deepEqual(noChange.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), [], "no diff: replicas are not the program's");
    assert.equal(await replicas(), 3, "a no-change up keeps the autoscaler's count");
    await stack.configure({ ...config, "trackingServer.workers": 3 });
    const changed = await stack.up();
    assert.ok(changed.steps.some((s) => s.op === "update" && s.type === "kubernetes:apps/v1:Deployment"), "the Deployment was updated");
    assert.equal(await replicas(), 3, "an up that changes the Deployment keeps the autoscaler's count");
    await stack.configure(config);
  });

  it("switching the autoscaler on for a running Deployment keeps its pods: the count does not fall to the default of 1", async () => {
    const replicas = async () => ((await cluster.kube.get("apps/v1", "Deployment", NS, "mlflow")) as KubeObject & { spec: { replicas: number } }).spec.replicas;
    await stack.configure({ ...config, "trackingServer.autoscaling.enabled": false, "trackingServer.replicas": 2 });
    await stack.up();
    assert.equal(await replicas(), 2, "without the autoscaler the program sets the count");
    await stack.configure({ ...config, "trackingServer.autoscaling.minReplicas": 2 });
    await stack.up();
    assert.equal(await replicas(), 2, "the first up with the autoscaler leaves the running count");
    await stack.configure(config);
  });

  it("without the CRDs, a stack asking for a ServiceMonitor and an HTTPRoute fails at preview naming both, before any change", async () => {
    await cluster.removeCrds("prometheus-operator");
    await cluster.removeCrds("gateway-api");
    try {
      const cfg = parseConfig(
        { namespace: NS, observability: { serviceMonitor: true }, access: { mode: "gateway", auth: "basic", gateway: { host: "mlflow.example.test", name: "public", namespace: "gateways" } } },
        "ops",
      );
      await assert.rejects(requireClusterApis(cfg, () => ({ kubeconfig: cluster.kubeconfig })), (err: Error) => {
        assert.match(err.message, /^The Prometheus Operator is not installed on the cluster https:\/\/127\.0\.0\.1:\d+ .*ServiceMonitor \(monitoring\.coreos\.com\/v1, for observability\.serviceMonitor\)/);
        assert.match(err.message, /The Gateway API is not installed on the cluster .*HTTPRoute \(gateway\.networking\.k8s\.io\/v1, for access\.mode\)/);
        return true;
      });
      const fresh = await engineStack(cluster, { base: "local" });
      await fresh.configure({ ...config, namespace: `${NS}-no-crds` });
      await assert.rejects(fresh.preview(), /The Prometheus Operator is not installed on the cluster/);
      assert.equal(await cluster.kube.get("v1", "Namespace", undefined, `${NS}-no-crds`), undefined, "nothing was created");
      await fresh.remove();
    } finally {
      await cluster.installCrds("prometheus-operator");
      await cluster.installCrds("gateway-api");
    }
  });
});
