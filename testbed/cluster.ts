/**
 * The testbed's Kubernetes cluster for the engine and node tests: etcd, kube-apiserver (client certificates,
 * Node and RBAC authorization), kube-controller-manager and kube-scheduler on free ports, from the engine
 * toolchain, with one node:
 *
 * - `kwok` (default): a simulated node (stages in toolchain/kwok/stages.yaml), everything on 127.0.0.1. Pods
 *   start and become Ready at once, a Job's pods succeed, claims of the default StorageClass `kwok-volume` get a
 *   PersistentVolume. No container runs: it tests what the API server, the controllers and the Pulumi provider
 *   do with the objects.
 * - `real`: a real node (testbed/node.ts: containerd, kubelet, kube-proxy, CNI, CoreDNS) on the machine's own
 *   address; containers run from imported images, and the host is put back afterwards.
 *
 * One per test process (sharedCluster); everything it started is stopped by PID after the suite, also on failure.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { registerCleanup, spawnManaged, tail, type ManagedProcess } from "./process";
import { KubeClient, pollUntil, type KubeObject } from "./kube";
import { guardHost, machineAddress, requireNodeHost, SERVICE_CIDR, startRealNode, type RealNode } from "./node";
import { makePki, writeKubeconfig, type Identity, type Pki } from "./pki";
import { REPO_ROOT, toolchain, type CrdSet, type Toolchain } from "./toolchain";

export const NODE_NAME = "kwok-node-0";
export const STORAGE_CLASS = "kwok-volume";
const STAGES = path.join(REPO_ROOT, "toolchain", "kwok", "stages.yaml");

export interface Cluster {
  /** Admin kubeconfig (system:masters) for the Pulumi provider. */
  readonly kubeconfig: string;
  readonly server: string;
  /** Where the API server listens. */
  readonly api: { readonly host: string; readonly port: number };
  /** The cluster's CA (the API server's and every client's certificate). */
  readonly pki: Pki;
  /** The cluster's working directory (removed at stop). */
  readonly dir: string;
  /**
   * A kubeconfig for a new client identity (CN = user, O = group), e.g. a controller bound by RBAC only to
   * its own ClusterRole. `server` defaults to the API server's address; `tlsServerName` checks its certificate
   * against that name instead (a relay's address is not in it).
   */
  kubeconfigFor(id: Identity, opts?: { server?: string; tlsServerName?: string }): Promise<string>;
  readonly kube: KubeClient;
  readonly toolchain: Toolchain;
  /** Installs a CRD set of the toolchain (idempotent) and waits until its CRDs are established. */
  installCrds(set: CrdSet): Promise<string[]>;
  /** Removes a CRD set (for the "cluster without KServe" case) and waits until its CRDs are gone. */
  removeCrds(set: CrdSet): Promise<void>;
  /** The last lines of every component's output, for a failing test's message. */
  logs(lines?: number): string;
  /** The real node (node: "real"); undefined with kwok's simulated node. */
  readonly node?: RealNode;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * `kwok` (default): one simulated node on 127.0.0.1, nothing runs. `real`: a real node (testbed/node.ts) on the
   * machine's own address, which the API server then binds and advertises; needs root and the node's Debian
   * packages, and changes the host until stop() puts it back.
   */
  readonly node?: "kwok" | "real";
}

let shared: { node: string; cluster: Promise<Cluster> } | undefined;

/** The cluster of this test process, started on first use (one kind of node per process). */
export function sharedCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const node = opts.node ?? "kwok";
  if (shared && shared.node !== node) throw new Error(`this test process already has a cluster with a ${shared.node} node; a ${node} node needs its own process (its own mocha run)`);
  if (!shared) {
    const entry = { node, cluster: startCluster(opts) };
    entry.cluster.catch(() => { if (shared === entry) shared = undefined; });
    shared = entry;
  }
  return shared.cluster;
}

