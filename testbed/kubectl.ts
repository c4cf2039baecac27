/**
 * kubectl (the toolchain's, the cluster's release) against a testbed cluster, as the README tells a user to
 * use it: commands, and `port-forward`, which binds 127.0.0.1 only and runs until stopped (by PID).
 */
import type { Cluster } from "./cluster";
import { runCommand, spawnManaged, tail, type CommandResult } from "./process";

export interface PortForward {
  /** The local port on 127.0.0.1. */
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

export interface Kubectl {
  /** Runs kubectl with the cluster's admin kubeconfig; throws with its output unless it exits 0. */
  run(args: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Like run, but resolves with the result whatever the exit code. */
  tryRun(args: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** `kubectl port-forward -n <ns> <target> :<remotePort>` on a free local port. */
  portForward(namespace: string, target: string, remotePort: number): Promise<PortForward>;
}

export function kubectl(cluster: Cluster): Kubectl {
  const bin = cluster.toolchain.bin("kubectl");
  const base = ["--kubeconfig", cluster.kubeconfig];
  const tryRun = (args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    runCommand(bin, [...base, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 5 * 60_000 });
  return {
    tryRun,
    async run(args, opts) {
      const r = await tryRun(args, opts);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
      return r;
    },
    async portForward(namespace, target, remotePort) {
      const proc = spawnManaged(bin, [...base, "port-forward", "--namespace", namespace, "--address", "127.0.0.1", target, `:${remotePort}`]);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(proc.output());
        if (m) {
          const port = Number(m[1]);
          return { port, url: `http://127.0.0.1:${port}`, stop: () => proc.stop(5000) };
        }
        if (proc.child.exitCode !== null || Date.now() > deadline) {
          await proc.stop(1000);
          throw new Error(`kubectl port-forward ${namespace} ${target} :${remotePort} did not start:\n${tail(proc.output(), 20)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}
