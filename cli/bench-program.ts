/**
 * The program part of `npm run bench` (offline, no cluster): what evaluating the platform's program costs, under
 * the render's mocks. In one run, alternating, `runs` samples each, medians:
 * - programVsFloor: a fresh `node` process evaluating the prod stack under the render's mocks, versus a fresh
 *   process evaluating a one-resource program under the same mocks (the floor: loading @pulumi/pulumi dominates
 *   it). This is what every `pulumi preview`/`up` pays at start. It runs the precompiled bin/ (the deploy-time
 *   path) when bin/ is newer than the sources, else the sources through tsx (reported as `coldRuntime`).
 * - steadyState: the same two programs evaluated again in this process after one warm-up each (modules loaded
 *   once): the evaluation cost alone, which grows with the number of resources.
 * - models100VsModels1: 100 served models versus 1 against a registry stand-in on 127.0.0.1 that answers each
 *   MLflow call after `delayMs` (`--delay-ms`): the whole prod program (100 InferenceServices, so more resources
 *   too) when serving.models triggers registry lookups, otherwise the resolver alone (`models100VsModels1Scope`).
 *   `registry.lookupsOnly` always times the resolver alone: with concurrent lookups its ratio stays near
 *   ceil(100 / serving.registry.concurrency) (`models100VsModels1Bound`); sequential ones approach 100.
 * - renderDevMs: renderStack for dev, in this process, after a warm-up.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MlflowRegistryClient, resolveModels } from "../lib/registry";
import type { PlatformConfig } from "../config";
import { projectRoot } from "../lib/paths";
import { renderStack } from "../lib/render";
import { round, stat, type BenchPart, type BenchPartOptions, type Stat } from "./bench-stats";

/** The floor: one resource, registered through @pulumi/pulumi only. Kept as source text for the child processes. */
const FLOOR_SOURCE = `async () => {
    new pulumi.CustomResource("kubernetes:core/v1:ConfigMap", "floor", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "floor" }, data: { a: "b" } });
    return {};
}`;
// eslint-disable-next-line no-new-func -- the same text the child processes evaluate, so both sides run one program.
const floorProgram = new Function("pulumi", `return ${FLOOR_SOURCE};`)(pulumi) as () => Promise<Record<string, unknown>>;

async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await fn();
    const used = process.cpuUsage(cpu);
    return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000 };
}

// ---------------------------------------------------------------------------------------------------------
// Cold: a fresh process per sample.

interface ColdRuntime {
    readonly kind: "compiled" | "tsx";
    readonly nodeArgs: string[];
    readonly renderModule: string;
    readonly note?: string;
}

function newestMtime(dir: string, ext: string, skip: ReadonlySet<string>): number {
    let newest = 0;
    const stack = [dir];
    while (stack.length > 0) {
        const d = stack.pop()!;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) {
                if (!skip.has(e.name)) stack.push(p);
            } else if (e.name.endsWith(ext) && !e.name.endsWith(".d.ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
        }
    }
    return newest;
}

/** The compiled bin/ when it is at least as new as every source the program loads; else tsx. */
export function coldRuntime(root: string): ColdRuntime {
    const compiled = path.join(root, "bin", "lib", "render.js");
    const tsx: ColdRuntime = { kind: "tsx", nodeArgs: ["--import", "tsx"], renderModule: path.join(root, "lib", "render.ts") };
    if (!fs.existsSync(compiled)) return { ...tsx, note: "bin/ is missing: run `npm run build` to measure the precompiled deploy path" };
    const skip = new Set(["node_modules", "bin", "rendered", "test", "cli", "policy", "images", "docs", ".git"]);
    const sources = newestMtime(root, ".ts", skip);
    const built = Math.min(...["index.js", "program.js", "config.js", "lib/render.js"].map((f) => (fs.existsSync(path.join(root, "bin", f)) ? fs.statSync(path.join(root, "bin", f)).mtimeMs : 0)));
    if (built < sources) return { ...tsx, note: "bin/ is older than the sources: run `npm run build` to measure the precompiled deploy path" };
    return { kind: "compiled", nodeArgs: [], renderModule: compiled };
}