const IDENTITIES: readonly Identity[] = [
  { name: "admin", cn: "engine-test-admin", org: "system:masters" },
  { name: "controller-manager", cn: "system:kube-controller-manager" },
  { name: "scheduler", cn: "system:kube-scheduler" },
  // kwok writes node and pod status and creates volumes: it acts as a kubelet plus a provisioner.
  { name: "kwok", cn: "kwok", org: "system:masters" },
];

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const t0 = Date.now();
  const real = opts.node === "real";
  if (real) requireNodeHost();
  const tc = await toolchain();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-engine-cluster-"));
  // With a real node the API server binds the machine's own address (pods reach it through the kubernetes
  // Service, whose endpoint it advertises); kwok's cluster stays on the loopback.
  const bind = real ? machineAddress() : "127.0.0.1";
  const hostGuard = real ? guardHost(path.join(dir, "node")) : undefined;
  const procs: { name: string; proc: ManagedProcess }[] = [];
  let node: RealNode | undefined;
  const logs = (lines = 30) => [...procs.map(({ name, proc }) => `--- ${name}\n${tail(proc.output(), lines)}`), ...(node ? [node.logs(lines)] : [])].join("\n");
  let kube: KubeClient | undefined;
  const stop = async () => {
    kube?.close();
    let nodeError: unknown;
    await node?.stop().catch((e: unknown) => { nodeError = e; });
    for (const { proc } of [...procs].reverse()) await proc.stop(15_000);
    const left = hostGuard?.restore() ?? [];
    hostGuard?.release();
    fs.rmSync(dir, { recursive: true, force: true });
    if (nodeError) throw nodeError;
    if (left.length > 0) throw new Error(`the host was not put back as it was:\n${left.join("\n")}`);
  };
  const unregister = registerCleanup(stop, () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    const pki = await makePki(dir);
    const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const server = `https://${bind}:${apiPort}`;
    // 10.96.0.1: the kubernetes Service's ClusterIP (pods of a real node reach the API server there).
    const apiserverCert = await pki.server("apiserver", [...new Set(["127.0.0.1", bind, "10.96.0.1"])], ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]);
    const kubeletClient = await pki.client({ name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", org: "system:masters" });
    const kubeconfigFor = async (id: Identity, opts: { server?: string; tlsServerName?: string } = {}) =>
      writeKubeconfig(path.join(dir, `${id.name}.kubeconfig`), { server: opts.server ?? server, ca: pki.caCert, client: await pki.client(id), user: id.name, tlsServerName: opts.tlsServerName });
    const kubeconfigs: Record<string, string> = {};
    for (const id of IDENTITIES) kubeconfigs[id.name] = await kubeconfigFor(id);
    const admin = { cert: path.join(pki.dir, "admin.crt"), key: path.join(pki.dir, "admin.key") };

    const start = (name: string, args: string[]) => {
      const proc = spawnManaged(tc.bin(name), args, { cwd: dir });
      procs.push({ name, proc });
      return proc;
    };
    const etcd = start("etcd", [
      "--name=default", `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`, "--unsafe-no-fsync", "--log-level=warn",
    ]);
    await waitHttp(etcd, "etcd", `http://127.0.0.1:${etcdClient}/health`, 30_000);

    const apiserver = start("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${bind}`, `--advertise-address=${bind}`, `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${apiserverCert.cert}`, `--tls-private-key-file=${apiserverCert.key}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      // Node: a real node's kubelet is authorized as system:node:<name> (it reads only its own pods' secrets).
      "--authorization-mode=Node,RBAC", `--service-cluster-ip-range=${SERVICE_CIDR}`, "--allow-privileged=true",
      // logs, exec and port-forward through a real node's kubelet
      `--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`,
      // The node's name resolves nowhere: reach its kubelet at the address it reports.
      "--kubelet-preferred-address-types=InternalIP",
      // The endpoint reconciler refuses a loopback address for the `kubernetes` Service: on kwok's loopback
      // cluster nothing needs it; a real node's pods do.
      ...(real ? [] : ["--endpoint-reconciler-type=none"]),
      "--enable-priority-and-fairness=false", "--profiling=false", "--v=0",
    ]);
    kube = new KubeClient({ server, ca: pki.caCert, cert: admin.cert, key: admin.key });
    const api = kube;
    await waitUntil(apiserver, "kube-apiserver /readyz", 90_000, async () => {
      const r = await api.request("GET", "/readyz");
      return r.status === 200 ? true : undefined;
    });

    start("kube-controller-manager", [
      `--kubeconfig=${kubeconfigs["controller-manager"]}`, `--authentication-kubeconfig=${kubeconfigs["controller-manager"]}`,
      `--authorization-kubeconfig=${kubeconfigs["controller-manager"]}`,
      "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=true",
      `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCert}`,
      // Nothing routes pod traffic here: no node IPAM, no cloud routes, no bootstrap signer.
      "--controllers=*,-nodeipam,-bootstrapsigner,-tokencleaner,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
      "--concurrent-deployment-syncs=10", "--concurrent-statefulset-syncs=10", "--concurrent-job-syncs=10",
    ]);
    start("kube-scheduler", [
      `--kubeconfig=${kubeconfigs.scheduler}`, `--authentication-kubeconfig=${kubeconfigs.scheduler}`,
      `--authorization-kubeconfig=${kubeconfigs.scheduler}`, "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
    ]);
    if (real) node = await startRealNode({ server, pki, kube: api, toolchain: tc, dir }, bind, hostGuard!);
    else await startKwokNode(start, kubeconfigs.kwok, api, apiserver);
    // The service-account controller runs: namespaces get their default ServiceAccount.
    await waitUntil(apiserver, "the default ServiceAccount", 60_000, async () => ((await api.get("v1", "ServiceAccount", "default", "default")) ? true : undefined));
    process.stderr.write(`[engine] cluster ready at ${server} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    const crdFiles = (set: CrdSet) => fs.readdirSync(tc.crds[set]).filter((f) => f.endsWith(".yaml")).sort().map((f) => path.join(tc.crds[set], f));
    return {
      kubeconfig: kubeconfigs.admin, server, api: { host: bind, port: apiPort }, pki, dir, kubeconfigFor, kube: api, toolchain: tc, logs, node,

      async installCrds(set) {
        const names: string[] = [];
        for (const f of crdFiles(set)) {
          for (const d of await api.applyFile(f)) if (d.kind === "CustomResourceDefinition") names.push(d.metadata.name);
        }
        for (const n of names) {
          const crd = await api.waitFor(`CRD ${n} established`, 60_000, async () => {
            const o = await api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", undefined, n);
            const cs = ((o?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? [];
            return cs.some((c) => c.type === "Established" && c.status === "True") ? o : undefined;
          });
          // Established is not served: for a moment a list gets 429 "storage is (re)initializing" (the
          // watch cache is still filling). A CRD deleted in that moment waits on its cleanup finalizer,
          // whose retries back off exponentially (seen: over 60 s). Wait until every version lists.
          const spec = crd.spec as CrdSpec;
          for (const v of spec.versions.filter((x) => x.served)) {
            await api.waitFor(`${spec.names.plural}.${spec.group}/${v.name} served`, 60_000, async () => ((await api.request("GET", `/apis/${spec.group}/${v.name}/${spec.names.plural}`)).status === 200 ? true : undefined));
          }
        }
        api.forgetDiscovery();
        return names;
      },
      async removeCrds(set) {
        const names = new Set(crdFiles(set).map((f) => path.basename(f, ".yaml").replace(/^([^_]+)_(.+)$/, "$2.$1")));
        const crds = (await api.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")).filter((c) => names.has(c.metadata.name));
        for (const c of crds) await api.request("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
        for (const c of crds) {
          let terminating = "";
          await api.waitFor(`CRD ${c.metadata.name} gone`, 120_000, async () => {
            const o = await api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", undefined, c.metadata.name);
            const cond = ((o?.status as { conditions?: { type: string; reason?: string; message?: string }[] } | undefined)?.conditions ?? []).find((x) => x.type === "Terminating");
            terminating = cond ? `${cond.reason ?? ""}: ${cond.message ?? ""}` : "";
            return o ? undefined : true;
          }).catch((err: unknown) => { throw new Error(`${err instanceof Error ? err.message : String(err)}; its Terminating condition: ${terminating || "none"}\n${logs(20)}`); });
        }
        // Discovery lags the CRD's deletion (seen: /apis/gateway.networking.k8s.io/v1 still listed
        // httproutes after the CRD was gone): wait until no version of the group serves the kind.
        for (const c of crds) {
          const spec = c.spec as CrdSpec;
          for (const v of spec.versions) {
            await api.waitFor(`${spec.names.plural}.${spec.group}/${v.name} out of discovery`, 60_000, async () => {
              const r = await api.request("GET", `/apis/${spec.group}/${v.name}`);
              if (r.status === 404) return true;
              const served = (r.json<{ resources?: { name: string }[] }>().resources ?? []).some((x) => x.name === spec.names.plural);
              return served ? undefined : true;
            });
          }
        }
        api.forgetDiscovery();
      },
      async stop() { unregister(); await stop(); },
    };
  } catch (err) {
    const message = `${err instanceof Error ? err.message : String(err)}\n${logs(40)}`;
    unregister();
    await stop();
    throw new Error(`the engine test cluster did not start: ${message}`);
  }
}

/** kwok with one simulated node (no taint: the platform's pods carry no kwok toleration) and its default StorageClass. */
async function startKwokNode(start: (name: string, args: string[]) => ManagedProcess, kubeconfig: string, api: KubeClient, apiserver: ManagedProcess): Promise<void> {
  start("kwok", [
    `--kubeconfig=${kubeconfig}`, `--config=${STAGES}`,
    `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake`, "--cidr=10.244.0.0/16", "--node-ip=10.0.0.1",
  ]);
  await api.apply({
    apiVersion: "v1", kind: "Node",
    metadata: { name: NODE_NAME, annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" }, labels: { "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" } },
    status: { allocatable: { cpu: "64", memory: "256Gi", pods: "250" }, capacity: { cpu: "64", memory: "256Gi", pods: "250" } },
  }).then(checkApplied);
  await api.apply({
    apiVersion: "storage.k8s.io/v1", kind: "StorageClass",
    metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    provisioner: "kwok.x-k8s.io/volume", reclaimPolicy: "Retain", volumeBindingMode: "Immediate",
  } as KubeObject).then(checkApplied);
  await waitUntil(apiserver, `node ${NODE_NAME} Ready`, 60_000, async () => {
    const node = await api.get("v1", "Node", undefined, NODE_NAME);
    const conditions = ((node?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? [];
    return conditions.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
  });
}

/** The fields of a CRD's spec the harness and its test read. */
export interface CrdSpec { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] }

function checkApplied(r: { status: number; body: string }): void {
  if (r.status < 200 || r.status > 299) throw new Error(`apply: HTTP ${r.status}: ${r.body.slice(0, 400)}`);
}

async function waitHttp(proc: ManagedProcess, label: string, url: string, timeoutMs: number): Promise<void> {
  await waitUntil(proc, label, timeoutMs, async () => ((await fetch(url, { signal: AbortSignal.timeout(3000) })).ok ? true : undefined));
}

/** Polls `check` until it returns a value; fails early when `proc` exits, naming it. */
function waitUntil<T>(proc: ManagedProcess, label: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  let exited: string | undefined;
  void proc.exited.then(({ code, signal }) => { exited = `the process exited with ${code ?? signal}`; });
  return pollUntil(label, timeoutMs, check, () => exited);
}
