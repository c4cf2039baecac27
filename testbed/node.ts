/**
 * A real node for the testbed's cluster: containerd, runc and the CNI plugins from Debian, kubelet and
 * kube-proxy from the toolchain's Kubernetes wrapper, CoreDNS, kube-router (NetworkPolicies) and a pause
 * stand-in from the toolchain. Their
 * configuration is data (testbed/node/: containerd.toml, kubelet.yaml, kube-proxy.yaml, cni.conflist, Corefile,
 * rbac.yaml), filled in here with this run's paths, ports and addresses.
 *
 * - The node serves on the machine's own interface address (the API server advertises it too); nothing binds
 *   0.0.0.0. CoreDNS answers on that address, port 53, as the pods' nameserver.
 * - Images come from OCI archives (`importImages`): no registry is reachable. The pause image is made here from
 *   the toolchain's pause stand-in.
 * - Volumes: the default StorageClass `testbed-local` with a pool of `local` PersistentVolumes in the node's
 *   directory (the kubelet applies fsGroup to them, as on a real disk).
 * - The host is recorded before anything starts (testbed/host.ts) and put back on `stop()`, on a failed start,
 *   and from the process's exit handler; `stop()` throws when something could not be put back.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import type { KubeClient, KubeObject } from "./kube";
import { restoreHost, snapshotHost, type HostSnapshot } from "./host";
import type { Pki } from "./pki";
import { writeKubeconfig } from "./pki";
import { freePort } from "./ports";
import { registerCleanup, runChecked, spawnManaged, tail, type ManagedProcess } from "./process";
import { REPO_ROOT, type Toolchain } from "./toolchain";

export const REAL_NODE_NAME = "testbed-node";
export const LOCAL_STORAGE_CLASS = "testbed-local";
/** The cluster's pod network and this node's share of it. */
export const POD_CIDR = "10.244.0.0/16";
const POD_SUBNET = "10.244.0.0/24";
/** The API server's --service-cluster-ip-range. */
export const SERVICE_CIDR = "10.96.0.0/16";
const BRIDGE = "mlflowtb0";
/** The pause stand-in's reference (containerd's sandbox_image). */
export const PAUSE_IMAGE = "docker.io/mlflow-platform/pause:3.10";
const CONFIG = path.join(REPO_ROOT, "testbed", "node");
/** Local PersistentVolumes in the pool (each as large as any claim of the platform's stacks). */
const VOLUMES = 12;

/** What the real node needs from the host, and the Debian package that has it. */
const HOST_TOOLS: readonly { path: string; pkg: string }[] = [
  { path: "/usr/bin/containerd", pkg: "containerd" },
  { path: "/usr/bin/ctr", pkg: "containerd" },
  { path: "/usr/sbin/runc", pkg: "runc" },
  { path: "/usr/lib/cni/bridge", pkg: "containernetworking-plugins" },
  { path: "/usr/lib/cni/host-local", pkg: "containernetworking-plugins" },
  { path: "/usr/lib/cni/portmap", pkg: "containernetworking-plugins" },
  { path: "/usr/lib/cni/loopback", pkg: "containernetworking-plugins" },
  { path: "/usr/sbin/iptables", pkg: "iptables" },
  { path: "/usr/sbin/conntrack", pkg: "conntrack" },
  { path: "/usr/sbin/nft", pkg: "nftables" },
  { path: "/usr/sbin/ipset", pkg: "ipset" },
];

export interface RealNode {
  readonly name: string;
  /** The machine's own address: the node's, the API server's and CoreDNS's. */
  readonly ip: string;
  /** containerd's socket (for `ctr --address`). */
  readonly containerdSocket: string;
  /** Imports OCI archives into containerd's k8s.io namespace (as `ctr images import` does). */
  importImages(archives: readonly string[]): Promise<void>;
  /** A second name for an imported image (`ctr images tag --force`): a new reference to the same content. */
  tagImage(source: string, target: string): Promise<void>;
  /** The last lines of every node component's output. */
  logs(lines?: number): string;
  /** Stops every component and puts the host back; throws naming what could not be put back. */
  stop(): Promise<void>;
}

