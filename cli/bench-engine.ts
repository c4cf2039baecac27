/**
 * The engine part of `npm run bench`: on one test cluster (test/engine/support) and one engine, in one run,
 * alternating, medians of `runs` samples each:
 * - previewLocalVsFloor: a no-change `pulumi preview` of the deployed local stack against a no-change
 *   `pulumi preview` of a deployed one-resource Kubernetes program (a ConfigMap): what the platform's own
 *   program adds on top of the engine, the provider and the API server round trips every preview pays;
 * - upVsPreview: a no-change `pulumi up` of the local stack against its no-change preview.
 */
import * as core from "@pulumi/kubernetes/core/v1";
import { startCluster } from "../testbed/cluster";
import { engineStack, localSecrets, secretConfig, type EngineStack } from "../testbed/stack";
import { stat, type Stat } from "./bench-stats";

export interface EngineBench {
    readonly previewLocalVsFloor: number;
    readonly upVsPreview: number;
    readonly previewLocalMs: Stat;
    readonly previewFloorMs: Stat;
    readonly upLocalMs: Stat;
    readonly localResources: number;
}

/** One ConfigMap: the floor every preview of a Kubernetes program pays. */
async function floorProgram(): Promise<Record<string, unknown>> {
    new core.ConfigMap("floor", { metadata: { name: "bench-floor", namespace: "default" }, data: { a: "b" } });
    return {};
}

const timed = async (f: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
};

export async function benchEngine(opts: { runs: number; log: (line: string) => void }): Promise<EngineBench> {
    const cluster = await startCluster();
    const stacks: EngineStack[] = [];
    try {
        const local = await engineStack(cluster, { base: "local", stackName: "bench-local" });
        const floor = await engineStack(cluster, { base: "local", stackName: "bench-floor", program: floorProgram });
        stacks.push(local, floor);
        await local.configure(secretConfig(localSecrets()));
        opts.log("engine: up of the local stack and of the floor program");
        const first = await local.up();
        await floor.up();
        // One warm-up each: the provider's first discovery of the API server is not what is measured.
        await local.preview();
        await floor.preview();
        const samples = { local: [] as number[], floor: [] as number[], up: [] as number[] };
        for (let i = 0; i < opts.runs; i++) {
            opts.log(`engine: round ${i + 1}/${opts.runs}`);
            samples.local.push(await timed(() => local.preview()));
            samples.floor.push(await timed(() => floor.preview()));
            samples.up.push(await timed(() => local.up()));
        }
        const [previewLocalMs, previewFloorMs, upLocalMs] = [stat(samples.local), stat(samples.floor), stat(samples.up)];
        return {
            previewLocalVsFloor: Math.round((previewLocalMs.median / previewFloorMs.median) * 100) / 100,
            upVsPreview: Math.round((upLocalMs.median / previewLocalMs.median) * 100) / 100,
            previewLocalMs,
            previewFloorMs,
            upLocalMs,
            localResources: first.steps.filter((s) => s.op === "create").length,
        };
    } finally {
        for (const s of stacks) await s.remove();
        await cluster.stop();
    }
}
