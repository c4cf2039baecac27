/**
 * A Kubernetes cluster on 127.0.0.1 for the engine tests: etcd, kube-apiserver (client certificates,
 * RBAC), kube-controller-manager, kube-scheduler and kwok with one simulated node (stages in
 * toolchain/kwok/stages.yaml), on free ports, from the engine toolchain. One per test process
 * (sharedCluster); everything it started is stopped by PID after the suite, also on failure.
 *
 * What kwok's node does: pods start and become Ready at once, a Job's pods succeed, claims of the default
 * StorageClass `kwok-volume` get a PersistentVolume. No container runs: the cluster tests what the API
 * server, the controllers and the Pulumi provider do with the objects, not the images.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { registerCleanup, runChecked, spawnManaged, tail, type ManagedProcess } from "./process";
import { KubeClient, pollUntil, type KubeObject } from "./kube";
import { REPO_ROOT, toolchain, type CrdSet, type Toolchain } from "./toolchain";

export const NODE_NAME = "kwok-node-0";
export const STORAGE_CLASS = "kwok-volume";
const STAGES = path.join(REPO_ROOT, "toolchain", "kwok", "stages.yaml");

export interface Cluster {
  /** Admin kubeconfig (system:masters) for the Pulumi provider. */
  readonly kubeconfig: string;
  readonly server: string;
  readonly kube: KubeClient;
  readonly toolchain: Toolchain;
  /** Installs a CRD set of the toolchain (idempotent) and waits until its CRDs are established. */
  installCrds(set: CrdSet): Promise<string[]>;
  /** Removes a CRD set (for the "cluster without KServe" case) and waits until its CRDs are gone. */
  removeCrds(set: CrdSet): Promise<void>;
  /** The last lines of every component's output, for a failing test's message. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

let shared: Promise<Cluster> | undefined;

/** The cluster of this test process, started on first use. */
export function sharedCluster(): Promise<Cluster> {
  shared ??= startCluster().catch((err: unknown) => { shared = undefined; throw err; });
  return shared;
}

interface Identity { name: string; cn: string; org?: string }
const IDENTITIES: readonly Identity[] = [
  { name: "admin", cn: "engine-test-admin", org: "system:masters" },
  { name: "controller-manager", cn: "system:kube-controller-manager" },
  { name: "scheduler", cn: "system:kube-scheduler" },
  // kwok writes node and pod status and creates volumes: it acts as a kubelet plus a provisioner.
  { name: "kwok", cn: "kwok", org: "system:masters" },
];

export async function startCluster(): Promise<Cluster> {
  const t0 = Date.now();
  const tc = await toolchain();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-engine-cluster-"));
  const procs: { name: string; proc: ManagedProcess }[] = [];
  const logs = (lines = 30) => procs.map(({ name, proc }) => `--- ${name}\n${tail(proc.output(), lines)}`).join("\n");
  let kube: KubeClient | undefined;
  const stop = async () => {
    kube?.close();
    for (const { proc } of [...procs].reverse()) await proc.stop(15_000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerCleanup(stop, () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    const pki = await makePki(dir);
    const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigs = Object.fromEntries(IDENTITIES.map((id) => [id.name, writeKubeconfig(dir, id.name, server, pki)]));

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
      "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.apiserverCert}`, `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
      // The endpoint reconciler refuses a loopback address for the `kubernetes` Service: nothing needs it here.
      "--endpoint-reconciler-type=none",
      "--enable-priority-and-fairness=false", "--profiling=false", "--v=0",
    ]);
    kube = new KubeClient({ server, ca: pki.caCert, cert: pki.clients.admin.cert, key: pki.clients.admin.key });
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
    start("kwok", [
      `--kubeconfig=${kubeconfigs.kwok}`, `--config=${STAGES}`,
      `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake`, "--cidr=10.244.0.0/16", "--node-ip=10.0.0.1",
    ]);

    // The simulated node (no taint: the platform's pods carry no kwok toleration) and the default StorageClass.
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
    // The service-account controller runs: namespaces get their default ServiceAccount.
    await waitUntil(apiserver, "the default ServiceAccount", 60_000, async () => ((await api.get("v1", "ServiceAccount", "default", "default")) ? true : undefined));
    process.stderr.write(`[engine] cluster ready at ${server} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    const crdFiles = (set: CrdSet) => fs.readdirSync(tc.crds[set]).filter((f) => f.endsWith(".yaml")).sort().map((f) => path.join(tc.crds[set], f));
    return {
      kubeconfig: kubeconfigs.admin, server, kube: api, toolchain: tc, logs,
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

// ---- certificates ------------------------------------------------------------------------------

interface Pki {
  caCert: string; caKey: string; apiserverCert: string; apiserverKey: string; saKey: string; saPub: string;
  clients: Record<string, { cert: string; key: string }>;
}

/** A throw-away CA, the API server's serving certificate, one client certificate per identity, the SA key. */
async function makePki(dir: string): Promise<Pki> {
  const p = (f: string) => path.join(dir, "pki", f);
  fs.mkdirSync(path.join(dir, "pki"), { mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ssl = (args: string[]) => runChecked("openssl", args, { cwd: dir });
  await ssl(["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=mlflow-platform-engine-test-ca"]);
  const sign = async (name: string, subj: string, ext: string[]) => {
    await ssl(["req", "-new", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subj, ...ext.flatMap((e) => ["-addext", e])]);
    await ssl(["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-copy_extensions", "copyall", "-out", p(`${name}.crt`)]);
    return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
  };
  const apiserver = await sign("apiserver", "/CN=kube-apiserver", [
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
    "extendedKeyUsage=serverAuth",
  ]);
  const clients: Pki["clients"] = {};
  for (const id of IDENTITIES) clients[id.name] = await sign(id.name, `/CN=${id.cn}${id.org ? `/O=${id.org}` : ""}`, ["extendedKeyUsage=clientAuth"]);
  await ssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("sa.key")]);
  await ssl(["pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
  return { caCert: p("ca.crt"), caKey: p("ca.key"), apiserverCert: apiserver.cert, apiserverKey: apiserver.key, saKey: p("sa.key"), saPub: p("sa.pub"), clients };
}

function writeKubeconfig(dir: string, name: string, server: string, pki: Pki): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  const c = pki.clients[name];
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "engine-test",
    clusters: [{ name: "engine-test", cluster: { server, "certificate-authority": pki.caCert } }],
    users: [{ name, user: { "client-certificate": c.cert, "client-key": c.key } }],
    contexts: [{ name: "engine-test", context: { cluster: "engine-test", user: name } }],
  }, null, 2), { mode: 0o600 });
  return file;
}