/** The control plane a node joins. */
export interface NodeControlPlane {
  readonly server: string;
  readonly pki: Pki;
  readonly kube: KubeClient;
  readonly toolchain: Toolchain;
  readonly dir: string;
}

/** The machine's own IPv4 address: the source address of its default route (else its first global address). */
export function machineAddress(): string {
  const route = execFileSync("ip", ["-4", "route", "show", "default"], { encoding: "utf8" });
  const dev = /\bdev (\S+)/.exec(route)?.[1];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (dev && name !== dev) continue;
    const v4 = (addrs ?? []).find((a) => a.family === "IPv4" && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error("the machine has no non-loopback IPv4 address for a real node (ip -4 route show default)");
}

/** Fails naming what is missing unless the host has containerd, runc, the CNI plugins, iptables and conntrack, and we are root. */
export function requireNodeHost(): void {
  if (process.getuid?.() !== 0) throw new Error("a real node needs root (containerd, the kubelet and the CNI plugins change the host's namespaces, cgroups and iptables)");
  const missing = HOST_TOOLS.filter((t) => !fs.existsSync(t.path));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => t.pkg))];
    throw new Error(`a real node needs ${missing.map((t) => t.path).join(", ")}: apt-get install ${pkgs.join(" ")} (.ci/run installs them)`);
  }
}

/** Records the host and arranges for it to be put back; call before the control plane binds the node's address. */
export function guardHost(nodeDir: string): { before: HostSnapshot; restore(): string[]; release(): void } {
  const before = snapshotHost();
  let restored: string[] | undefined;
  const restore = () => {
    restored ??= restoreHost(before, { ownDirs: [nodeDir], log: (l) => process.stderr.write(`[testbed] host: ${l}\n`) });
    return restored;
  };
  const release = registerCleanup(() => { restore(); }, () => { restore(); });
  return { before, restore, release };
}

