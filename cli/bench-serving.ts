/**
 * The serving part of `npm run bench` (issue 21 part 2): what the callers of a served model feel, in one run,
 * side by side, on one model the trainer logged:
 *
 * - runtime: the platform's `mlflow-pyfunc` ClusterServingRuntime container as KServe runs it for the rendered
 *   InferenceService (KServe's container merge: the model's resources, securityContext and env over the runtime's),
 *   with podman (user, read-only root, emptyDirs, CPU and memory limits from the render);
 * - mlserver: KServe's stock `kserve-mlserver` runtime (v0.20's container, env and defaults; MLServer 1.7.1 +
 *   mlserver-mlflow 1.7.1, images/bench/mlserver) for an InferenceService the platform renders with
 *   `runtime: kserve-mlserver`, Open Inference Protocol (v2) requests with the pandas codec;
 * - floor: the same model's pyfunc `predict` in-process (the serving venv = images/serving/requirements.txt) on
 *   the same rows, one thread: rows/s per core.
 *
 * Both containers get the same limits (the InferenceService's: serving.models[].resources, 1 CPU and 2Gi by
 * default, also what KServe's kserve-mlserver declares). Load: 8 closed-loop keep-alive clients, 1-row and
 * 100-row requests, a warm-up then a fixed window (`--duration`); every answer is checked against the floor's
 * predictions. Cold start: from `podman run` of the storage initializer (KServe's init container, downloading the
 * model from S3) to the first correct prediction, `--runs` samples each.
 *
 * The model: images/trainer's image runs the rendered train-baseline CronJob's container against a real MLflow
 * tracking server (the mlflow venv, SQLite backend: lighter than the tracking image on PostgreSQL, the same
 * server code) with moto's S3 server as the artifact store, on synthetic California-housing rows; the platform
 * resolves the registered version from that registry at render time, and its storage initializer downloads it.
 *
 * Alone: `npx tsx cli/bench-serving.ts [--json] [--duration <s>] [--runs <n>] [--workers <n>] [--threads <n>] [--sweep 1x1,2x1,...]`
 * (--sweep: after the comparison, the runtime under the same load with each workers × threads-per-worker setting:
 * the measurement behind serving.models[].workers' and .threadsPerWorker's defaults).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { KubernetesObject, RenderResult } from "../lib/render";
import { renderStack } from "../lib/render";
import { cpuCores as cpuQuantityCores, type ServingProcesses } from "../config";
import { projectRoot } from "../lib/paths";
import { parseArgs, UsageError } from "./args";
import { percentile, round, stat, type BenchPart, type BenchPartOptions, type Stat } from "./bench-stats";
import { runStandalone } from "./bench-standalone";
import { closedLoopLoad, type LoadRequest, type LoadRun } from "../testbed/http-load";
import { injectedInitializer, isvcModelContainer, kserveMlserverContainers, kserveS3Env, mergeRuntimeContainer, MODEL_VOLUME_MOUNT, type MergeableContainer } from "../testbed/kserve-injection";
import { startMlflowServer, type MlflowServer } from "../testbed/mlflow";
import { startMoto, type S3Server } from "../testbed/moto";
import { containerCpuReader, imageCacheRoot, launchContainer, podman, podmanRunSpec, runToCompletion, type ContainerCpu, type FullContainer, type PodSecurity, type RunningContainer } from "../testbed/podman";
import { freePort } from "../testbed/ports";
import { lastJsonLine, runCommand, tail } from "../testbed/process";
import { findRendered, localEnv, renderedContainer, renderedEnvValue, withFlagValue } from "../testbed/rendered";
import { splitS3 } from "../testbed/s3-objects";
import { ensureVenv, REPO_ROOT } from "../testbed/venv";

export const FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"] as const;
export const CLIENTS = 8;
export const SIZES = [1, 100] as const;
export type Size = (typeof SIZES)[number];
const RUNTIME_MODEL = "california-housing";
const MLSERVER_MODEL = "california-housing-mlserver";
/** images/bench/build.sh's reference for images/bench/mlserver. */
export const BENCH_MLSERVER_IMAGE = "docker.io/mlflow-platform/bench-mlserver:local";
/** Rows of the synthetic training set (the real California-housing set's size). */
const TRAIN_ROWS = 20640;
/** Cold start: the first correct prediction must come within this. */
const COLD_START_TIMEOUT_MS = 300_000;

// ---------------------------------------------------------------------------------------------------------
// Pure parts (unit-tested).

/** The platform runtime's request: MLflow's scoring protocol, `dataframe_split`. */
export function invocationsBody(rows: readonly (readonly number[])[]): string {
    return JSON.stringify({ dataframe_split: { columns: FEATURES, data: rows } });
}

/** MLServer's request: Open Inference Protocol v2 with the pandas codec, one FP64 input per column. */
export function v2InferBody(rows: readonly (readonly number[])[]): string {
    return JSON.stringify({
        parameters: { content_type: "pd" },
        inputs: FEATURES.map((name, j) => ({ name, shape: [rows.length], datatype: "FP64", data: rows.map((r) => r[j]) })),
    });
}

export type Contender = "runtime" | "mlserver";

/** The predictions in a contender's answer body; throws naming what is wrong. */
export function predictionsOf(kind: Contender, body: string): number[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(body);
    } catch {
        throw new Error(`not JSON: ${body.slice(0, 200)}`);
    }
    const values = kind === "runtime" ? (parsed as { predictions?: unknown }).predictions : (parsed as { outputs?: { data?: unknown }[] }).outputs?.[0]?.data;
    if (!Array.isArray(values) || !values.every((v) => typeof v === "number")) throw new Error(`no ${kind === "runtime" ? "predictions" : "outputs[0].data"} array of numbers: ${body.slice(0, 200)}`);
    return values as number[];
}

/** Undefined when `got` equals `want` (each within 1e-9, relative above 1); else what differs. */
export function predictionsDiffer(got: readonly number[], want: readonly number[]): string | undefined {
    if (got.length !== want.length) return `${got.length} predictions, expected ${want.length}`;
    for (let i = 0; i < got.length; i++) {
        if (!(Math.abs(got[i]! - want[i]!) <= 1e-9 * Math.max(1, Math.abs(want[i]!)))) return `prediction ${i} is ${got[i]}, expected ${want[i]}`;
    }
    return undefined;
}

