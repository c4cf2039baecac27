/**
 * A private network namespace joined to the host by one veth pair, for a process that binds every address
 * (KServe's controller listens for webhooks on ":<port>", with no flag for the host): inside the namespace,
 * "every address" is its loopback and its end of the veth, so nothing on the machine's own interfaces is bound.
 *
 * The host end gets `hostIp`, the namespace end `nsIp` (a /30 of link-local space, one per namespace); the
 * namespace's default route points at the host end. Removed by `destroy()`, also from the cleanup registry on
 * failure or exit: the veth goes with the namespace.
 */
import { execFileSync } from "node:child_process";
import * as net from "node:net";
import { registerCleanup, runChecked } from "./process";

export interface NetworkNamespace {
  readonly name: string;
  /** The host's end of the veth (reachable from inside). */
  readonly hostIp: string;
  /** The namespace's end (where a server inside listens, as the host sees it). */
  readonly nsIp: string;
  /** argv prefix that runs a command inside: `ip netns exec <name>` (the command keeps its PID). */
  readonly exec: readonly string[];
  /**
   * A TCP relay on hostIp:<free port> to `target` (host:port on the host), so a process inside reaches a server
   * that listens on the host's loopback only. Returns the port.
   */
  relay(target: { host: string; port: number }): Promise<number>;
  destroy(): Promise<void>;
}

let counter = 0;

/** A new namespace `mlflow-tb-<pid>-<n>` on 169.254.<200+n>.0/30. */
export async function createNetworkNamespace(): Promise<NetworkNamespace> {
  const n = counter++;
  const name = `mlflow-tb-${process.pid}-${n}`;
  const hostIf = `tbh${process.pid % 100000}${n}`.slice(0, 15);
  const nsIf = `tbn${process.pid % 100000}${n}`.slice(0, 15);
  const subnet = `169.254.${200 + (n % 50)}`;
  const hostIp = `${subnet}.1`;
  const nsIp = `${subnet}.2`;
  const servers: net.Server[] = [];
  const ip = (...args: string[]) => runChecked("ip", args);
  const removeSync = () => {
    for (const s of servers) s.close();
    try { execFileSync("ip", ["netns", "del", name], { stdio: "ignore" }); } catch { /* already gone */ }
    try { execFileSync("ip", ["link", "del", hostIf], { stdio: "ignore" }); } catch { /* went with the namespace */ }
  };
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    unregister();
    removeSync();
  };
  const unregister = registerCleanup(destroy, removeSync);
  try {
    await ip("netns", "add", name);
    await ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    await ip("link", "set", nsIf, "netns", name);
    await ip("addr", "add", `${hostIp}/30`, "dev", hostIf);
    await ip("link", "set", hostIf, "up");
    await ip("netns", "exec", name, "ip", "addr", "add", `${nsIp}/30`, "dev", nsIf);
    await ip("netns", "exec", name, "ip", "link", "set", nsIf, "up");
    await ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
    await ip("netns", "exec", name, "ip", "route", "add", "default", "via", hostIp);
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    name, hostIp, nsIp, exec: ["ip", "netns", "exec", name],
    relay: (target) => new Promise((resolve, reject) => {
      const server = net.createServer((inbound) => {
        const outbound = net.connect(target.port, target.host);
        inbound.pipe(outbound).pipe(inbound);
        const close = () => { inbound.destroy(); outbound.destroy(); };
        inbound.on("error", close);
        outbound.on("error", close);
      });
      server.once("error", reject);
      server.listen(0, hostIp, () => {
        servers.push(server);
        resolve((server.address() as net.AddressInfo).port);
      });
    }),
    destroy,
  };
}
