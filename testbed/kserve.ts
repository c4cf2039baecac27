/**
 * KServe's real controller (v0.20.0, toolchain/binaries.tsv `kserve-manager`) for a testbed cluster, run out of
 * cluster as KServe's own manifests describe it (toolchain/files.tsv `kserve-config`):
 *
 * - the complete CRD set (ClusterStorageContainer included: without it every reconcile of a storageUri fails);
 * - the `inferenceservice-config` ConfigMap in namespace `kserve` exactly as KServe ships it (default mode
 *   Serverless, Istio-class ingress), with only testbed/kserve-config.json's overrides: the platform's
 *   InferenceServices must not depend on how KServe was installed;
 * - KServe's own `default` ClusterStorageContainer (it matches s3:// too, as in a real install);
 * - the controller's ClusterRole (config/rbac/role.yaml) bound to its own client identity: the controller runs
 *   with KServe's RBAC, not as an admin;
 * - its webhooks (config/webhook/manifests.yaml) registered by URL, with a certificate of the cluster's CA.
 *
 * The controller listens for webhooks on every address (no host flag), so it runs in a private network
 * namespace (testbed/netns.ts) and reaches the API server through a relay on the namespace's host end.
 * `stop()` removes the webhook registrations first (their failurePolicy is Fail: left behind, they would block
 * every InferenceService and predictor pod), then the process (by PID) and the namespace.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as YAML from "yaml";
import type { Cluster } from "./cluster";
import type { KubeObject } from "./kube";
import { createNetworkNamespace, type NetworkNamespace } from "./netns";
import { spawnManaged, tail, type ManagedProcess } from "./process";
import { REPO_ROOT } from "./toolchain";

/** The namespace KServe's controller reads its ConfigMap from (POD_NAMESPACE). */
export const KSERVE_NAMESPACE = "kserve";
const CONTROLLER_USER = "kserve-controller";
const WEBHOOK_PORT = 9443;
const OVERRIDES = path.join(REPO_ROOT, "testbed", "kserve-config.json");