/** The check a load run applies to every answer. */
export function answerCheck(kind: Contender, want: readonly number[]): (status: number, body: string) => string | undefined {
    return (status, body) => {
        if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
        try {
            return predictionsDiffer(predictionsOf(kind, body), want);
        } catch (err) {
            return err instanceof Error ? err.message : String(err);
        }
    };
}

export interface LoadSummary {
    readonly requests: number;
    readonly requestsPerSecond: number;
    readonly rowsPerSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly errors: number;
    readonly firstError?: string;
    /** Rows/s divided by the container's CPU limit (cores). */
    readonly rowsPerSecondPerCore: number;
    /** Rows per CPU-second the container's cgroup used in the window (what the floor reports), when it was read. */
    readonly rowsPerCpuSecond?: number;
    /** CPU the container's cgroup used in the window (seconds), when it was read. */
    readonly cpuSeconds?: number;
    /** Seconds the CPU limit held the container back in the window (CFS throttling). */
    readonly throttledSeconds?: number;
}

export function summarizeLoad(run: LoadRun, rowsPerRequest: number, cpuLimitCores: number, cpu?: { start: ContainerCpu; end: ContainerCpu }): LoadSummary {
    if (!(cpuLimitCores > 0)) throw new RangeError(`cpuLimitCores must be positive (got ${cpuLimitCores})`);
    const seconds = run.windowMs / 1000;
    const n = run.latenciesMs.length;
    const rps = n / seconds;
    const cpuSeconds = cpu ? cpu.end.usageSeconds - cpu.start.usageSeconds : undefined;
    const throttled = cpu?.end.throttledSeconds !== undefined && cpu.start.throttledSeconds !== undefined ? cpu.end.throttledSeconds - cpu.start.throttledSeconds : undefined;
    return {
        requests: n,
        requestsPerSecond: round(rps, 1),
        rowsPerSecond: round(rps * rowsPerRequest, 0),
        p50Ms: n > 0 ? percentile(run.latenciesMs, 50) : NaN,
        p99Ms: n > 0 ? percentile(run.latenciesMs, 99) : NaN,
        errors: run.errors,
        ...(run.firstError !== undefined ? { firstError: run.firstError } : {}),
        rowsPerSecondPerCore: round((rps * rowsPerRequest) / cpuLimitCores, 0),
        ...(cpuSeconds !== undefined && cpuSeconds > 0 ? { rowsPerCpuSecond: round((n * rowsPerRequest) / cpuSeconds, 0) } : {}),
        ...(cpuSeconds !== undefined ? { cpuSeconds: round(cpuSeconds, 2) } : {}),
        ...(throttled !== undefined ? { throttledSeconds: round(throttled, 2) } : {}),
    };
}

/** What the floor script prints for one size. */
export interface FloorRaw {
    readonly predictions: number[];
    readonly latenciesMs: number[];
    readonly wallSeconds: number;
    readonly cpuSeconds: number;
}

export interface FloorSummary {
    readonly calls: number;
    readonly rowsPerSecond: number;
    /** Rows per second of CPU the process used: rows/s per core. */
    readonly rowsPerSecondPerCore: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
}

export function summarizeFloor(raw: FloorRaw, rows: number): FloorSummary {
    const calls = raw.latenciesMs.length;
    if (calls === 0 || !(raw.wallSeconds > 0) || !(raw.cpuSeconds > 0)) throw new RangeError(`floor: no calls measured (${calls} calls, ${raw.wallSeconds} s wall, ${raw.cpuSeconds} s CPU)`);
    return {
        calls,
        rowsPerSecond: round((calls * rows) / raw.wallSeconds, 0),
        rowsPerSecondPerCore: round((calls * rows) / raw.cpuSeconds, 0),
        p50Ms: percentile(raw.latenciesMs, 50),
        p99Ms: percentile(raw.latenciesMs, 99),
    };
}

export interface SizeRatios {
    /** runtime requests/s ÷ MLServer's (goal ≥ 1). */
    readonly throughputVsMlserver: number;
    /** runtime p99 ÷ MLServer's (goal ≤ 1). */
    readonly p99VsMlserver: number;
    /** floor rows/s per core ÷ runtime rows/s per core (goal ≤ 2 at 100 rows). */
    readonly floorPerCoreVsRuntime: number;
    /**
     * floor rows per CPU-second ÷ runtime rows per CPU-second its container used (both what the CPU did, whatever
     * else the shared machine ran): the goal is judged on this one (≤ 2 at 100 rows); NaN without the cgroup's CPU.
     */
    readonly floorPerCpuVsRuntime: number;
    readonly floorPerCoreVsMlserver: number;
}

export function sizeRatios(runtime: LoadSummary, mlserver: LoadSummary, floor: FloorSummary): SizeRatios {
    const r = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? round(a / b, 2) : NaN);
    return {
        throughputVsMlserver: r(runtime.requestsPerSecond, mlserver.requestsPerSecond),
        p99VsMlserver: r(runtime.p99Ms, mlserver.p99Ms),
        floorPerCoreVsRuntime: r(floor.rowsPerSecondPerCore, runtime.rowsPerSecondPerCore),
        floorPerCpuVsRuntime: r(floor.rowsPerSecondPerCore, runtime.rowsPerCpuSecond ?? NaN),
        floorPerCoreVsMlserver: r(floor.rowsPerSecondPerCore, mlserver.rowsPerSecondPerCore),
    };
}

export interface Goal {
    readonly goal: string;
    readonly value: number;
    readonly met: boolean;
}

/** The issue's goals, each with the measured value it is judged on. */
export function servingGoals(ratios: Record<`${Size}`, SizeRatios>, coldStartMedianMs: number, errors: number): Goal[] {
    const goals: Goal[] = [];
    for (const size of SIZES) {
        const r = ratios[`${size}`];
        goals.push({ goal: `${size} row${size === 1 ? "" : "s"}: requests/s at least MLServer's (runtime ÷ MLServer ≥ 1)`, value: r.throughputVsMlserver, met: r.throughputVsMlserver >= 1 });
        goals.push({ goal: `${size} row${size === 1 ? "" : "s"}: p99 no worse than MLServer's (runtime ÷ MLServer ≤ 1)`, value: r.p99VsMlserver, met: r.p99VsMlserver <= 1 });
    }
    const r100 = ratios["100"];
    goals.push({ goal: "100 rows: rows per CPU-second within 2× of the in-process floor's (floor ÷ runtime ≤ 2; the runtime's CPU from its cgroup)", value: r100.floorPerCpuVsRuntime, met: r100.floorPerCpuVsRuntime <= 2 });
    goals.push({ goal: "cold start ≤ 10 s (container start → first correct prediction, download included; median, s)", value: round(coldStartMedianMs / 1000, 1), met: coldStartMedianMs <= 10_000 });
    goals.push({ goal: "every answer under load correct (wrong or failed answers)", value: errors, met: errors === 0 });
    return goals;
}

