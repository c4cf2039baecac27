/**
 * What a real node changes on the machine, and how the testbed puts it back. A kubelet, containerd, kube-proxy
 * and the CNI plugins change the host whatever they are told: the kubelet sets kernel.panic,
 * kernel.panic_on_oops and vm.overcommit_memory; the bridge plugin turns on ip_forward; paths such as
 * /var/lib/kubelet/device-plugins, /var/log/containers, /var/lib/cni and /run/containerd appear; pods leave
 * cgroups, mounts, network namespaces, veths, iptables chains named KUBE-… and CNI-…, and (a NetworkPolicy
 * engine) ipsets.
 *
 * `snapshotHost()` records the host before the node starts; `restoreHost()` undoes exactly what differs
 * afterwards (it kills only processes of the node's own cgroups or that name the node's own directory, and
 * removes only what was not there before), then returns what still differs, which the caller reports. It is
 * synchronous, so the same code runs on a normal stop and from the process's exit handler.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The sysctl subtrees recorded; per-interface keys of interfaces that come and go are left out. */
const SYSCTL_TREES = ["kernel", "vm", "fs", "net/ipv4", "net/ipv6", "net/bridge", "net/netfilter", "net/core"];
/** Keys that change on their own (counters, random values). */
const VOLATILE_SYSCTL = /^(kernel\/(random|ns_last_pid|pty\/nr|tainted|sched_domain|perf_)|fs\/(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota|binfmt_misc|fanotify|inotify\/max_user)|net\/netfilter\/nf_conntrack_count|net\/ipv4\/tcp_mem|net\/ipv4\/route\/|net\/ipv6\/route\/|vm\/(stat_refresh|drop_caches|compact_memory))/;
/** Paths a node creates whatever it is told (kubelet, containerd 1.6 and libcni constants). */
export const NODE_HOST_PATHS = ["/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/containerd", "/etc/cni/net.d", "/opt/cni", "/var/lib/containerd"];
const CGROUP_ROOT = "/sys/fs/cgroup";

export interface HostSnapshot {
  readonly sysctls: Readonly<Record<string, string>>;
  readonly mounts: readonly string[];
  /** Cgroup directories two levels deep in every hierarchy (`memory/kubepods`, `memory/kubepods/besteffort`). */
  readonly cgroups: readonly string[];
  /** `iptables-save` / `ip6tables-save` without counters and comments, per family. */
  readonly iptables: Readonly<Record<"ipv4" | "ipv6", string>>;
  /** The nftables tables (`ip filter`, `ip6 nat`, …): iptables-nft creates them and never removes them. */
  readonly nftTables: readonly string[];
  /** The nftables chains, `<family> <table> <chain>`: in a table the host already had, iptables-nft adds base chains. */
  readonly nftChains: readonly string[];
  /** `nft -s list ruleset`: every rule of every family, iptables-nft's included. */
  readonly nftRuleset: string;
  /** The kernel's ipsets (`ipset list -n`): a NetworkPolicy engine makes them. */
  readonly ipsets: readonly string[];
  readonly links: readonly string[];
  readonly netns: readonly string[];
  readonly paths: Readonly<Record<string, boolean>>;
}

const run = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
};

function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const key = path.relative("/proc/sys", p);
      const iface = /^net\/ipv[46]\/(conf|neigh)\/([^/]+)/.exec(key);
      if (iface && iface[2] !== "all" && iface[2] !== "default") continue;
      if (VOLATILE_SYSCTL.test(key)) continue;
      if (e.isDirectory()) walk(p);
      else {
        try {
          if ((fs.statSync(p).mode & 0o444) === 0) continue;
          out[key] = fs.readFileSync(p, "utf8").trim();
        } catch { /* unreadable here */ }
      }
    }
  };
  for (const t of SYSCTL_TREES) walk(path.join("/proc/sys", t));
  return out;
}

function mountPoints(): string[] {
  return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")[4].replace(/\\040/g, " "));
}

function cgroupDirs(): string[] {
  const out: string[] = [];
  let hierarchies: string[];
  try { hierarchies = fs.readdirSync(CGROUP_ROOT); } catch { return out; }
  for (const h of hierarchies) {
    const top = path.join(CGROUP_ROOT, h);
    for (const a of subdirs(top)) {
      out.push(path.join(h, a));
      for (const b of subdirs(path.join(top, a))) out.push(path.join(h, a, b));
    }
  }
  return out.sort();
}

function subdirs(dir: string): string[] {
  try { return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return []; }
}

/** iptables-save without its generated comments and packet counters. */
function iptablesState(cmd: string): string {
  return run(cmd, []).split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.replace(/ \[\d+:\d+\]$/, "").replace(/^\[\d+:\d+\] /, "")).join("\n");
}

