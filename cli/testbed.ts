/**
 * `npm run testbed`: this project's own Kubernetes cluster on this machine, for trying the local stack without
 * kind, k3d or minikube: the control plane and a real node (testbed/: containerd, kubelet, kube-proxy, CoreDNS,
 * built from the package registries by toolchain/build.sh), KServe's controller, and the images images/build.sh
 * builds already imported. It prints the kubeconfig to use with kubectl and `pulumi up --stack local`, then runs
 * until Ctrl-C, when it stops every component and puts the host back as it found it.
 *
 *   sudo npm run testbed [-- --no-kserve] [--no-images] [--kubeconfig <file>]
 *
 * Needs root (a real node changes namespaces, cgroups and iptables), Go (the toolchain), and containerd, runc,
 * the CNI plugins, iptables, conntrack and nftables from Debian (`.ci/run` installs them).
 */
import * as fs from "node:fs";
import { parseArgs, UsageError } from "./args";
import { startCluster } from "../testbed/cluster";
import { ensureImages } from "../testbed/images";
import { startKServe, type KServe } from "../testbed/kserve";
import { installExitHooks, stopAll } from "../testbed/process";

/** The images the local stack runs, as images/build.sh names them. */
const LOCAL_STACK_IMAGES = ["mlflow", "trainer", "serving", "storage-initializer", "postgres-standin", "minio-standin", "mc-standin"] as const;

const SPEC = {
    kserve: { type: "boolean", default: true, description: "start KServe's controller and webhooks (--no-kserve: without)" },
    images: { type: "boolean", default: true, description: "build (cached) and import the local stack's images (--no-images: without)" },
    kubeconfig: { type: "string", description: "also copy the admin kubeconfig to this file" },
} as const;

export async function main(argv: string[]): Promise<number> {
    let args;
    try {
        args = parseArgs(argv, SPEC);
    } catch (e) {
        if (e instanceof UsageError) {
            process.stderr.write(`testbed: ${e.message}\n`);
            return 2;
        }
        throw e;
    }
    installExitHooks("testbed");
    const cluster = await startCluster({ node: "real" });
    let kserve: KServe | undefined;
    try {
        if (args.values.images) {
            const images = await ensureImages(LOCAL_STACK_IMAGES);
            await cluster.node!.importImages(LOCAL_STACK_IMAGES.map((n) => images[n].archive));
        }
        if (args.values.kserve) kserve = await startKServe(cluster);
        if (args.values.kubeconfig) fs.copyFileSync(cluster.kubeconfig, args.values.kubeconfig);
    } catch (e) {
        await stopAll();
        throw e;
    }
    process.stdout.write(
        [
            "",
            `The testbed runs: API server ${cluster.server}, node ${cluster.node!.name} at ${cluster.node!.ip}${kserve ? ", KServe's controller" : ""}.`,
            `  export KUBECONFIG=${args.values.kubeconfig ?? cluster.kubeconfig}`,
            `  export PATH=${cluster.toolchain.binDir}:$PATH   # kubectl and pulumi of the toolchain (or your own)`,
            "  kubectl get nodes",
            "  pulumi login --local && pulumi stack select --create local && pulumi up --stack local",
            "Ctrl-C stops it and puts the host back as it was.",
            "",
        ].join("\n"),
    );
    await new Promise<never>(() => undefined); // until SIGINT/SIGTERM: installExitHooks stops everything
    return 0;
}
