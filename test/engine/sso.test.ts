/**
 * Single sign-on (access.auth oidc) on the real engine and a real API server: moving a running stack from
 * MLflow's basic-auth app to the oauth2-proxy sidecar, what the engine plans for it (and that the offline
 * `npm run diff` says the same), what the API server stores (the sidecar, the port the Service and the
 * NetworkPolicy lead to, a Secret whose htpasswd line verifies the machine password the Jobs are given),
 * that a second `up` changes nothing (the bcrypt line and the pods' config checksum are stable across
 * runs, where a random salt would roll the pods on every `up`), that the state holds no credential in
 * plaintext, and the way back. The sign-in itself is tested with the real binaries in
 * test/integration/sso.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as bcrypt from "bcryptjs";
import { MACHINE_USERNAME, SSO_PORT } from "../../manifests/sso";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import type { KubeObject } from "../../testbed/kube";
import { credentialSecretNames, destructiveSteps, offlineAddedRemoved, offlineDiff, offlineRender, secretsInState, stepKeys } from "./support/platform";
import { engineStack, localSecrets, secretConfig, type ConfigValue, type EngineStack } from "../../testbed/stack";

const NS = "mlflow-sso";
const token = (n: number) => randomBytes(n).toString("hex");

type Container = { name: string; args?: string[]; ports?: { name: string; containerPort: number }[] };
type PodTemplate = { spec: { template: { metadata: { annotations?: Record<string, string> }; spec: { containers: Container[] } } } };

describe("engine: single sign-on on a real API server (basic auth → oidc and back)", function () {
  this.timeout(20 * 60_000);
  let cluster: Cluster;
  let stack: EngineStack;
  const secrets = localSecrets();
  const sso = { clientSecret: `client-${token(16)}`, cookieSecret: token(16), machinePassword: `machine-${token(16)}` };
  // The Gateway API, not an Ingress: the provider awaits an Ingress until a controller publishes its
  // address, and this cluster has no controller. The sign-in objects are the same for both modes.
  const exposed: Record<string, ConfigValue> = {
    namespace: NS,
    "access.mode": "gateway",
    "access.gateway.host": "mlflow.example.test",
    "access.gateway.name": "public",
    "access.gateway.namespace": "gateways",
  };
  const basic: Record<string, ConfigValue> = { ...secretConfig(secrets, { basicAuth: true }), ...exposed, "access.auth": "basic" };
  const oidc: Record<string, ConfigValue> = {
    ...secretConfig(secrets),
    ...exposed,
    "access.auth": "oidc",
    "access.oidc.issuerUrl": "https://login.example.test/realms/ml",
    "access.oidc.clientId": "mlflow",
    "access.oidc.clientSecret": { secret: sso.clientSecret },
    "access.oidc.cookieSecret": { secret: sso.cookieSecret },
    "access.oidc.machinePassword": { secret: sso.machinePassword },
    "access.oidc.allowedEmailDomains[0]": "example.test",
  };
  // Config refuses the keys of the auth mode not in use: a switch removes them.
  const basicOnly = ["access.adminPassword", "access.flaskSecretKey"];
  const oidcOnly = ["access.oidc"];
  const deployment = async () => (await cluster.kube.get("apps/v1", "Deployment", NS, "mlflow")) as (KubeObject & PodTemplate) | undefined;

  before(async function () {
    this.timeout(80 * 60_000); // a cold toolchain build
    cluster = await sharedCluster();
    await cluster.removeCrds("kserve");
    await cluster.installCrds("gateway-api");
    stack = await engineStack(cluster, { base: "local" });
    await stack.configure(basic);
    await stack.up();
  });

  after(async function () {
    this.timeout(5 * 60_000);
    await stack?.destroy();
    await stack?.remove();
    await cluster?.removeCrds("gateway-api");
  });

  it("basic → oidc: the plan adds the sign-in Secret and ConfigMap and drops the basic-auth Secret and Job, replaces nothing, and npm run diff agrees", async () => {
    const run = await stack.withConfig(oidc, () => stack.preview(), basicOnly);
    const [from, to] = await Promise.all([offlineRender("local", basic), offlineRender("local", oidc)]);
    assert.deepEqual(destructiveSteps(run.steps, credentialSecretNames(from)).filter((s) => s.object?.name !== "mlflow-auth").map((s) => `${s.op} ${s.object?.kind} ${s.object?.name}`), []);
    const offline = offlineAddedRemoved(offlineDiff(from, to));
    assert.deepEqual(stepKeys(run.steps, ["create"]), offline.added, "added: engine vs offline diff");
    assert.deepEqual(stepKeys(run.steps, ["delete"]), offline.removed, "removed: engine vs offline diff");
    assert.deepEqual(stepKeys(run.steps, ["replace"]), [], "nothing is replaced");
    assert.deepEqual(offline.added, ["kubernetes:core/v1:ConfigMap::access-sso", "kubernetes:core/v1:Secret::access-sso"]);
    assert.deepEqual(offline.removed, ["kubernetes:batch/v1:Job::access-auth-db", "kubernetes:core/v1:Secret::access-auth"]);
    const updated = stepKeys(run.steps, ["update"]);
    for (const k of ["kubernetes:apps/v1:Deployment::tracking-server", "kubernetes:networking.k8s.io/v1:NetworkPolicy::access-tracking", "kubernetes:core/v1:Secret::access-tracking-credentials"])
      assert.ok(updated.includes(k), `${k} is updated in place (got ${updated.join(", ")})`);
    const untouched = updated.filter((k) => /:(HTTPRoute|Service|StatefulSet)::/.test(k));
    assert.deepEqual(untouched, [], "the route, the Services and the StatefulSets are left alone");
  });

  it("`pulumi up` with oidc: MLflow on loopback behind the sidecar, the Service and the NetworkPolicy lead to the proxy, the Secret's htpasswd verifies the Jobs' machine password", async () => {
    await stack.unconfigure(basicOnly);
    await stack.configure(oidc);
    await stack.up();
    const d = await deployment();
    assert.ok(d, "the Deployment is there");
    const [mlflow, proxy] = d.spec.template.spec.containers;
    assert.deepEqual([mlflow.name, proxy.name], ["mlflow", "oauth2-proxy"]);
    assert.equal(mlflow.args?.[mlflow.args.indexOf("--host") + 1], "127.0.0.1");
    assert.equal(mlflow.ports, undefined, "MLflow's port is not the pod's");
    assert.deepEqual(proxy.ports?.map((p) => [p.name, p.containerPort]), [["http", SSO_PORT]]);
    assert.equal((d.status as { availableReplicas?: number }).availableReplicas, 1, "the rollout finished (kwok runs the pod)");

    const svc = (await cluster.kube.get("v1", "Service", NS, "mlflow")) as KubeObject & { spec: { ports: { port: number; targetPort: string }[] } };
    assert.deepEqual(svc.spec.ports.map((p) => [p.port, p.targetPort]), [[5000, "http"]], "the contract URL :5000 → the proxy's named port");
    const fence = (await cluster.kube.get("networking.k8s.io/v1", "NetworkPolicy", NS, "mlflow-ingress")) as KubeObject & { spec: { ingress: { ports: { port: number }[] }[] } };
    assert.deepEqual([...new Set(fence.spec.ingress.flatMap((r) => r.ports.map((p) => p.port)))], [SSO_PORT], "only the proxy's port is admitted");

    const data = async (name: string) => {
      const s = (await cluster.kube.get("v1", "Secret", NS, name)) as (KubeObject & { data: Record<string, string> }) | undefined;
      assert.ok(s, `Secret ${name}`);
      return Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    };
    const ssoSecret = await data("mlflow-sso");
    assert.deepEqual(Object.keys(ssoSecret).sort(), ["client-secret", "cookie-secret", "htpasswd"]);
    assert.equal(ssoSecret["client-secret"], sso.clientSecret);
    const creds = await data("mlflow-tracking-credentials");
    assert.deepEqual([creds.username, creds.password], [MACHINE_USERNAME, sso.machinePassword], "the Jobs' credentials are the machine user's");
    const [user, hash] = ssoSecret.htpasswd.trim().split(":");
    assert.equal(user, MACHINE_USERNAME);
    assert.ok(bcrypt.compareSync(creds.password, hash), "oauth2-proxy's htpasswd line verifies the password the Jobs send");
    assert.equal(await cluster.kube.get("v1", "Secret", NS, "mlflow-auth"), undefined, "the basic-auth Secret is gone");
  });

  it("a second `pulumi up` changes nothing: the htpasswd line and the pods' config checksum are stable", async () => {
    const before = (await deployment())?.spec.template.metadata.annotations?.["mlflow-platform/auth-config"];
    const run = await stack.up();
    assert.deepEqual(run.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.type} ${s.name} ${JSON.stringify(s.detailedDiff)}`), []);
    assert.equal((await deployment())?.spec.template.metadata.annotations?.["mlflow-platform/auth-config"], before);
  });

  it("the state holds no sign-in credential in plaintext (nor base64-encoded)", () => {
    assert.ok(stack.stateText().includes("oauth2-proxy"), "the state holds the sidecar");
    assert.deepEqual(secretsInState(stack.stateText(), sso), []);
  });

  it("oidc → basic: the way back removes only the sign-in objects and brings MLflow's auth app back", async () => {
    const run = await stack.withConfig(basic, () => stack.preview(), oidcOnly);
    assert.deepEqual(stepKeys(run.steps, ["delete"]), ["kubernetes:core/v1:ConfigMap::access-sso", "kubernetes:core/v1:Secret::access-sso"]);
    assert.deepEqual(stepKeys(run.steps, ["create"]), ["kubernetes:batch/v1:Job::access-auth-db", "kubernetes:core/v1:Secret::access-auth"]);
    assert.deepEqual(stepKeys(run.steps, ["replace"]), []);
  });
});