function nftTables(): string[] {
  return run("nft", ["list", "tables"]).split("\n").filter((l) => l.startsWith("table ")).map((l) => l.slice("table ".length).trim()).sort();
}

export function nftChains(): string[] {
  let parsed: { nftables?: { chain?: { family: string; table: string; name: string } }[] };
  try { parsed = JSON.parse(run("nft", ["-j", "list", "chains"]) || "{}"); } catch { return []; }
  return (parsed.nftables ?? []).flatMap((e) => (e.chain ? [`${e.chain.family} ${e.chain.table} ${e.chain.name}`] : [])).sort();
}

function ipsets(): string[] {
  return run("ipset", ["list", "-n"]).split("\n").filter(Boolean).sort();
}

function links(): string[] {
  return run("ip", ["-o", "link", "show"]).split("\n").filter(Boolean).map((l) => l.split(":")[1].trim().split("@")[0]).sort();
}

function netnsEntries(): string[] {
  try { return fs.readdirSync("/run/netns").sort(); } catch { return []; }
}

/** The host as the node will find it. `paths` are watched for appearing (NODE_HOST_PATHS by default). */
export function snapshotHost(paths: readonly string[] = NODE_HOST_PATHS): HostSnapshot {
  return {
    sysctls: readSysctls(),
    mounts: mountPoints(),
    cgroups: cgroupDirs(),
    iptables: { ipv4: iptablesState("iptables-save"), ipv6: iptablesState("ip6tables-save") },
    nftTables: nftTables(),
    nftChains: nftChains(),
    nftRuleset: run("nft", ["-s", "list", "ruleset"]).trim(),
    ipsets: ipsets(),
    links: links(),
    netns: netnsEntries(),
    paths: Object.fromEntries(paths.map((p) => [p, fs.existsSync(p)])),
  };
}

/** What differs between two snapshots, one line each (empty: the same host). */
export function diffHost(before: HostSnapshot, after: HostSnapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(before.sysctls)) if (after.sysctls[k] !== undefined && after.sysctls[k] !== v) out.push(`sysctl ${k.replace(/\//g, ".")}: ${v} → ${after.sysctls[k]}`);
  const added = <T>(a: readonly T[], b: readonly T[]) => b.filter((x) => !a.includes(x));
  for (const m of added(before.mounts, after.mounts)) out.push(`mount ${m}`);
  for (const c of added(before.cgroups, after.cgroups)) out.push(`cgroup ${c}`);
  for (const l of added(before.links, after.links)) out.push(`network link ${l}`);
  for (const n of added(before.netns, after.netns)) out.push(`network namespace ${n}`);
  for (const t of added(before.nftTables, after.nftTables)) out.push(`nftables table ${t}`);
  for (const s of added(before.ipsets, after.ipsets)) out.push(`ipset ${s}`);
  if (before.nftRuleset !== after.nftRuleset) {
    const a = before.nftRuleset.split("\n").map((l) => l.trim());
    const b = after.nftRuleset.split("\n").map((l) => l.trim());
    for (const l of added(a, b)) if (l && l !== "}") out.push(`nftables: ${l}`);
    for (const l of added(b, a)) if (l && l !== "}") out.push(`nftables lost: ${l}`);
  }
  for (const [p, existed] of Object.entries(before.paths)) if (!existed && fs.existsSync(p)) out.push(`path ${p}`);
  return out;
}

export interface RestoreOptions {
  /** Directories of the node (containerd's root and state, the kubelet's): processes naming one are the node's. */
  readonly ownDirs: readonly string[];
  readonly log?: (line: string) => void;
}

/**
 * Puts the host back as `before` found it: kills the node's leftover processes (containerd shims, container
 * processes in the node's cgroups), unmounts and removes what the node mounted and created, deletes its
 * links, network namespaces and iptables rules and chains, restores changed sysctls. Returns what still differs.
 */