/** A Kubernetes CPU quantity in cores ("1" → 1, "500m" → 0.5). */
export function cpuCores(q: string): number {
    const cores = cpuQuantityCores(q);
    if (cores === undefined) throw new Error(`CPU quantity "${q}" not understood (use e.g. "1", "1.5" or "500m")`);
    return cores;
}

/** Warm-up before each measured window: a fifth of it, between 2 and 5 s. */
export function warmupSeconds(durationSeconds: number): number {
    return Math.min(5, Math.max(2, durationSeconds / 5));
}

export interface StandaloneArgs {
    readonly json: boolean;
    readonly durationSeconds: number;
    readonly runs: number;
    readonly workers?: number;
    readonly threadsPerWorker?: number;
    readonly sweep?: ServingProcesses[];
}

/** `npx tsx cli/bench-serving.ts` arguments; a UsageError names the bad one. */
export function parseStandaloneArgs(argv: readonly string[]): StandaloneArgs {
    const args = parseArgs(argv, {
        json: { type: "boolean", description: "print the result as JSON" },
        duration: { type: "string", default: "10", description: "seconds of each measured load window" },
        runs: { type: "string", default: "5", description: "cold-start samples per contender" },
        workers: { type: "string", description: "serving.models[].workers of the runtime's model (default: the platform's default)" },
        threads: { type: "string", description: "serving.models[].threadsPerWorker of the runtime's model (default: the platform's default)" },
        sweep: { type: "string", description: "after the comparison, load the runtime with each <workers>x<threads> setting, e.g. 1x1,2x1,1x2" },
    });
    const durationSeconds = Number(args.values.duration);
    if (!Number.isFinite(durationSeconds) || durationSeconds < 1 || durationSeconds > 3600) throw new UsageError(`--duration must be a number of seconds from 1 to 3600 (got "${args.values.duration}")`);
    const runs = Number(args.values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError(`--runs must be an integer from 1 to 50 (got "${args.values.runs}")`);
    let workers: number | undefined;
    if (args.values.workers !== undefined) {
        workers = Number(args.values.workers);
        if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer (got "${args.values.workers}")`);
    }
    let threadsPerWorker: number | undefined;
    if (args.values.threads !== undefined) {
        threadsPerWorker = Number(args.values.threads);
        if (!Number.isInteger(threadsPerWorker) || threadsPerWorker < 1) throw new UsageError(`--threads must be a positive integer (got "${args.values.threads}")`);
    }
    const sweep = args.values.sweep !== undefined ? parseSweep(args.values.sweep) : undefined;
    return { json: args.values.json, durationSeconds, runs, ...(workers !== undefined ? { workers } : {}), ...(threadsPerWorker !== undefined ? { threadsPerWorker } : {}), ...(sweep ? { sweep } : {}) };
}

/** `--sweep 1x1,2x1`: the runtime settings (workers × threads per worker) to load one after the other. */
export function parseSweep(v: string): ServingProcesses[] {
    const out = v.split(",").map((part) => {
        const m = /^([1-9][0-9]?)x([1-9][0-9]?)$/.exec(part.trim());
        if (!m) throw new UsageError(`--sweep takes <workers>x<threads> settings separated by commas, such as 1x1,2x1,1x2 (got "${part}" in "${v}")`);
        return { workers: Number(m[1]), threadsPerWorker: Number(m[2]) };
    });
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// The result.

export interface ColdStart {
    /** podman run of the storage initializer → first correct prediction. */
    readonly totalMs: Stat;
    /** The storage initializer's run (download from S3), container start and exit included. */
    readonly initializerMs: Stat;
    /** Server container start → first correct prediction. */
    readonly serverMs: Stat;
}

export interface SizeResult {
    readonly runtime: LoadSummary;
    readonly mlserver: LoadSummary;
    readonly floor: FloorSummary;
    readonly ratios: SizeRatios;
}

export interface ServingBench {
    readonly setup: {
        readonly model: string;
        readonly path: string;
        readonly limits: { readonly cpu: string; readonly memory: string };
        readonly clients: number;
        readonly durationSeconds: number;
        readonly warmupSeconds: number;
        readonly coldStartRuns: number;
        readonly runtime: { readonly image: string; readonly command: string[]; readonly env: Record<string, string>; readonly processes: ServingProcesses };
        readonly mlserver: { readonly image: string; readonly env: Record<string, string> };
        readonly floor: string;
    };
    readonly machine: { readonly cpus: number; readonly loadavgBefore: number[]; readonly loadavgAfter: number[] };
    readonly sizes: Record<`${Size}`, SizeResult>;
    readonly coldStart: { readonly runtime: ColdStart; readonly mlserver: ColdStart };
    readonly goals: Goal[];
    /** --sweep: the runtime under the same load with each setting (workers × threads per worker). */
    readonly sweep?: SweepResult[];
}

export interface SweepResult extends ServingProcesses {
    readonly sizes: Record<`${Size}`, LoadSummary>;
}

/** The env that sets a runtime container's processes (as manifests/serving.ts renders serving.models[].workers, .threadsPerWorker). */
export function processEnv(p: ServingProcesses): Record<string, string> {
    const t = String(p.threadsPerWorker);
    return { MLFLOW_MODELS_WORKERS: String(p.workers), OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
}

/** The processes a runtime container's env sets (the rendered defaults, or the model's config). */
export function processesOf(env: Record<string, string>): ServingProcesses {
    const workers = Number(env.MLFLOW_MODELS_WORKERS);
    const threadsPerWorker = Number(env.OMP_NUM_THREADS);
    if (!Number.isInteger(workers) || !Number.isInteger(threadsPerWorker)) throw new Error(`the runtime container's env sets no MLFLOW_MODELS_WORKERS / OMP_NUM_THREADS (got ${JSON.stringify(env)})`);
    return { workers, threadsPerWorker };
}

// ---------------------------------------------------------------------------------------------------------
// The floor: the model's predict in the serving venv.

const FLOOR_PY = String.raw`
import json, os, sys, time
import mlflow.pyfunc
import pandas as pd
spec = json.load(sys.stdin)
model = mlflow.pyfunc.load_model(spec["model"])
out = {}
for size, rows in spec["sizes"].items():
    df = pd.DataFrame(rows, columns=spec["columns"], dtype="float64")
    pred = [float(x) for x in model.predict(df)]
    end = time.perf_counter() + spec["warmup"]
    while time.perf_counter() < end:
        model.predict(df)
    lat = []
    c0 = time.process_time(); t0 = time.perf_counter(); end = t0 + spec["duration"]
    while True:
        s = time.perf_counter(); model.predict(df); e = time.perf_counter()
        lat.append((e - s) * 1000)
        if e >= end:
            break
    out[size] = {"predictions": pred, "latenciesMs": lat, "wallSeconds": e - t0, "cpuSeconds": time.process_time() - c0}
print(json.dumps(out))
`;

async function runFloor(modelDir: string, rows: Record<`${Size}`, number[][]>, warmup: number, duration: number): Promise<Record<`${Size}`, FloorRaw>> {
    const venv = await ensureVenv("serving");
    // One thread (OpenMP, BLAS): the floor is what one core does.
    const threads = { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
    const r = await runCommand(venv.python, ["-c", FLOOR_PY], {
        env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), MLFLOW_DISABLE_TELEMETRY: "true", DO_NOT_TRACK: "true", PYTHONDONTWRITEBYTECODE: "1", ...threads },
        input: JSON.stringify({ model: modelDir, columns: FEATURES, sizes: rows, warmup, duration }),
        timeoutMs: (SIZES.length * (warmup + duration) + 300) * 1000,
    });
    if (r.code !== 0) throw new Error(`the floor (serving venv) exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    return lastJsonLine<Record<`${Size}`, FloorRaw>>(r, "the floor");
}

// ---------------------------------------------------------------------------------------------------------
// Orchestration.

interface Served {
    readonly kind: Contender;
    readonly label: string;
    readonly url: string;
    readonly request: Record<`${Size}`, LoadRequest>;
    /** A fresh container spec (its own name) serving `modelDir`. */
    spec(modelDir: string): ReturnType<typeof podmanRunSpec>;
}

function jsonRequest(p: string, body: string): LoadRequest {
    return { method: "POST", path: p, headers: { "Content-Type": "application/json" }, body: Buffer.from(body) };
}

/** The predictor pod fields of a rendered InferenceService the bench reads. */
type RenderedIsvc = KubernetesObject & { spec: { predictor: { securityContext?: PodSecurity; model: Record<string, unknown> & { storageUri: string; resources?: FullContainer["resources"] } } } };

/**
 * The MLServer image's contract for users other than its own (1000): they are in group 0, as OpenShift runs
 * arbitrary UIDs. Its working directory /opt/mlserver is 1000:0 mode 776, not searchable by others, so under the
 * platform's predictor pod user alone (10001:10001) MLServer exits at once (PermissionError stat'ing .env, seen
 * here). The bench adds group 0 so the contender runs as its image expects; a platform model opted into
 * kserve-mlserver with the official image would need the same (supplementalGroups: [0]).
 */
export function mlserverPodSecurity(pod: PodSecurity | undefined): PodSecurity {
    return { ...pod, supplementalGroups: [...(pod?.supplementalGroups ?? []).filter((g) => g !== 0), 0] };
}

function withEnv(env: Record<string, string>, set: Record<string, string>): Record<string, string> {
    for (const k of Object.keys(set)) if (!(k in env)) throw new Error(`the container has no env ${k} to substitute (have: ${Object.keys(env).join(", ")})`);
    return { ...env, ...set };
}

async function waitForCorrect(c: RunningContainer, url: string, req: LoadRequest, check: (s: number, b: string) => string | undefined, label: string): Promise<void> {
    let exited: string | undefined;
    void c.proc.exited.then(({ code, signal }) => (exited = `exited with ${code ?? signal}`));
    const deadline = Date.now() + COLD_START_TIMEOUT_MS;
    let last = "no answer";
    for (;;) {
        try {
            const res = await fetch(url + req.path, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(10_000) });
            const body = await res.text();
            const wrong = check(res.status, body);
            if (wrong === undefined) return;
            last = wrong;
        } catch (err) {
            last = err instanceof Error ? err.message : String(err);
        }
        if (exited !== undefined || Date.now() > deadline) throw new Error(`${label}: ${exited ?? `no correct prediction within ${COLD_START_TIMEOUT_MS / 1000} s`} (last: ${last}); output:\n${tail(c.proc.output(), 40)}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** The project images the part runs (images/build.sh names). */
const PROJECT_IMAGES = ["trainer", "serving", "storage-initializer"] as const;

/** `images/build.sh --list <names>`: name → reference, input hash and archive, for this checkout (no build, no root). */
function buildList(names: readonly string[]): Map<string, { ref: string; inputs: string; archive: string }> {
    const r = spawnSync("bash", [path.join(REPO_ROOT, "images", "build.sh"), "--list", ...names], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`images/build.sh --list exited ${r.status}: ${r.stderr.trim()}`);
    return new Map(r.stdout.trim().split("\n").map((l) => l.split(" ")).map(([name, ref, inputs, archive]) => [name!, { ref: ref!, inputs: inputs!, archive: archive! }]));
}

/** Why the part cannot run here, or undefined. Cheap and synchronous: no build, no service. */
export function servingSkipReason(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root (podman as images/build.sh sets it up)";
    if (!fs.existsSync(path.join(imageCacheRoot(), "containers", "env"))) return "the images are not built: run images/build.sh, then images/bench/build.sh mlserver";
    const listed = buildList(PROJECT_IMAGES);
    const missing = PROJECT_IMAGES.filter((n) => !fs.existsSync(listed.get(n)?.archive ?? ""));
    if (missing.length > 0) return `images/build.sh has not built ${missing.join(", ")} from this checkout's inputs: run images/build.sh ${missing.join(" ")}`;
    const check = spawnSync("bash", [path.join(REPO_ROOT, "images", "bench", "build.sh"), "--check", "mlserver"], { encoding: "utf8" });
    if (check.status !== 0) return `the MLServer contender's image is not built from its current inputs: run images/bench/build.sh mlserver (${(check.stdout + check.stderr).trim().split("\n").pop()})`;
    return undefined;
}

/**
 * Loads this checkout's builds of the images into containers storage (images/build.sh with their names: cached
 * archives, seconds) and checks each reference carries its input hash (another checkout's build.sh may retag them).
 */
async function ensureBenchImages(): Promise<void> {
    const r = await runCommand("bash", [path.join(REPO_ROOT, "images", "build.sh"), ...PROJECT_IMAGES], { timeoutMs: 75 * 60_000 });
    if (r.code !== 0) throw new Error(`images/build.sh ${PROJECT_IMAGES.join(" ")} exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
    const check = await runCommand("bash", [path.join(REPO_ROOT, "images", "bench", "build.sh"), "--check", "mlserver"]);
    if (check.code !== 0) throw new Error(`run images/bench/build.sh mlserver first: ${check.stdout.trim()}`);
    await checkImageLabels();
}

/** Throws unless each project image in containers storage is this checkout's build (its input hash label). */
async function checkImageLabels(): Promise<void> {
    for (const [name, b] of buildList(PROJECT_IMAGES)) {
        const r = await podman(["image", "inspect", "--format", '{{index .Labels "io.mlflow-platform.inputs"}}', b.ref]);
        if (r.stdout.trim() !== b.inputs) throw new Error(`${b.ref} in containers storage is not this checkout's ${name} build (label ${r.stdout.trim() || "none"}, expected ${b.inputs}): another checkout's images/build.sh replaced it meanwhile`);
    }
}

export interface ServingRunOptions extends BenchPartOptions {
    /** serving.models[].workers of the runtime's model; undefined: the platform's default. */
    readonly workers?: number;
    /** serving.models[].threadsPerWorker of the runtime's model; undefined: the platform's default. */
    readonly threadsPerWorker?: number;
    /** Runtime settings to load after the comparison (the evidence for the defaults). */
    readonly sweep?: readonly ServingProcesses[];
}

export async function runServingBench(opts: ServingRunOptions): Promise<ServingBench> {
    const log = opts.log;
    const loadavgBefore = os.loadavg().map((x) => round(x, 2));
    const warmup = warmupSeconds(opts.durationSeconds);
    const stops: (() => Promise<unknown>)[] = [];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-bench-serving-"));
    stops.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));
    try {
        await ensureBenchImages();

        // ---- services: S3 (moto), the MLflow tracking server -------------------------------------------
        const bucket = `bench-${Date.now().toString(36)}`;
        const moto: S3Server = await startMoto();
        stops.push(() => moto.stop());
        await moto.createBucket(bucket);
        const keys = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey };
        const port = await freePort();
        const server: MlflowServer = await startMlflowServer({
            args: ["server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${path.join(tmp, "mlflow.db")}`, "--default-artifact-root", `s3://${bucket}/`, "--no-serve-artifacts", "--workers", "1"],
            env: moto.env(),
        });
        stops.push(() => server.stop());
        log(`serving: MLflow ${server.url}, moto ${moto.endpoint}, bucket ${bucket}`);

        // ---- the model: the trainer image, as the rendered CronJob runs it -------------------------------
        const sets = [`artifactStore.minio.bucketName=${bucket}`];
        const r1 = await renderStack({ root: projectRoot(), stack: "local", sets });
        const cron = findRendered(r1, "CronJob", "train-baseline");
        const trainer = renderedContainer(cron, "trainer") as FullContainer;
        const csvPath = path.join(tmp, "california_housing.csv");
        const trainerVenv = await ensureVenv("trainer");
        const gen = await runCommand(trainerVenv.python, [path.join(REPO_ROOT, "images", "trainer", "make_synthetic_data.py"), "--rows", String(TRAIN_ROWS), "--seed", "11", "--out", csvPath], { timeoutMs: 300_000 });
        if (gen.code !== 0) throw new Error(`make_synthetic_data.py exited ${gen.code}: ${tail(gen.stderr, 10)}`);
        const csv = fs.readFileSync(csvPath, "utf8");
        const dataset = splitS3(renderedEnvValue(trainer, "DATASET_S3_PATH"));
        const s3 = moto.client();
        try {
            await s3.send(new PutObjectCommand({ Bucket: dataset.bucket, Key: dataset.key, Body: csv }));
        } finally {
            s3.destroy();
        }
        const s3Replace = { MLFLOW_S3_ENDPOINT_URL: moto.endpoint, AWS_ENDPOINT_URL_S3: moto.endpoint };
        const trainSpec = podmanRunSpec(cron, trainer, { env: localEnv(trainer, { secrets: keys, replace: { MLFLOW_TRACKING_URI: server.url, ...s3Replace } }) });
        const t0 = Date.now();
        const trained = await runToCompletion(trainSpec, 900_000);
        if (trained.code !== 0) throw new Error(`the trainer container exited ${trained.code}:\n${tail(trained.stdout + trained.stderr, 30)}`);
        const summary = lastJsonLine<{ registered_model_name: string; version: number; model_uri: string }>(trained, "train.py");
        log(`serving: trainer image logged ${summary.registered_model_name} v${summary.version} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

        // ---- the render that serves it: the platform's runtime, and KServe's MLServer for a second model ----
        const pinned = { registeredModel: summary.registered_model_name, version: String(summary.version), minReplicas: 1, maxReplicas: 1 };
        const models = [
            { name: RUNTIME_MODEL, ...pinned, ...(opts.workers !== undefined ? { workers: opts.workers } : {}), ...(opts.threadsPerWorker !== undefined ? { threadsPerWorker: opts.threadsPerWorker } : {}) },
            { name: MLSERVER_MODEL, ...pinned, runtime: "kserve-mlserver" },
        ];
        const saved = { ...process.env };
        let r2: RenderResult;
        try {
            // The render reads MLmodel under the resolved storageUri (serving.verifyArtifacts) from moto.
            Object.assign(process.env, keys, { AWS_ENDPOINT_URL_S3: moto.endpoint });
            r2 = await renderStack({ root: projectRoot(), stack: "local", sets: [...sets, `serving.models=${JSON.stringify(models)}`], mlflowUri: server.url });
        } finally {
            for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"]) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
        }
        const isvc = findRendered(r2, "InferenceService", RUNTIME_MODEL) as RenderedIsvc;
        const isvcMl = findRendered(r2, "InferenceService", MLSERVER_MODEL) as RenderedIsvc;
        const storageUri = isvc.spec.predictor.model.storageUri;
        if (isvcMl.spec.predictor.model.storageUri !== storageUri) throw new Error("the two InferenceServices resolved different storage URIs");
        const csc = findRendered(r2, "ClusterStorageContainer", /^mlflow-platform-/);
        const initEnv = kserveS3Env(findRendered(r2, "Secret", "mlflow-aws-credentials"), keys, moto.endpoint);
        const initializer = injectedInitializer(csc, storageUri) as FullContainer;
        const initSpec = (modelDir: string, pod: PodSecurity | undefined) => podmanRunSpec(csc, initializer, { env: initEnv, extraMounts: [{ hostPath: modelDir, mountPath: MODEL_VOLUME_MOUNT, readOnly: false }], pod: { securityContext: pod } });
        let dirs = 0;
        const freshModelDir = () => {
            const d = path.join(tmp, `mnt-models-${++dirs}`);
            fs.mkdirSync(d, { mode: 0o777 });
            fs.chmodSync(d, 0o777); // an emptyDir: world-writable
            return d;
        };

        // The platform's runtime: the ClusterServingRuntime's container with the InferenceService's merged over it.
        const csr = findRendered(r2, "ClusterServingRuntime", "mlflow-pyfunc");
        const runtimeMerged = mergeRuntimeContainer(renderedContainer(csr, "kserve-container") as MergeableContainer, isvcModelContainer(isvc.spec.predictor.model)) as FullContainer;
        const runtimePort = await freePort();
        const runtimeArgs = withFlagValue(withFlagValue(runtimeMerged.args ?? [], ["-h", "--host"], "127.0.0.1"), ["-p", "--port"], String(runtimePort));
        const runtimeEnv = localEnv(runtimeMerged);
        const limits = { cpu: runtimeMerged.resources?.limits?.cpu ?? "", memory: runtimeMerged.resources?.limits?.memory ?? "" };

        // KServe's kserve-mlserver for the InferenceService the platform renders with runtime kserve-mlserver.
        const ml = kserveMlserverContainers(MLSERVER_MODEL, BENCH_MLSERVER_IMAGE);
        const mlMerged = mergeRuntimeContainer(mergeRuntimeContainer(ml.runtime, ml.modelDefaults), isvcModelContainer(isvcMl.spec.predictor.model)) as FullContainer;
        const mlLimits = { cpu: mlMerged.resources?.limits?.cpu ?? "", memory: mlMerged.resources?.limits?.memory ?? "" };
        if (mlLimits.cpu !== limits.cpu || mlLimits.memory !== limits.memory) throw new Error(`the contenders' limits differ: runtime ${JSON.stringify(limits)}, MLServer ${JSON.stringify(mlLimits)}`);
        const [mlHttp, mlGrpc, mlMetrics] = [await freePort(), await freePort(), await freePort()];
        // Substituted (host network): the ports, and the listen address (127.0.0.1, not MLServer's 0.0.0.0).
        const mlEnv = { ...withEnv(localEnv(mlMerged), { MLSERVER_HTTP_PORT: String(mlHttp), MLSERVER_GRPC_PORT: String(mlGrpc) }), MLSERVER_METRICS_PORT: String(mlMetrics), MLSERVER_HOST: "127.0.0.1" };
        const mlRuntimeObject: KubernetesObject = { apiVersion: "serving.kserve.io/v1alpha1", kind: "ClusterServingRuntime", metadata: { name: "kserve-mlserver" }, spec: { containers: [mlMerged] } };

        const rowsAll = csv.trim().split("\n");
        const header = rowsAll[0]!.split(",");
        const rows = rowsAll.slice(1, 101).map((l) => { const v = l.split(","); return FEATURES.map((f) => Number(v[header.indexOf(f)])); });
        const sizedRows = { "1": rows.slice(0, 1), "100": rows.slice(0, 100) } as Record<`${Size}`, number[][]>;
        const contenders: Served[] = [
            {
                kind: "runtime", label: "platform runtime (mlflow-pyfunc)", url: `http://127.0.0.1:${runtimePort}`,
                request: { "1": jsonRequest("/invocations", invocationsBody(sizedRows["1"])), "100": jsonRequest("/invocations", invocationsBody(sizedRows["100"])) },
                spec: (modelDir) => podmanRunSpec(csr, runtimeMerged, { env: runtimeEnv, args: runtimeArgs, extraMounts: [{ hostPath: modelDir, mountPath: MODEL_VOLUME_MOUNT, readOnly: true }], pod: { securityContext: isvc.spec.predictor.securityContext } }),
            },
            {
                kind: "mlserver", label: "KServe kserve-mlserver (MLServer 1.7.1)", url: `http://127.0.0.1:${mlHttp}`,
                request: { "1": jsonRequest(`/v2/models/${MLSERVER_MODEL}/infer`, v2InferBody(sizedRows["1"])), "100": jsonRequest(`/v2/models/${MLSERVER_MODEL}/infer`, v2InferBody(sizedRows["100"])) },
                spec: (modelDir) => podmanRunSpec(mlRuntimeObject, mlMerged, { env: mlEnv, extraMounts: [{ hostPath: modelDir, mountPath: MODEL_VOLUME_MOUNT, readOnly: true }], pod: { securityContext: mlserverPodSecurity(isvcMl.spec.predictor.securityContext) } }),
            },
        ];

        // ---- the floor (and the expected predictions), on a quiet machine -------------------------------
        const floorDir = freshModelDir();
        const floorInit = await runToCompletion(initSpec(floorDir, isvc.spec.predictor.securityContext), 300_000);
        if (floorInit.code !== 0) throw new Error(`the storage initializer exited ${floorInit.code}:\n${tail(floorInit.stdout + floorInit.stderr, 20)}`);
        log(`serving: the floor (serving venv, one thread), ${warmup} s warm-up + ${opts.durationSeconds} s per size`);
        const floorRaw = await runFloor(floorDir, sizedRows, warmup, opts.durationSeconds);
        const want = { "1": floorRaw["1"].predictions, "100": floorRaw["100"].predictions };

        // ---- cold start: storage initializer + server, to the first correct prediction; alternating -----
        const running: Partial<Record<Contender, RunningContainer>> = {};
        stops.push(async () => { for (const c of Object.values(running)) await c?.stop(2); });
        const cold: Record<Contender, { total: number[]; init: number[]; server: number[] }> = { runtime: { total: [], init: [], server: [] }, mlserver: { total: [], init: [], server: [] } };
        for (let i = 0; i < opts.runs; i++) {
            for (const c of i % 2 === 0 ? contenders : [...contenders].reverse()) {
                await running[c.kind]?.stop(2);
                delete running[c.kind];
                const dir = freshModelDir();
                const pod = (c.kind === "runtime" ? isvc : isvcMl).spec.predictor.securityContext;
                const t0c = performance.now();
                const init = await runToCompletion(initSpec(dir, pod), 300_000);
                const t1 = performance.now();
                if (init.code !== 0) throw new Error(`the storage initializer exited ${init.code}:\n${tail(init.stdout + init.stderr, 20)}`);
                const container = launchContainer(c.spec(dir));
                running[c.kind] = container;
                await waitForCorrect(container, c.url, c.request["1"], answerCheck(c.kind, want["1"]), c.label);
                const t2 = performance.now();
                cold[c.kind].total.push(t2 - t0c);
                cold[c.kind].init.push(t1 - t0c);
                cold[c.kind].server.push(t2 - t1);
                log(`serving: cold start ${i + 1}/${opts.runs} ${c.kind}: ${((t2 - t0c) / 1000).toFixed(1)} s (initializer ${((t1 - t0c) / 1000).toFixed(1)} s)`);
            }
        }
        await checkImageLabels();
        // Both answer the 100-row request like the floor before any load.
        for (const c of contenders) {
            const res = await fetch(c.url + c.request["100"].path, { method: "POST", headers: c.request["100"].headers, body: c.request["100"].body });
            const wrong = answerCheck(c.kind, want["100"])(res.status, await res.text());
            if (wrong) throw new Error(`${c.label}: the 100-row answer differs from the floor's: ${wrong}`);
        }

        // ---- load: each size, the contenders one after the other (alternating order) --------------------
        const cpuLimit = cpuCores(limits.cpu);
        const load: Record<`${Size}`, Partial<Record<Contender, LoadSummary>>> = { "1": {}, "100": {} };
        for (const [k, size] of SIZES.entries()) {
            for (const c of k % 2 === 0 ? contenders : [...contenders].reverse()) {
                const readCpu = await containerCpuReader(running[c.kind]!.spec.name);
                const cpu: { start?: ContainerCpu; end?: ContainerCpu } = {};
                log(`serving: load ${c.kind}, ${size} row(s), ${CLIENTS} clients, ${warmup} s warm-up + ${opts.durationSeconds} s`);
                const run = await closedLoopLoad({
                    baseUrl: c.url, request: c.request[`${size}`], clients: CLIENTS, warmupMs: warmup * 1000, durationMs: opts.durationSeconds * 1000,
                    check: answerCheck(c.kind, want[`${size}`]),
                    onWindow: (edge) => void (cpu[edge] = readCpu()),
                });
                const s = summarizeLoad(run, size, cpuLimit, cpu.start && cpu.end ? { start: cpu.start, end: cpu.end } : undefined);
                load[`${size}`][c.kind] = s;
                log(`serving:   ${s.requestsPerSecond} req/s, ${s.rowsPerSecond} rows/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, errors ${s.errors}, CPU ${s.cpuSeconds ?? "?"} s (throttled ${s.throttledSeconds ?? "?"} s)`);
            }
        }

        // ---- --sweep: the runtime alone with each setting, on the same model, under the same load -------------
        const sweep: SweepResult[] = [];
        const runtimeC = contenders.find((c) => c.kind === "runtime")!;
        for (const setting of opts.sweep ?? []) {
            await running.runtime?.stop(2);
            delete running.runtime;
            const spec = podmanRunSpec(csr, runtimeMerged, { env: withEnv(runtimeEnv, processEnv(setting)), args: runtimeArgs, extraMounts: [{ hostPath: floorDir, mountPath: MODEL_VOLUME_MOUNT, readOnly: true }], pod: { securityContext: isvc.spec.predictor.securityContext } });
            const container = launchContainer(spec);
            running.runtime = container;
            await waitForCorrect(container, runtimeC.url, runtimeC.request["1"], answerCheck("runtime", want["1"]), `${runtimeC.label} ${setting.workers}x${setting.threadsPerWorker}`);
            const bySize = {} as Record<`${Size}`, LoadSummary>;
            for (const size of SIZES) {
                const readCpu = await containerCpuReader(container.spec.name);
                const cpu: { start?: ContainerCpu; end?: ContainerCpu } = {};
                const run = await closedLoopLoad({
                    baseUrl: runtimeC.url, request: runtimeC.request[`${size}`], clients: CLIENTS, warmupMs: warmup * 1000, durationMs: opts.durationSeconds * 1000,
                    check: answerCheck("runtime", want[`${size}`]),
                    onWindow: (edge) => void (cpu[edge] = readCpu()),
                });
                const s = summarizeLoad(run, size, cpuLimit, cpu.start && cpu.end ? { start: cpu.start, end: cpu.end } : undefined);
                bySize[`${size}`] = s;
                log(`serving: sweep ${setting.workers} worker(s) x ${setting.threadsPerWorker} thread(s), ${size} row(s): ${s.requestsPerSecond} req/s, ${s.rowsPerSecond} rows/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, errors ${s.errors}, CPU ${s.cpuSeconds ?? "?"} s (throttled ${s.throttledSeconds ?? "?"} s)`);
            }
            sweep.push({ ...setting, sizes: bySize });
        }

        const sizes = {} as Record<`${Size}`, SizeResult>;
        for (const size of SIZES) {
            const key = `${size}` as const;
            const floor = summarizeFloor(floorRaw[key], size);
            const runtime = load[key].runtime!;
            const mlserver = load[key].mlserver!;
            sizes[key] = { runtime, mlserver, floor, ratios: sizeRatios(runtime, mlserver, floor) };
        }
        const coldStart = {
            runtime: { totalMs: stat(cold.runtime.total), initializerMs: stat(cold.runtime.init), serverMs: stat(cold.runtime.server) },
            mlserver: { totalMs: stat(cold.mlserver.total), initializerMs: stat(cold.mlserver.init), serverMs: stat(cold.mlserver.server) },
        };
        const errors = SIZES.reduce((n, s) => n + sizes[`${s}`].runtime.errors, 0);
        const goals = servingGoals({ "1": sizes["1"].ratios, "100": sizes["100"].ratios }, coldStart.runtime.totalMs.median, errors);
        // As run: the rendered command, host and port substituted (host network, 127.0.0.1, a free port).
        const runtimeCommand = [...(runtimeMerged.command ?? []), ...runtimeArgs];
        return {
            setup: {
                model: `${summary.registered_model_name} v${summary.version} (${storageUri})`,
                path: `images/trainer (rendered train-baseline CronJob, ${TRAIN_ROWS} synthetic rows) → MLflow tracking server (mlflow venv, SQLite) + moto S3; render resolves the version; images/storage-initializer downloads it`,
                limits,
                clients: CLIENTS,
                durationSeconds: opts.durationSeconds,
                warmupSeconds: warmup,
                coldStartRuns: opts.runs,
                runtime: { image: runtimeMerged.image ?? "", command: runtimeCommand, env: runtimeEnv, processes: processesOf(runtimeEnv) },
                mlserver: { image: mlMerged.image ?? "", env: localEnv(mlMerged) },
                floor: "mlflow.pyfunc.load_model(...).predict(DataFrame) in the serving venv, OMP/BLAS threads 1",
            },
            machine: { cpus: os.cpus().length, loadavgBefore, loadavgAfter: os.loadavg().map((x) => round(x, 2)) },
            sizes,
            coldStart,
            goals,
            ...(sweep.length > 0 ? { sweep } : {}),
        };
    } finally {
        for (const stop of stops.reverse()) {
            try {
                await stop();
            } catch (err) {
                log(`serving: cleanup: ${err instanceof Error ? err.message : String(err)}`);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Output.

function span(s: Stat, unit = "s", div = 1000): string {
    return `${round(s.median / div, 1)} ${unit} (${round(s.min / div, 1)}-${round(s.max / div, 1)})`;
}

export function servingHuman(r: ServingBench): string {
    const lines: string[] = [];
    lines.push(`serving             ${r.setup.model}`);
    lines.push(`  limits            cpu ${r.setup.limits.cpu}, memory ${r.setup.limits.memory} for each container; ${r.setup.clients} keep-alive clients; ${r.setup.warmupSeconds} s warm-up + ${r.setup.durationSeconds} s window`);
    lines.push(`  machine           ${r.machine.cpus} CPUs, load ${r.machine.loadavgBefore.join(" ")} before, ${r.machine.loadavgAfter.join(" ")} after`);
    const row = (name: string, rps: number | string, rows: number, perCore: number, p50: number, p99: number, extra = "") =>
        `  ${name.padEnd(18)}${String(rps).padStart(9)} ${String(rows).padStart(9)} ${String(perCore).padStart(12)} ${String(p50).padStart(9)} ${String(p99).padStart(9)}${extra}`;
    for (const size of SIZES) {
        const s = r.sizes[`${size}`];
        lines.push(`  ${size} row${size === 1 ? "" : "s"}/request      req/s    rows/s  rows/s/core   p50 ms    p99 ms`);
        lines.push(row("runtime", s.runtime.requestsPerSecond, s.runtime.rowsPerSecond, s.runtime.rowsPerSecondPerCore, s.runtime.p50Ms, s.runtime.p99Ms, s.runtime.errors ? `  ${s.runtime.errors} errors: ${s.runtime.firstError}` : ""));
        lines.push(row("mlserver", s.mlserver.requestsPerSecond, s.mlserver.rowsPerSecond, s.mlserver.rowsPerSecondPerCore, s.mlserver.p50Ms, s.mlserver.p99Ms, s.mlserver.errors ? `  ${s.mlserver.errors} errors: ${s.mlserver.firstError}` : ""));
        lines.push(row("floor (in-process)", "-", s.floor.rowsPerSecond, s.floor.rowsPerSecondPerCore, s.floor.p50Ms, s.floor.p99Ms));
        lines.push(`  CPU used          runtime ${s.runtime.cpuSeconds ?? "?"} s (${s.runtime.rowsPerCpuSecond ?? "?"} rows/CPU-s, throttled ${s.runtime.throttledSeconds ?? "?"} s); MLServer ${s.mlserver.cpuSeconds ?? "?"} s (${s.mlserver.rowsPerCpuSecond ?? "?"} rows/CPU-s, throttled ${s.mlserver.throttledSeconds ?? "?"} s)`);
        lines.push(`  ratios            runtime/MLServer req/s ${s.ratios.throughputVsMlserver}, p99 ${s.ratios.p99VsMlserver}; floor/runtime rows per CPU-s ${s.ratios.floorPerCpuVsRuntime}, per core of the limit ${s.ratios.floorPerCoreVsRuntime} (floor/MLServer ${s.ratios.floorPerCoreVsMlserver})`);
    }
    lines.push(`  cold start        runtime ${span(r.coldStart.runtime.totalMs)} (initializer ${span(r.coldStart.runtime.initializerMs)}); MLServer ${span(r.coldStart.mlserver.totalMs)}; ${r.setup.coldStartRuns} runs`);
    lines.push(`  runtime processes ${r.setup.runtime.processes.workers} worker(s) x ${r.setup.runtime.processes.threadsPerWorker} thread(s) (serving.models[].workers, .threadsPerWorker)`);
    if (r.sweep) {
        lines.push(`  sweep (runtime)   workers x threads: req/s and p99 ms at 1 row | at 100 rows`);
        for (const w of r.sweep) {
            const a = w.sizes["1"], b = w.sizes["100"];
            lines.push(`    ${`${w.workers} x ${w.threadsPerWorker}`.padEnd(16)}${String(a.requestsPerSecond).padStart(8)} ${String(a.p99Ms).padStart(8)} | ${String(b.requestsPerSecond).padStart(8)} ${String(b.p99Ms).padStart(8)}${a.errors + b.errors ? `  ${a.errors + b.errors} errors: ${a.firstError ?? b.firstError}` : ""}`);
        }
    }
    for (const g of r.goals) lines.push(`  goal ${g.met ? "met    " : "MISSED "}   ${g.goal}: ${g.value}`);
    return lines.join("\n");
}

export const part: BenchPart<ServingBench> = {
    name: "serving",
    summary: "the platform's serving runtime vs KServe's MLServer vs in-process predict: req/s, rows/s, p50/p99 at 1 and 100 rows, 8 clients; cold start",
    skip: servingSkipReason,
    run: (opts) => runServingBench(opts),
    human: servingHuman,
};

if (require.main === module) {
    runStandalone(part, process.argv.slice(2), parseStandaloneArgs, (args, log) => runServingBench({ log, runs: args.runs, durationSeconds: args.durationSeconds, ...(args.workers !== undefined ? { workers: args.workers } : {}), ...(args.threadsPerWorker !== undefined ? { threadsPerWorker: args.threadsPerWorker } : {}), ...(args.sweep ? { sweep: args.sweep } : {}) }));
}