/** Starts the node's components and waits until the Node is Ready. `host` is the guard taken before the control plane started. */
export async function startRealNode(cp: NodeControlPlane, ip: string, host: { restore(): string[]; release(): void }): Promise<RealNode> {
  const t0 = Date.now();
  const dir = path.join(cp.dir, "node");
  fs.mkdirSync(dir, { recursive: true });
  const p = (...parts: string[]) => path.join(dir, ...parts);
  const procs: { name: string; proc: ManagedProcess }[] = [];
  const logs = (lines = 30) => procs.map(({ name, proc }) => `--- ${name}\n${tail(proc.output(), lines)}`).join("\n");
  const start = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const proc = spawnManaged(cmd, args, { cwd: dir, env });
    procs.push({ name, proc });
    return proc;
  };
  let stopped = false;
  let root: { dir: string; release(): void } | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const { proc } of [...procs].reverse()) await proc.stop(10_000);
    root?.release();
    const left = host.restore();
    host.release();
    if (left.length > 0) throw new Error(`the host was not put back as it was:\n${left.join("\n")}`);
  };
  const socket = p("containerd", "containerd.sock");
  try {
    const tc = cp.toolchain;
    // Certificates and kubeconfigs of the node's clients; the kubelet's serving certificate.
    const kubeconfig = async (name: string, cn: string, org?: string) =>
      writeKubeconfig(p(`${name}.kubeconfig`), { server: cp.server, ca: cp.pki.caCert, client: await cp.pki.client({ name: `node-${name}`, cn, org }), user: name });
    const kubeletKubeconfig = await kubeconfig("kubelet", `system:node:${REAL_NODE_NAME}`, "system:nodes");
    const proxyKubeconfig = await kubeconfig("kube-proxy", "system:kube-proxy");
    const dnsKubeconfig = await kubeconfig("coredns", "testbed-coredns");
    const routerKubeconfig = await kubeconfig("kube-router", "testbed-kube-router");
    const serving = await cp.pki.server("kubelet-serving", [ip], [REAL_NODE_NAME]);
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(CONFIG, "rbac.yaml"), "utf8"))) {
      const o = doc.toJS() as KubeObject;
      const r = await cp.kube.apply(o);
      if (r.status < 200 || r.status > 299) throw new Error(`apply ${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    }

    // containerd, with the pause image made from the toolchain's stand-in.
    for (const d of ["containerd/state", "cni/net.d", "cni/ipam", "pod-logs", "volume-plugins", "kubelet"]) fs.mkdirSync(p(d), { recursive: true });
    // containerd's content and snapshots (the imported images) persist in the cache between runs, so a warm run
    // imports nothing; its state (containers, mounts, sockets) is this run's. One node at a time uses the cache.
    root = imageStore(dir);
    const fill = (file: string, values: Record<string, string | number>) =>
      fs.readFileSync(path.join(CONFIG, file), "utf8").replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
        if (values[k] === undefined) throw new Error(`testbed/node/${file}: no value for {{${k}}}`);
        return String(values[k]);
      });
    fs.writeFileSync(p("containerd.toml"), fill("containerd.toml", {
      ROOT: root!.dir, STATE: p("containerd", "state"), SOCKET: socket, PAUSE_IMAGE, RUNC: "/usr/sbin/runc",
      CNI_BIN: "/usr/lib/cni", CNI_CONF: p("cni", "net.d"),
    }));
    fs.writeFileSync(p("cni", "net.d", "10-mlflow-testbed.conflist"), fill("cni.conflist", { BRIDGE, POD_SUBNET, IPAM_DIR: p("cni", "ipam") }));
    const containerd = start("containerd", "/usr/bin/containerd", ["--config", p("containerd.toml")]);
    await waitFor(containerd, "containerd's socket", 30_000, async () => (fs.existsSync(socket) ? true : undefined));
    const ctr = (...args: string[]) => runChecked("/usr/bin/ctr", ["--address", socket, "--namespace", "k8s.io", ...args], { timeoutMs: 10 * 60_000 });
    await waitFor(containerd, "containerd to answer", 30_000, async () => ((await ctr("version").then(() => true, () => false)) ? true : undefined));
    // A store from an earlier run may hold its containers' records: this node starts with none.
    const stale = (await ctr("containers", "list", "--quiet")).stdout.split("\n").filter(Boolean);
    if (stale.length > 0) await ctr("containers", "delete", ...stale);
    const imported = async (archives: readonly string[]) => {
      const have = new Set((await ctr("images", "list")).stdout.split("\n").slice(1).map((l) => l.split(/\s+/)).filter((f) => f.length > 2).map((f) => `${f[0]}@${f[2]}`));
      for (const a of archives) {
        const refs = await archiveRefs(a);
        if (refs.length > 0 && refs.every((r) => have.has(r))) continue;
        const t = Date.now();
        await ctr("images", "import", a);
        process.stderr.write(`[testbed] imported ${path.basename(a)} in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
      }
    };
    await imported([await pauseArchive(p("pause"), tc.bin("pause"))]);

    // The kubelet, kube-proxy and CoreDNS.
    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, dnsReady] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    fs.writeFileSync(p("resolv.conf"), "# the pods' upstream: none (CoreDNS answers NXDOMAIN outside cluster.local)\n");
    fs.writeFileSync(p("kubelet.yaml"), fill("kubelet.yaml", {
      NODE_IP: ip, KUBELET_PORT: kubeletPort, HEALTHZ_PORT: kubeletHealthz, SERVING_CERT: serving.cert, SERVING_KEY: serving.key,
      CA: cp.pki.caCert, SOCKET: socket, RESOLV_CONF: p("resolv.conf"), POD_LOGS: p("pod-logs"), VOLUME_PLUGINS: p("volume-plugins"),
    }));
    const kubelet = start(
      "kubelet",
      tc.bin("kubelet"),
      [`--config=${p("kubelet.yaml")}`, `--kubeconfig=${kubeletKubeconfig}`, `--root-dir=${p("kubelet")}`, `--hostname-override=${REAL_NODE_NAME}`, `--node-ip=${ip}`, "--v=1"],
      { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` },
    );
    fs.writeFileSync(p("kube-proxy.yaml"), fill("kube-proxy.yaml", { KUBECONFIG: proxyKubeconfig, NODE_NAME: REAL_NODE_NAME, NODE_IP: ip, HEALTHZ_PORT: proxyHealthz, METRICS_PORT: proxyMetrics, POD_CIDR }));
    start("kube-proxy", tc.bin("kube-proxy"), [`--config=${p("kube-proxy.yaml")}`, "--v=1"], { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` });
    fs.writeFileSync(p("Corefile"), fill("Corefile", { NODE_IP: ip, READY_PORT: dnsReady, KUBECONFIG: dnsKubeconfig }));
    const coredns = start("coredns", tc.bin("coredns"), ["-conf", p("Corefile")]);

    // Volumes: a pool of local PersistentVolumes, bound by the PV controller as claims appear.
    await applyChecked(cp.kube, {
      apiVersion: "storage.k8s.io/v1", kind: "StorageClass",
      metadata: { name: LOCAL_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "kubernetes.io/no-provisioner", reclaimPolicy: "Retain", volumeBindingMode: "Immediate",
    } as KubeObject);
    for (let i = 0; i < VOLUMES; i++) {
      const volDir = p("volumes", `pv-${i}`);
      fs.mkdirSync(volDir, { recursive: true });
      await applyChecked(cp.kube, {
        apiVersion: "v1", kind: "PersistentVolume", metadata: { name: `testbed-local-${i}` },
        spec: {
          capacity: { storage: "50Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", storageClassName: LOCAL_STORAGE_CLASS,
          local: { path: volDir },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [REAL_NODE_NAME] }] }] } },
        },
      } as KubeObject);
    }

    await waitFor(kubelet, `node ${REAL_NODE_NAME} Ready`, 120_000, async () => {
      const node = await cp.kube.get("v1", "Node", undefined, REAL_NODE_NAME);
      const cs = ((node?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions) ?? [];
      return cs.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    });
    await waitFor(coredns, "CoreDNS ready", 60_000, async () => ((await fetch(`http://127.0.0.1:${dnsReady}/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)) ? true : undefined));
    // NetworkPolicies enforced (the bridge plugin enforces none): kube-router's firewall only, no routes, no
    // service proxy (kube-proxy's), no health or metrics listener. It needs the Node object: after Ready.
    const router = start("kube-router", tc.bin("kube-router"), [
      `--kubeconfig=${routerKubeconfig}`, `--hostname-override=${REAL_NODE_NAME}`, "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
      "--enable-cni=false", "--enable-ipv6=false", "--health-port=0", "--metrics-port=0", `--service-cluster-ip-range=${SERVICE_CIDR}`, "--v=1",
    ], { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` });
    await waitFor(router, "kube-router's firewall chains", 60_000, async () => (iptablesSave().includes(":KUBE-ROUTER-FORWARD") ? true : undefined));
    for (const { name, proc } of procs) if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${name} exited:\n${tail(proc.output(), 20)}`);
    process.stderr.write(`[testbed] real node ${REAL_NODE_NAME} Ready at ${ip} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return {
      name: REAL_NODE_NAME, ip, containerdSocket: socket, logs, stop,
      importImages: imported,
      tagImage: async (source, target) => { await ctr("images", "tag", "--force", source, target); },
    };
  } catch (err) {
    const message = `${err instanceof Error ? err.message : String(err)}\n${logs(30)}`;
    await stop().catch((e: unknown) => { process.stderr.write(`[testbed] ${e instanceof Error ? e.message : String(e)}\n`); });
    throw new Error(`the real node did not start: ${message}`);
  }
}

/**
 * containerd's root: `<cache>/node/containerd` (images imported once, kept across runs), locked by this process
 * (its PID in a lock file); a fresh directory under `dir` when another live process holds it.
 */
function imageStore(dir: string): { dir: string; release(): void } {
  const cache = path.join(process.env.MLFLOW_PLATFORM_CACHE ?? path.join(os.homedir(), ".cache", "mlflow-platform"), "node");
  fs.mkdirSync(cache, { recursive: true });
  const lock = path.join(cache, "containerd.lock");
  const holder = Number(fs.existsSync(lock) ? fs.readFileSync(lock, "utf8").trim() : "0");
  const alive = holder > 0 && holder !== process.pid && fs.existsSync(`/proc/${holder}`);
  if (alive) {
    const own = path.join(dir, "containerd", "root");
    fs.mkdirSync(own, { recursive: true });
    process.stderr.write(`[testbed] containerd's image cache is in use by PID ${holder}: this node imports into its own directory\n`);
    return { dir: own, release: () => undefined };
  }
  fs.writeFileSync(lock, String(process.pid));
  const store = path.join(cache, "containerd");
  fs.mkdirSync(store, { recursive: true });
  return { dir: store, release: () => { if (fs.existsSync(lock) && fs.readFileSync(lock, "utf8").trim() === String(process.pid)) fs.rmSync(lock); } };
}

/** The `ref@digest` of every image an OCI archive names (its index.json). */
async function archiveRefs(archive: string): Promise<string[]> {
  const r = await runChecked("tar", ["-xOf", archive, "index.json"]);
  const index = JSON.parse(r.stdout) as { manifests?: { digest: string; annotations?: Record<string, string> }[] };
  return (index.manifests ?? []).flatMap((m) => {
    const name = m.annotations?.["io.containerd.image.name"] ?? m.annotations?.["org.opencontainers.image.ref.name"];
    return name && name.includes("/") ? [`${name}@${m.digest}`] : [];
  });
}

function iptablesSave(): string {
  try { return execFileSync("iptables-save", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }); } catch { return ""; }
}