export interface KServe {
  /** The webhook configurations registered (Mutating/Validating, by name). */
  readonly webhooks: readonly { kind: string; name: string }[];
  /** The controller's output so far. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

/** Starts KServe's controller and webhooks on `cluster` (installs the KServe CRD set first). */
export async function startKServe(cluster: Cluster): Promise<KServe> {
  const tc = cluster.toolchain;
  const kube = cluster.kube;
  const configDir = tc.kserveConfig;
  const yamlDocs = (file: string) =>
    YAML.parseAllDocuments(fs.readFileSync(path.join(configDir, file), "utf8")).map((d) => d.toJS() as KubeObject | null).filter((d): d is KubeObject => d !== null);
  const applied = async (o: KubeObject) => {
    const r = await kube.apply(o);
    if (r.status < 200 || r.status > 299) throw new Error(`apply ${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.body.slice(0, 400)}`);
  };

  await cluster.installCrds("kserve");
  await applied({ apiVersion: "v1", kind: "Namespace", metadata: { name: KSERVE_NAMESPACE } });
  for (const cm of yamlDocs("inferenceservice.yaml")) await applied(withOverrides(cm, JSON.parse(fs.readFileSync(OVERRIDES, "utf8")) as Overrides));
  for (const csc of yamlDocs("default.yaml")) await applied(csc);
  for (const role of yamlDocs("role.yaml")) await applied(role);
  const roleName = yamlDocs("role.yaml").find((d) => d.kind === "ClusterRole")?.metadata.name;
  if (!roleName) throw new Error(`no ClusterRole in ${configDir}/role.yaml`);
  await applied({
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: CONTROLLER_USER },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: CONTROLLER_USER }],
  } as KubeObject);

  let netns: NetworkNamespace | undefined;
  let proc: ManagedProcess | undefined;
  let webhooks: { kind: string; name: string }[] = [];
  const dir = fs.mkdtempSync(path.join(cluster.dir, "kserve-"));
  const removeWebhooks = async () => {
    for (const w of webhooks) await kube.request("DELETE", `/apis/admissionregistration.k8s.io/v1/${w.kind.toLowerCase()}s/${w.name}`);
    webhooks = [];
  };
  const stop = async () => {
    await removeWebhooks();
    await proc?.stop(10_000);
    await netns?.destroy();
  };
  try {
    netns = await createNetworkNamespace();
    const relayPort = await netns.relay(cluster.api);
    const kubeconfig = await cluster.kubeconfigFor({ name: CONTROLLER_USER, cn: CONTROLLER_USER }, { server: `https://${netns.hostIp}:${relayPort}`, tlsServerName: "kubernetes" });
    // The webhook server reads $TMPDIR/k8s-webhook-server/serving-certs/tls.{crt,key} (there is no cert-dir flag).
    const certDir = path.join(dir, "k8s-webhook-server", "serving-certs");
    fs.mkdirSync(certDir, { recursive: true });
    const serving = await cluster.pki.server("kserve-webhook", [netns.nsIp]);
    fs.copyFileSync(serving.cert, path.join(certDir, "tls.crt"));
    fs.copyFileSync(serving.key, path.join(certDir, "tls.key"));
    proc = spawnManaged(netns.exec[0], [
      ...netns.exec.slice(1), tc.bin("kserve-manager"),
      `--kubeconfig=${kubeconfig}`, "--metrics-addr=0", "--health-probe-addr=0", `--webhook-port=${WEBHOOK_PORT}`, "--leader-elect=false",
    ], { env: { ...process.env, POD_NAMESPACE: KSERVE_NAMESPACE, TMPDIR: dir, KUBECONFIG: kubeconfig }, cwd: dir });
    const started = proc;
    await kube.waitFor(`KServe's webhook server on ${netns.nsIp}:${WEBHOOK_PORT}`, 120_000, async () => {
      const exited = started.child.exitCode !== null || started.child.signalCode !== null;
      if (exited) throw new Error(`kserve-manager exited:\n${tail(compactLog(started.output()), 30)}`);
      return (await canConnect(netns!.nsIp, WEBHOOK_PORT)) ? true : undefined;
    }).catch((err: unknown) => { throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail(compactLog(started.output()), 30)}`); });

    const caBundle = fs.readFileSync(cluster.pki.caCert).toString("base64");
    for (const doc of yamlDocs("manifests.yaml")) {
      const hooks = (doc.webhooks as { clientConfig: { service?: { path?: string }; url?: string; caBundle?: string } }[]).map((h) => {
        const p = h.clientConfig.service?.path ?? "/";
        return { ...h, clientConfig: { url: `https://${netns!.nsIp}:${WEBHOOK_PORT}${p}`, caBundle } };
      });
      const reg = { ...doc, metadata: { name: doc.metadata.name }, webhooks: hooks } as KubeObject;
      await applied(reg);
      webhooks.push({ kind: doc.kind, name: doc.metadata.name });
    }
    kube.forgetDiscovery();
    process.stderr.write(`[testbed] KServe's controller and ${webhooks.length} webhook configurations up (webhooks at https://${netns.nsIp}:${WEBHOOK_PORT})\n`);
    const running = proc;
    return {
      get webhooks() { return [...webhooks]; },
      logs: (lines = 40) => tail(compactLog(running.output()), lines),
      stop,
    };
  } catch (err) {
    const out = proc ? `\n--- kserve-manager\n${tail(compactLog(proc.output()), 40)}` : "";
    await stop().catch(() => undefined);
    throw new Error(`KServe's controller did not start: ${err instanceof Error ? err.message : String(err)}${out}`);
  }
}

/** Per ConfigMap key, fields merged over KServe's JSON value (testbed/kserve-config.json; "_why" keys are notes). */
type Overrides = Record<string, Record<string, unknown>>;

function withOverrides(cm: KubeObject, overrides: Overrides): KubeObject {
  const data = { ...(cm.data as Record<string, string>) };
  for (const [key, fields] of Object.entries(overrides)) {
    if (key.startsWith("_")) continue;
    const current = JSON.parse(data[key] ?? "{}") as Record<string, unknown>;
    const merged = { ...current, ...Object.fromEntries(Object.entries(fields).filter(([k]) => !k.startsWith("_"))) };
    data[key] = JSON.stringify(merged, null, 2);
  }
  return { ...cm, metadata: { name: cm.metadata.name, namespace: KSERVE_NAMESPACE }, data };
}

/** The controller's JSON log lines as `time level logger: msg (error's first line)`; stack traces dropped. */
export function compactLog(text: string): string {
  return text.split("\n").map((line) => {
    if (!line.startsWith("{")) return line;
    try {
      const j = JSON.parse(line) as { ts?: string; level?: string; logger?: string; msg?: string; error?: string; name?: string; namespace?: string };
      const where = j.namespace && j.name ? ` ${j.namespace}/${j.name}` : "";
      return `${j.ts ?? ""} ${j.level ?? ""} ${j.logger ?? ""}:${where} ${j.msg ?? ""}${j.error ? ` (${j.error.split("\n")[0]})` : ""}`;
    } catch {
      return line;
    }
  }).join("\n");
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 2000 });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => { s.destroy(); resolve(false); });
    s.once("timeout", () => { s.destroy(); resolve(false); });
  });
}