function childScript(runtime: ColdRuntime, root: string, stack: string, floor: boolean): string {
    return [
        `const t0 = performance.now();`,
        `const { renderStack } = require(${JSON.stringify(runtime.renderModule)});`,
        `const pulumi = require(require.resolve("@pulumi/pulumi", { paths: [${JSON.stringify(root)}] }));`,
        `const program = ${floor ? FLOOR_SOURCE : "undefined"};`,
        `renderStack({ root: ${JSON.stringify(root)}, stack: ${JSON.stringify(stack)}, program }).then((r) => {`,
        `  const cpu = process.cpuUsage();`,
        `  process.stdout.write(JSON.stringify({ inScriptMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, resources: r.resources.length }) + "\\n");`,
        `  process.exit(0);`,
        `}, (e) => { process.stderr.write(String(e && e.stack || e) + "\\n"); process.exit(1); });`,
    ].join("\n");
}

/** Spawns one fresh process; wall time is measured here (process start included). */
function coldSample(runtime: ColdRuntime, root: string, stack: string, floor: boolean): Promise<{ ms: number; cpuMs: number; resources: number }> {
    return new Promise((resolve, reject) => {
        const t = performance.now();
        const child = spawn(process.execPath, [...runtime.nodeArgs, "-e", childScript(runtime, root, stack, floor)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => {
            const ms = performance.now() - t;
            if (code !== 0) return reject(new Error(`bench: the ${floor ? "floor" : stack} child process exited ${code}: ${err.trim().split("\n").slice(0, 3).join(" | ")}`));
            const line = out.trim().split("\n").pop() ?? "";
            try {
                const r = JSON.parse(line) as { cpuMs: number; resources: number };
                resolve({ ms, cpuMs: r.cpuMs, resources: r.resources });
            } catch {
                reject(new Error(`bench: the ${floor ? "floor" : stack} child process printed no result: "${line.slice(0, 200)}"`));
            }
        });
    });
}

// ---------------------------------------------------------------------------------------------------------
// Registry stand-in: the two MLflow endpoints a lookup by alias calls, each answered after a fixed delay.

export interface RegistryStandIn {
    readonly uri: string;
    /** Requests answered since the last reset. */
    requests: number;
    /** Most requests in flight at once since the last reset. */
    maxInFlight: number;
    reset(): void;
    close(): Promise<void>;
}

export async function startRegistryStandIn(delayMs: number, bucket: string): Promise<RegistryStandIn> {
    let inFlight = 0;
    const server = http.createServer((req, res) => {
        inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, inFlight);
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const name = url.searchParams.get("name") ?? "";
        let status = 200;
        let body: unknown;
        if (req.method === "GET" && url.pathname === "/api/2.0/mlflow/registered-models/alias") {
            body = { model_version: { name, version: "3", source: `models:/m-${name}`, run_id: `run-${name}`, aliases: [url.searchParams.get("alias") ?? ""] } };
        } else if (req.method === "GET" && url.pathname === "/api/2.0/mlflow/model-versions/get") {
            body = { model_version: { name, version: url.searchParams.get("version") ?? "", source: `models:/m-${name}`, run_id: `run-${name}` } };
        } else if (req.method === "GET" && url.pathname === "/api/2.0/mlflow/model-versions/get-download-uri") {
            body = { artifact_uri: `s3://${bucket}/1/models/m-${name}/artifacts` };
        } else {
            status = 404;
            body = { error_code: "ENDPOINT_NOT_FOUND", message: `the bench's registry stand-in has no ${req.method} ${url.pathname}` };
        }
        setTimeout(() => {
            state.requests++;
            inFlight--;
            res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
        }, delayMs);
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const state: RegistryStandIn = {
        uri: `http://127.0.0.1:${port}`,
        requests: 0,
        maxInFlight: 0,
        reset() {
            state.requests = 0;
            state.maxInFlight = 0;
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
    return state;
}

function servedModels(n: number): { name: string; registeredModel: string; alias: string }[] {
    return Array.from({ length: n }, (_, i) => ({ name: `bench-${i}`, registeredModel: `BenchModel${i}`, alias: "production" }));
}

// ---------------------------------------------------------------------------------------------------------

export interface BenchResult {
    programVsFloor: number;
    models100VsModels1: number;
    renderDevMs: number;
    [k: string]: unknown;
}

interface BenchOptions {
    root: string;
    runs: number;
    delayMs: number;
    log: (line: string) => void;
}

export async function bench(o: BenchOptions): Promise<BenchResult> {
    const { root, runs, log } = o;

    // Warm-up: loads every module once; the prod render also gives the config the registry part needs.
    log("warm-up: prod, floor, dev");
    const warm = await renderStack({ root, stack: "prod" });
    await renderStack({ root, stack: "prod", program: floorProgram });
    await renderStack({ root, stack: "dev" });
    const cfg: PlatformConfig = warm.config;

    const runtime = coldRuntime(root);
    if (runtime.note) log(`note: ${runtime.note}`);
    const cold = { program: [] as { ms: number; cpuMs: number }[], floor: [] as { ms: number; cpuMs: number }[] };
    const steady = { program: [] as { ms: number; cpuMs: number }[], floor: [] as { ms: number; cpuMs: number }[], dev: [] as { ms: number; cpuMs: number }[] };
    let programResources = 0;
    for (let i = 0; i < runs; i++) {
        log(`run ${i + 1}/${runs}: cold prod, cold floor, steady prod, steady floor, dev`);
        const c = await coldSample(runtime, root, "prod", false);
        programResources = c.resources;
        cold.program.push(c);
        cold.floor.push(await coldSample(runtime, root, "prod", true));
        steady.program.push(await timed(() => renderStack({ root, stack: "prod" })));
        steady.floor.push(await timed(() => renderStack({ root, stack: "prod", program: floorProgram })));
        steady.dev.push(await timed(() => renderStack({ root, stack: "dev" })));
    }
    const med = (xs: { ms: number; cpuMs: number }[], k: "ms" | "cpuMs") => stat(xs.map((x) => x[k]));

    // 100 served models vs 1.
    const bucket = cfg.artifactStore.bucketName ?? "mlflow-artifacts-bench";
    const concurrency = cfg.serving.registry.concurrency;
    const registry = await startRegistryStandIn(o.delayMs, bucket);
    const models = { one: [] as number[], hundred: [] as number[] };
    const lookups = { one: [] as number[], hundred: [] as number[] };
    let scope: "program" | "resolver";
    let observed = { requests100: 0, maxInFlight100: 0 };
    try {
        const programRun = (n: number) =>
            renderStack({
                root,
                stack: "prod",
                mlflowUri: registry.uri,
                sets: ["serving.verifyArtifacts=false", `serving.models=${JSON.stringify(servedModels(n))}`],
            });
        const client = new MlflowRegistryClient({ trackingUri: registry.uri, retries: 0 });
        const targets = (n: number) => servedModels(n).map((m) => ({ servedName: m.name, registeredModel: m.registeredModel, alias: m.alias }));
        const resolverRun = (n: number) => resolveModels(client, targets(n), { allowedPrefixes: [`s3://${bucket}`] }, concurrency);

        // Does the program look models up? One served model against the stand-in tells.
        registry.reset();
        let programError: string | undefined;
        try {
            await programRun(1);
        } catch (e) {
            programError = e instanceof Error ? e.message.split("\n")[0] : String(e);
        }
        scope = registry.requests > 0 && programError === undefined ? "program" : "resolver";
        if (scope === "resolver") log(`note: serving.models does not trigger registry lookups in the program${programError ? ` (${programError})` : ""}: timing the resolver alone`);
        if (scope === "program") await programRun(100); // warm-up of the 100-model shape
        await resolverRun(100);
        for (let i = 0; i < runs; i++) {
            log(`run ${i + 1}/${runs}: 1 model, 100 models (${scope === "program" ? "whole program, then " : ""}lookups alone)`);
            if (scope === "program") {
                models.one.push((await timed(() => programRun(1))).ms);
                registry.reset();
                models.hundred.push((await timed(() => programRun(100))).ms);
                observed = { requests100: registry.requests, maxInFlight100: registry.maxInFlight };
            }
            lookups.one.push((await timed(() => resolverRun(1))).ms);
            registry.reset();
            lookups.hundred.push((await timed(() => resolverRun(100))).ms);
            if (scope === "resolver") observed = { requests100: registry.requests, maxInFlight100: registry.maxInFlight };
        }
        if (scope === "resolver") {
            models.one.push(...lookups.one);
            models.hundred.push(...lookups.hundred);
        }
    } finally {
        await registry.close();
    }

    const coldProgram = med(cold.program, "ms");
    const coldFloor = med(cold.floor, "ms");
    const steadyProgram = med(steady.program, "ms");
    const steadyFloor = med(steady.floor, "ms");
    const one = stat(models.one);
    const hundred = stat(models.hundred);
    const rounds = Math.ceil(100 / concurrency);
    const callsPerLookup = 2; // alias → version, then get-download-uri
    return {
        programVsFloor: round(coldProgram.median / coldFloor.median, 2),
        models100VsModels1: round(hundred.median / one.median, 2),
        renderDevMs: med(steady.dev, "ms").median,
        models100VsModels1Scope: scope,
        models100VsModels1Bound: rounds,
        models100VsModels1IfSequential: 100,
        coldStartMs: coldProgram.median,
        coldFloorMs: coldFloor.median,
        coldRuntime: runtime.kind,
        programVsFloorCpu: round(med(cold.program, "cpuMs").median / med(cold.floor, "cpuMs").median, 2),
        steadyState: {
            programVsFloor: round(steadyProgram.median / steadyFloor.median, 2),
            programMs: steadyProgram.median,
            floorMs: steadyFloor.median,
            programCpuMs: med(steady.program, "cpuMs").median,
            floorCpuMs: med(steady.floor, "cpuMs").median,
        },
        registry: {
            delayMs: o.delayMs,
            concurrency,
            models1Ms: one.median,
            models100Ms: hundred.median,
            boundMs: { models1: callsPerLookup * o.delayMs, models100: rounds * callsPerLookup * o.delayMs, ifSequential: 100 * callsPerLookup * o.delayMs },
            requests100: observed.requests100,
            maxInFlight100: observed.maxInFlight100,
            lookupsOnly: { models1Ms: stat(lookups.one).median, models100Ms: stat(lookups.hundred).median, ratio: round(stat(lookups.hundred).median / stat(lookups.one).median, 2) },
        },
        programResources,
        runs,
        spread: {
            coldProgramMs: coldProgram,
            coldFloorMs: coldFloor,
            steadyProgramMs: steadyProgram,
            steadyFloorMs: steadyFloor,
            renderDevMs: med(steady.dev, "ms"),
            models1Ms: one,
            models100Ms: hundred,
            lookupsOnly1Ms: stat(lookups.one),
            lookupsOnly100Ms: stat(lookups.hundred),
        },
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", node: process.version, loadavg: os.loadavg().map((l) => round(l, 2)) },
    };
}

function human(r: BenchResult): string {
    const s = r.spread as Record<string, Stat>;
    const st = r.steadyState as Record<string, number>;
    const reg = r.registry as {
        delayMs: number;
        concurrency: number;
        boundMs: Record<string, number>;
        requests100: number;
        maxInFlight100: number;
        lookupsOnly: { ratio: number };
    };
    const m = r.machine as { cpus: number; node: string; loadavg: number[] };
    const span = (x: Stat) => `median ${x.median} ms (min ${x.min}, max ${x.max})`;
    return [
        `programVsFloor      ${r.programVsFloor}  (target <= 1.3)  fresh process, ${r.coldRuntime}: prod ${span(s.coldProgramMs!)} vs floor ${span(s.coldFloorMs!)}; CPU ratio ${r.programVsFloorCpu}`,
        `  steady state      ${st.programVsFloor}  prod ${span(s.steadyProgramMs!)} (${r.programResources} resources) vs floor ${span(s.steadyFloorMs!)}`,
        `models100VsModels1  ${r.models100VsModels1}  (bound ${r.models100VsModels1Bound} = ceil(100 / concurrency ${reg.concurrency}); sequential would be 100)  scope: ${r.models100VsModels1Scope}`,
        `  1 model ${span(s.models1Ms!)}, 100 models ${span(s.models100Ms!)}; ${reg.requests100} registry calls, ${reg.maxInFlight100} in flight at most`,
        `  lookups alone     ${reg.lookupsOnly.ratio}  1 model ${span(s.lookupsOnly1Ms!)}, 100 models ${span(s.lookupsOnly100Ms!)}; at ${reg.delayMs} ms per call the bound is ${reg.boundMs.models1} vs ${reg.boundMs.models100} ms (sequential: ${reg.boundMs.ifSequential} ms)`,
        `renderDevMs         ${r.renderDevMs}  ${span(s.renderDevMs!)}`,
        `machine             ${m.cpus} CPUs, node ${m.node}, load ${m.loadavg.join(" ")}; ${r.runs} runs each, alternating`,
    ].join("\n");
}

/** The program part's options: the registry stand-in's delay per call besides what every part gets. */
export interface ProgramPartOptions extends BenchPartOptions {
    /** Milliseconds the registry stand-in waits before each answer (`--delay-ms`, default 50). */
    readonly delayMs?: number;
}

export const DEFAULT_DELAY_MS = 50;

export const part: BenchPart<BenchResult> = {
    name: "program",
    summary: "the program's evaluation under the render's mocks (no cluster): fresh process and steady state vs a one-resource floor, 100 served models vs 1, the dev render",
    skip: () => undefined,
    run: (opts: ProgramPartOptions) => bench({ root: projectRoot(), runs: opts.runs, delayMs: opts.delayMs ?? DEFAULT_DELAY_MS, log: opts.log }),
    human,
};