/** An OCI image archive holding only the pause stand-in at /pause (containerd's sandbox image). */
async function pauseArchive(dir: string, pauseBin: string): Promise<string> {
  const layout = path.join(dir, "layout");
  const blobs = path.join(layout, "blobs", "sha256");
  fs.mkdirSync(blobs, { recursive: true });
  fs.mkdirSync(path.join(dir, "rootfs"), { recursive: true });
  fs.copyFileSync(pauseBin, path.join(dir, "rootfs", "pause"));
  fs.chmodSync(path.join(dir, "rootfs", "pause"), 0o755);
  await runChecked("tar", ["--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C", path.join(dir, "rootfs"), "-cf", path.join(dir, "layer.tar"), "pause"]);
  const blob = (bytes: Buffer) => {
    const digest = crypto.createHash("sha256").update(bytes).digest("hex");
    fs.writeFileSync(path.join(blobs, digest), bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const layer = blob(fs.readFileSync(path.join(dir, "layer.tar")));
  const config = blob(Buffer.from(JSON.stringify({
    architecture: "amd64", os: "linux", config: { Entrypoint: ["/pause"] },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  })));
  fs.writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  fs.writeFileSync(path.join(layout, "index.json"), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "io.containerd.image.name": PAUSE_IMAGE, "org.opencontainers.image.ref.name": "3.10" } }],
  }));
  const archive = path.join(dir, "pause.oci.tar");
  await runChecked("tar", ["-C", layout, "-cf", archive, "oci-layout", "index.json", "blobs"]);
  return archive;
}

async function applyChecked(kube: KubeClient, o: KubeObject): Promise<void> {
  const r = await kube.apply(o);
  if (r.status < 200 || r.status > 299) throw new Error(`apply ${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
}

/** Polls `check`; fails early, naming the process, when `proc` exits. */
async function waitFor<T>(proc: ManagedProcess, what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${what}: the process exited with ${proc.child.exitCode ?? proc.child.signalCode}:\n${tail(proc.output(), 30)}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

