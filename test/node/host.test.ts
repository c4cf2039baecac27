/**
 * The real node puts the host back exactly as it found it, also when its test process dies: a child process
 * starts the cluster with a real node, runs a pod behind a Service, and exits without stopping anything
 * (test/node/fixtures/crash-node.ts). Its exit handler alone must undo the sysctls the kubelet set, the
 * bridge's ip_forward, the cgroups, mounts, network namespaces, links, iptables chains and nftables tables, the
 * paths the node creates whatever it is told, and every process the node left (containerd's shims, the
 * containers). The normal stop is checked by the loop suite's cluster, whose stop() throws on any difference.
 *
 * The host has a firewall table of its own (`ip filter` with a FORWARD chain, made here when it has none, as podman's
 * CNI firewall makes one): iptables-nft adds its INPUT and OUTPUT base chains to it, which the restore must remove
 * while keeping the table (found by a cold CI run after a bridged `podman run -p`).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { diffHost, nftChains, snapshotHost } from "../../testbed/host";
import { ensureImages } from "../../testbed/images";
import { runCommand, tail } from "../../testbed/process";
import { REPO_ROOT } from "../../testbed/toolchain";

describe("real node: the host is put back, also when the test process dies", function () {
  this.timeout(10 * 60_000);

  it("a process that started a real node and a pod, then exited without stopping, leaves the host as it was", async () => {
    const images = await ensureImages(["trainer"]);
    const ownFirewall = !nftChains().includes("ip filter FORWARD");
    if (ownFirewall) {
      execFileSync("nft", ["add", "table", "ip", "filter"]);
      execFileSync("nft", ["add", "chain", "ip", "filter", "FORWARD", "{ type filter hook forward priority 0; policy accept; }"]);
    }
    try {
      await crashAndCheck(images.trainer.archive);
    } finally {
      if (ownFirewall) execFileSync("nft", ["delete", "table", "ip", "filter"]);
    }
  });
});

async function crashAndCheck(archive: string): Promise<void> {
  const before = snapshotHost();
  const r = await runCommand(path.join(REPO_ROOT, "node_modules", ".bin", "tsx"), [path.join(__dirname, "fixtures", "crash-node.ts"), archive], { timeoutMs: 8 * 60_000 });
  assert.equal(r.code, 3, `the child should exit 3 after changing the host:\n${tail(r.stdout + r.stderr, 40)}`);
  const line = r.stdout.split("\n").find((l) => l.startsWith("CHANGED="));
  assert.ok(line, tail(r.stdout + r.stderr, 20));
  const changed = JSON.parse(line.slice("CHANGED=".length)) as string[];
  // What the node had changed: the proof that there was something to put back.
  // (The kubelet sets kernel.panic 10, panic_on_oops 1, overcommit_memory 1; the bridge ip_forward 1: each a
  // change only where the host had another value.)
  const sysctl = (key: string) => before.sysctls[key.replace(/\./g, "/")];
  const expected = [/^cgroup memory\/kubepods$/, /^network link mlflowtb0$/, /^network namespace cni-/, /^mount .*\/kubelet\/pods\//, /KUBE-SVC/, /^path \/var\/lib\/kubelet$/];
  if (sysctl("kernel.panic") !== "10") expected.push(/^sysctl kernel\.panic: .* → 10$/);
  if (sysctl("vm.overcommit_memory") !== "1") expected.push(/^sysctl vm\.overcommit_memory: .* → 1$/);
  if (sysctl("net.ipv4.ip_forward") !== "1") expected.push(/^sysctl net\.ipv4\.ip_forward: 0 → 1$/);
  for (const want of expected) assert.ok(changed.some((c) => want.test(c)), `the running node changed ${want} (changed: ${changed.join("; ")})`);
  assert.deepEqual(diffHost(before, snapshotHost()), [], "after the child's exit, the host is as it was");
}
