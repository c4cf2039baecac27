/**
 * Every container's memory on a real node, sampled from its cgroup (cgroup v1: memory.usage_in_bytes less the
 * inactive file cache, the working set the kubelet evicts and the OOM killer acts on), once a second, with the
 * peak kept per workload and container: what sets the platform's default requests and limits.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Cluster } from "./cluster";

interface Peak { workload: string; container: string; bytes: number; limit?: number }

export interface MemorySampler {
  /** `workload/container: peak MiB (limit MiB)`, one line each, largest first. */
  report(): string;
  /** Containers whose peak passed `fraction` of their memory limit. */
  overLimit(fraction: number): string[];
  peaks(): readonly Peak[];
  stop(): Promise<void>;
}

const MEMORY = "/sys/fs/cgroup/memory/kubepods";

/** The workload a pod belongs to: its owner's name, without a ReplicaSet's or Job's generated suffix. */
function workloadOf(pod: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] } }): string {
  const owner = pod.metadata.ownerReferences?.[0];
  if (!owner) return pod.metadata.name;
  if (owner.kind === "ReplicaSet") return owner.name.replace(/-[a-z0-9]{8,10}$/, "");
  if (owner.kind === "Job") return owner.name.replace(/-(\d{8,14}|manual|[a-z0-9]{5})$/, "");
  return owner.name;
}

function bytes(quantity: string | undefined): number | undefined {
  if (!quantity) return undefined;
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) return undefined;
  const unit: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? unit[m[2]] : 1);
}

/** The working set of the container cgroup named after `id` anywhere under kubepods. */
function workingSet(dirs: Map<string, string>, id: string): number | undefined {
  let dir = dirs.get(id);
  if (!dir || !fs.existsSync(dir)) {
    dir = undefined;
    const walk = (d: string, depth: number) => {
      if (dir || depth > 3) return;
      let entries: string[];
      try { entries = fs.readdirSync(d); } catch { return; }
      for (const e of entries) {
        const p = path.join(d, e);
        if (e === id) { dir = p; return; }
        if (!e.includes(".") && fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p, depth + 1);
      }
    };
    walk(MEMORY, 0);
    if (!dir) return undefined;
    dirs.set(id, dir);
  }
  try {
    const usage = Number(fs.readFileSync(path.join(dir, "memory.usage_in_bytes"), "utf8"));
    const inactive = Number(/^total_inactive_file (\d+)$/m.exec(fs.readFileSync(path.join(dir, "memory.stat"), "utf8"))?.[1] ?? 0);
    return Math.max(0, usage - inactive);
  } catch {
    return undefined;
  }
}

/** Samples every container of the cluster's real node until stopped. */
export function memorySampler(cluster: Cluster, intervalMs = 1000): MemorySampler {
  const peaks = new Map<string, Peak>();
  const dirs = new Map<string, string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const pods = (await cluster.kube.ok("GET", "/api/v1/pods")).json<{ items: unknown[] }>().items;
        for (const pod of pods as unknown as {
          metadata: { name: string; namespace: string; ownerReferences?: { kind: string; name: string }[] };
          spec: { containers: { name: string; resources?: { limits?: { memory?: string } } }[]; initContainers?: { name: string; resources?: { limits?: { memory?: string } } }[] };
          status?: { containerStatuses?: { name: string; containerID?: string }[]; initContainerStatuses?: { name: string; containerID?: string }[] };
        }[]) {
          const specs = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
          for (const cs of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
            const id = cs.containerID?.replace(/^[a-z]+:\/\//, "");
            if (!id) continue;
            const ws = workingSet(dirs, id);
            if (ws === undefined) continue;
            const key = `${pod.metadata.namespace}/${workloadOf(pod)}/${cs.name}`;
            const prev = peaks.get(key);
            if (!prev || ws > prev.bytes) peaks.set(key, { workload: `${pod.metadata.namespace}/${workloadOf(pod)}`, container: cs.name, bytes: ws, limit: bytes(specs.find((s) => s.name === cs.name)?.resources?.limits?.memory) });
          }
        }
      } catch { /* the API server may be stopping: the next round */ }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  const mib = (b: number) => (b / 1024 ** 2).toFixed(0);
  const sorted = () => [...peaks.values()].sort((a, b) => b.bytes - a.bytes);
  return {
    peaks: sorted,
    report: () => sorted().map((p) => `${p.workload}/${p.container}: ${mib(p.bytes)} MiB${p.limit ? ` (limit ${mib(p.limit)} MiB)` : ""}`).join("\n"),
    overLimit: (fraction) => sorted().filter((p) => p.limit !== undefined && p.bytes > p.limit * fraction).map((p) => `${p.workload}/${p.container}: ${mib(p.bytes)} of ${mib(p.limit!)} MiB`),
    async stop() { running = false; await loop; },
  };
}