export function restoreHost(before: HostSnapshot, opts: RestoreOptions): string[] {
  const log = opts.log ?? (() => undefined);
  // The node's cgroups are the kubelet's (kubepods…): another tool's new cgroup (podman's) is reported, not touched.
  const newCgroups = () => cgroupDirs().filter((c) => !before.cgroups.includes(c) && /(^|\/)kubepods/.test(c));
  // 1. Processes: every process of a cgroup the node created, and every process naming a node directory.
  for (let round = 0; round < 20; round++) {
    const pids = new Set<number>();
    for (const c of newCgroups()) for (const pid of procsUnder(path.join(CGROUP_ROOT, c))) pids.add(pid);
    for (const pid of processesNaming(opts.ownDirs)) pids.add(pid);
    pids.delete(process.pid);
    if (pids.size === 0) break;
    for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
    if (round === 0) log(`killed ${pids.size} leftover node processes`);
    execFileSync("sleep", ["0.25"]);
  }
  // 2. Mounts the node made, deepest first (lazily: a busy mount detaches now, goes when released).
  const mounts = mountPoints().filter((m) => !before.mounts.includes(m)).sort((a, b) => b.length - a.length);
  for (const m of mounts) run("umount", ["-l", m]);
  if (mounts.length) log(`unmounted ${mounts.length} mounts`);
  // 3. Network namespaces and links.
  for (const n of netnsEntries().filter((x) => !before.netns.includes(x))) {
    run("umount", ["-l", `/run/netns/${n}`]);
    fs.rmSync(`/run/netns/${n}`, { force: true });
  }
  for (const l of links().filter((x) => !before.links.includes(x))) run("ip", ["link", "del", l]);
  // 4. iptables: the rules the node added (deleted by their spec), then the chains it added.
  for (const [fam, cmd] of [["ipv4", "iptables"], ["ipv6", "ip6tables"]] as const) undoIptables(before.iptables[fam], iptablesState(`${cmd}-save`), cmd);
  // The ipsets the rules referred to, once no rule does.
  for (const s of ipsets().filter((x) => !before.ipsets.includes(x))) run("ipset", ["destroy", s]);
  // iptables-nft leaves the tables it created (empty, with their base chains): nft removes them. In a table the
  // host had (a firewall's `ip filter`), it leaves the base chains it added (INPUT, OUTPUT), now empty: removed too.
  for (const t of nftTables().filter((x) => !before.nftTables.includes(x))) run("nft", ["delete", "table", ...t.split(" ")]);
  for (const c of nftChains().filter((x) => !before.nftChains.includes(x) && before.nftTables.includes(x.split(" ").slice(0, 2).join(" ")))) run("nft", ["delete", "chain", ...c.split(" ")]);
  // 5. Cgroups, deepest first.
  for (let round = 0; round < 10; round++) {
    const left = newCgroups();
    if (left.length === 0) break;
    for (const c of left) removeCgroupTree(path.join(CGROUP_ROOT, c));
    if (round > 0) execFileSync("sleep", ["0.2"]);
  }
  // 6. Sysctls the node changed.
  const now = readSysctls();
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (now[k] !== undefined && now[k] !== v) {
      try { fs.writeFileSync(path.join("/proc/sys", k), v); log(`sysctl ${k.replace(/\//g, ".")} back to ${v}`); } catch { /* read-only key */ }
    }
  }
  // 7. Paths the node created.
  for (const [p, existed] of Object.entries(before.paths)) if (!existed) fs.rmSync(p, { recursive: true, force: true });
  return diffHost(before, snapshotHost(Object.keys(before.paths)));
}

function procsUnder(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    try { for (const l of fs.readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n")) if (l) out.push(Number(l)); } catch { /* gone */ }
    for (const s of subdirs(d)) walk(path.join(d, s));
  };
  walk(dir);
  return out;
}

function processesNaming(dirs: readonly string[]): number[] {
  if (dirs.length === 0) return [];
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
      if (dirs.some((d) => cmd.includes(d))) out.push(Number(e));
    } catch { /* exited */ }
  }
  return out;
}

function removeCgroupTree(dir: string): void {
  for (const s of subdirs(dir)) removeCgroupTree(path.join(dir, s));
  try { fs.rmdirSync(dir); } catch { /* busy or gone: the next round */ }
}

/** Deletes the rules and chains in `now` that `before` did not have, table by table. */
function undoIptables(before: string, now: string, cmd: string): void {
  const had = new Set(before.split("\n"));
  let table = "";
  const rules: { table: string; spec: string }[] = [];
  const chains: { table: string; chain: string }[] = [];
  for (const line of now.split("\n")) {
    if (line.startsWith("*")) { table = line.slice(1); continue; }
    if (had.has(line) && !line.startsWith("-A")) continue;
    if (line.startsWith("-A ") && !had.has(line)) rules.push({ table, spec: line.slice(3) });
    else if (line.startsWith(":") && !had.has(line)) chains.push({ table, chain: line.slice(1).split(" ")[0] });
  }
  for (const r of rules.reverse()) run("sh", ["-c", `${cmd} -w -t ${r.table} -D ${r.spec}`]);
  for (const c of chains) run(cmd, ["-w", "-t", c.table, "-F", c.chain]);
  for (const c of chains) run(cmd, ["-w", "-t", c.table, "-X", c.chain]);
}
