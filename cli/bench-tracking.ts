/**
 * The tracking-server part of `npm run bench` (issue 21 part 4): what the platform's configuration of the
 * tracking server costs the training jobs that log to it. In one run, one after the other, on one PostgreSQL
 * (testbed/postgres.ts, a database each), with real MLflow from the project's venv (images/mlflow/requirements.txt):
 *
 * - bare: `mlflow server --host 127.0.0.1 --port <p> --workers <w> --backend-store-uri <db>`, MLflow's defaults
 *   otherwise (its job runner and usage telemetry off, as in every harness here: four idle processes on two
 *   cores, and calls to the outside; neither touches a metric batch);
 * - platform: the `mlflow` container of the local stack's Deployment as the render has it (command, args, env,
 *   the image's ENV), with only what cannot exist outside a cluster substituted: listen host and port, the
 *   Prometheus multiprocess directory, the pod IP, the Secret-backed values (backend-store URI, AWS keys), HOME;
 *   the same `--workers` as rendered is given to bare;
 * - basicAuth: the same render with access.auth `basic` (`--app-name basic-auth`, its basic_auth.ini from
 *   manifests/access.ts basicAuthIni with an auth database on the same PostgreSQL); clients send the admin's
 *   basic credentials, as the platform's Jobs do;
 * - sso: the same render with access.auth `oidc`: MLflow on loopback behind the rendered oauth2-proxy sidecar
 *   (the images cache's image, podman with the rendered limits, user and mounts), a real OpenID provider
 *   (testbed/oidc-provider.ts) for its start-up discovery; clients send the machine user's basic credentials
 *   through the sidecar, as the platform's Jobs do.
 *
 * Load (testbed/http-load.ts): 8 closed-loop keep-alive clients, each logging batches of 100 metrics
 * (POST /api/2.0/mlflow/runs/log-batch, every batch a new step) to its own run created beforehand; every answer
 * must be 200 with `{}`. All contenders run at once (idle but one); each gets `--duration` seconds of load in
 * 4 windows, interleaved with the others' in alternating order (A B C D, D C B A, ...) so that the shared
 * machine's drifting load weighs on each alike; a warm-up before each window. Reported: batches/s and metrics/s
 * (answers that ended inside the windows), p50, p99, the CPU time of the contender's own processes per batch
 * (much steadier than batches/s on a loaded machine), the batches/s of each window and the load average around
 * them; platform/bare (goal ≥ 0.90), basicAuth/bare, sso/bare.
 *
 * When one of those ratios misses 0.90 (or with `--options`), the variants of what missed (VARIANTS) are measured
 * beside it and bare, to name the option that costs.
 *
 * Alone: `npx tsx cli/bench-tracking.ts [--json] [--duration <s>] [--options]`.
 */
import * as bcrypt from "bcryptjs";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { RenderResult } from "../lib/render";
import { renderStack } from "../lib/render";
import { projectRoot } from "../lib/paths";
import { basicAuthIni } from "../manifests/access";
import { htpasswdLine, MACHINE_USERNAME } from "../manifests/sso";
import { parseArgs, UsageError } from "./args";
import { percentile, round, type BenchPart, type BenchPartOptions } from "./bench-stats";
import { runStandalone } from "./bench-standalone";
import { closedLoopLoad, type LoadRequest, type LoadRun } from "../testbed/http-load";
import { PROVIDER_CLIENT, startOidcProvider, type OidcProvider } from "../testbed/oidc-provider";
import { imageCacheRoot, podman, podmanRunSpec, startContainer, type FullContainer, type RunningContainer } from "../testbed/podman";
import { startPostgres, type PostgresServer } from "../testbed/postgres";
import { freePort } from "../testbed/ports";
import { spawnManaged, waitForHttp200, type ManagedProcess } from "../testbed/process";
import { dockerEntrypoint, dockerEnv, findRendered, flagValue, localCommand, localEnv, renderedContainer, TEST_POD_IP, withFlagValue, type RenderedContainer } from "../testbed/rendered";
import { ensureVenv, REPO_ROOT } from "../testbed/venv";

export const CLIENTS = 8;
export const METRICS_PER_BATCH = 100;
/** platform / bare batches per second must be at least this (issue 21: the configuration costs ≤ 10 %). */
export const GOAL_RATIO = 0.9;
/** Warm-up before a contender's first window: the workers' first requests import and connect. */
const WARMUP_SECONDS = 3;
/** Warm-up before its later windows: the closed loop reaches its steady state again. */
const REWARM_SECONDS = 1;
/** Windows per contender: `--duration` is split into this many, interleaved with the other contenders'. */
export const PASSES = 4;
const START_TIMEOUT_MS = 300_000;
const ADMIN_USERNAME = "admin";
const SSO_HOST = "mlflow.bench.example";

// ---------------------------------------------------------------------------------------------------------
// Pure parts (unit-tested).

export interface TrackingArgs {
    readonly json: boolean;
    readonly durationSeconds: number;
    /** Also measure the platform's render with one option taken away at a time. */
    readonly options: boolean;
}

/** `[--json] [--duration <s>] [--options]`; UsageError naming the flag and what is valid. */
export function parseTrackingArgs(argv: readonly string[]): TrackingArgs {
    const { values } = parseArgs(argv, {
        json: { type: "boolean", description: "print the result as JSON" },
        duration: { type: "string", default: "20", description: "seconds of each measured window" },
        options: { type: "boolean", description: "also measure the platform with one option taken away at a time" },
    });
    const d = Number(values.duration);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(values.duration) || !(d >= 1) || d > 3600) throw new UsageError(`--duration must be a number of seconds from 1 to 3600 (got "${values.duration}")`);
    return { json: values.json, durationSeconds: d, options: values.options };
}

/**
 * The JSON of one log-batch request: `perBatch` metrics m000..m(perBatch-1) of `runId`, all at step `step`,
 * timestamp `timestampMs + step` (every batch is new data, as a training loop's would be).
 */
export function metricBatchBody(runId: string, step: number, timestampMs: number, perBatch = METRICS_PER_BATCH): string {
    if (!(Number.isInteger(perBatch) && perBatch >= 1 && perBatch <= 1000)) throw new RangeError(`metrics per batch must be 1..1000, MLflow's limit (got ${perBatch})`);
    if (!(Number.isInteger(step) && step >= 0)) throw new RangeError(`step must be a non-negative integer (got ${step})`);
    const width = String(perBatch - 1).length;
    const metrics = Array.from({ length: perBatch }, (_, i) => ({
        key: `m${String(i).padStart(Math.max(3, width), "0")}`,
        value: round(Math.sin(step + i) * 100, 6),
        timestamp: timestampMs + step,
        step,
    }));
    return JSON.stringify({ run_id: runId, metrics });
}

/** Headers of every API call: JSON, the Host a client in the cluster sends, and basic credentials if any. */
export function apiHeaders(host: string, auth?: { username: string; password: string }): Record<string, string> {
    const h: Record<string, string> = { "Content-Type": "application/json", Host: host };
    if (auth) h.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    return h;
}

/** Client `client`'s `n`-th request: a batch to its own run, step n. */
export function batchRequests(runIds: readonly string[], headers: Readonly<Record<string, string>>, timestampMs: number): (client: number, n: number) => LoadRequest {
    if (runIds.length === 0) throw new RangeError("batchRequests: no runs");
    return (client, n) => {
        const runId = runIds[client];
        if (runId === undefined) throw new RangeError(`batchRequests: client ${client} has no run (${runIds.length} runs)`);
        return { method: "POST", path: "/api/2.0/mlflow/runs/log-batch", headers, body: Buffer.from(metricBatchBody(runId, n, timestampMs)) };
    };
}

/** A log-batch answer is right when it is 200 with an empty JSON object. */
export function logBatchCheck(status: number, body: string): string | undefined {
    if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
    try {
        const parsed: unknown = JSON.parse(body);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) && Object.keys(parsed).length === 0) return undefined;
    } catch { /* below */ }
    return `not {}: ${body.slice(0, 200)}`;
}

export interface LoadSummary {
    readonly batches: number;
    readonly batchesPerSecond: number;
    readonly metricsPerSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly errors: number;
    readonly firstError?: string;
    /** Requests sent in all, warm-ups included. */
    readonly sent: number;
    /** 1-minute load average at the start and the end of each pass. */
    readonly loadavg: readonly number[];
    /** batches/s of each pass: the spread the shared machine leaves. */
    readonly perPass?: readonly number[];
    /**
     * CPU time of the contender's processes (MLflow's, and the sidecar's) during the windows per batch answered in
     * them: what a batch costs, much less sensitive to the other load on a shared machine than batches/s.
     */
    readonly cpuMsPerBatch?: number;
}

/** The passes of one contender as one run: windows, latencies, errors and requests added up. */
export function mergeRuns(runs: readonly LoadRun[]): LoadRun {
    if (runs.length === 0) throw new RangeError("mergeRuns: no runs");
    const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
    return {
        latenciesMs: runs.flatMap((r) => r.latenciesMs),
        windowMs: runs.reduce((t, r) => t + r.windowMs, 0),
        errors: runs.reduce((t, r) => t + r.errors, 0),
        ...(firstError !== undefined ? { firstError } : {}),
        sent: runs.reduce((t, r) => t + r.sent, 0),
        ...(runs.every((r) => r.endedInWindowMs !== undefined) ? { endedInWindowMs: runs.flatMap((r) => r.endedInWindowMs!) } : {}),
    };
}

/**
 * batches/s, metrics/s, p50/p99 (nearest rank) of the right answers that ended inside the window (whatever their
 * start: a server slower than the window still has a rate; without that record, those that also started in it).
 * A window in which no batch completed counts as an error: its rate is 0, not a missing value.
 */
export function summarizeLoad(run: LoadRun, loadavg: readonly number[], perBatch = METRICS_PER_BATCH): LoadSummary {
    const latencies = run.endedInWindowMs ?? run.latenciesMs;
    const n = latencies.length;
    const perSecond = n / (run.windowMs / 1000);
    const none = n === 0 && run.errors === 0;
    const firstError = run.firstError ?? (none ? `no batch completed inside ${round(run.windowMs / 1000, 1)} s of window (${run.sent} sent, warm-up included)` : undefined);
    return {
        batches: n,
        batchesPerSecond: round(perSecond, 1),
        metricsPerSecond: Math.round(perSecond * perBatch),
        p50Ms: n > 0 ? percentile(latencies, 50) : Number.NaN,
        p99Ms: n > 0 ? percentile(latencies, 99) : Number.NaN,
        errors: run.errors + (none ? 1 : 0),
        ...(firstError !== undefined ? { firstError } : {}),
        sent: run.sent,
        loadavg,
    };
}

/** Process group and CPU time (user + system, clock ticks) of one /proc/<pid>/stat line. */
export function parseProcStat(text: string): { pgrp: number; ticks: number } {
    const close = text.lastIndexOf(")");
    if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
    // After "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const f = text.slice(close + 2).trim().split(/\s+/);
    const pgrp = Number(f[2]);
    const ticks = Number(f[11]) + Number(f[12]);
    if (!Number.isInteger(pgrp) || !Number.isFinite(ticks)) throw new Error(`unexpected /proc/<pid>/stat fields: ${text.slice(0, 120)}`);
    return { pgrp, ticks };
}

/** CPU seconds used so far by the live processes of process group `pgid` (threads included; Linux only). */
export function groupCpuSeconds(pgid: number, ticksPerSecond = 100): number {
    let ticks = 0;
    for (const e of fs.readdirSync("/proc")) {
        if (!/^[0-9]+$/.test(e)) continue;
        try {
            const st = parseProcStat(fs.readFileSync(`/proc/${e}/stat`, "utf8"));
            if (st.pgrp === pgid) ticks += st.ticks;
        } catch { /* exited meanwhile */ }
    }
    return ticks / ticksPerSecond;
}

/** CPU seconds used so far by process `pid` (all its threads). */
export function pidCpuSeconds(pid: number, ticksPerSecond = 100): number {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8")).ticks / ticksPerSecond;
}

/** batches/s of one pass (the answers that ended inside its window). */
export function passRate(run: LoadRun): number {
    return round((run.endedInWindowMs ?? run.latenciesMs).length / (run.windowMs / 1000), 1);
}

/** CPU ms per batch answered inside the windows; NaN without batches. */
export function cpuMsPerBatch(cpuSeconds: number, run: LoadRun): number {
    const n = (run.endedInWindowMs ?? run.latenciesMs).length;
    return n > 0 ? round((cpuSeconds * 1000) / n, 1) : Number.NaN;
}

/** a/b to two decimals; NaN when b has no throughput. */
export function ratio(a: number, b: number): number {
    return b > 0 ? round(a / b, 2) : Number.NaN;
}

/**
 * The order of `passes` passes over the contenders: in order, then reversed, and again (A B C, C B A, A B C, ...),
 * so that the machine's load, which drifts while the bench runs (it is shared), weighs on each contender alike.
 */
export function passOrder<T>(contenders: readonly T[], passes: number): T[][] {
    if (!(Number.isInteger(passes) && passes >= 1)) throw new RangeError(`passes must be a positive integer (got ${passes})`);
    return Array.from({ length: passes }, (_, i) => (i % 2 === 0 ? [...contenders] : [...contenders].reverse()));
}

/**
 * The option variants, each measured beside what it varies: the platform's rendered args without the Prometheus
 * exporter, or with no host check (`--allowed-hosts *`); the basic-auth app with MLflow's credential cache off
 * (basic_auth.ini `auth_cache_ttl_seconds = 0`, MLflow's default; the platform's is access.credentialCacheSeconds); the sign-in sidecar without its CPU limit, or with the machine user's
 * htpasswd line at bcrypt's lowest cost (4, where the platform's is MACHINE_BCRYPT_COST): the sidecar verifies it on
 * every request.
 */
export const VARIANTS = {
    noPrometheus: "platform",
    anyHost: "platform",
    basicAuthUncached: "basicAuth",
    ssoNoCpuLimit: "sso",
    ssoBcrypt6: "sso",
} as const;
export type Variant = keyof typeof VARIANTS;
/** The credential cache's TTL the basicAuthUncached variant sets (MLflow's own default: off). */
export const UNCACHED_TTL_SECONDS = 0;

/** The rendered args without `--expose-prometheus <dir>`, or with `--allowed-hosts *` (no host check). */
export function variantArgs(args: readonly string[], v: "noPrometheus" | "anyHost"): string[] {
    if (v === "noPrometheus") {
        flagValue(args, "--expose-prometheus");
        const i = args.findIndex((a) => a === "--expose-prometheus" || a.startsWith("--expose-prometheus="));
        return [...args.slice(0, i), ...args.slice(args[i] === "--expose-prometheus" ? i + 2 : i + 1)];
    }
    return withFlagValue(args, ["--allowed-hosts"], "*");
}

/** `options` without `--cpus <n>` (exactly one must be there). */
export function withoutCpuLimit(options: readonly string[]): string[] {
    const i = options.indexOf("--cpus");
    if (i < 0 || options.indexOf("--cpus", i + 1) >= 0 || i + 1 >= options.length) throw new Error(`expected one "--cpus <n>" in [${options.join(" ")}]`);
    return [...options.slice(0, i), ...options.slice(i + 2)];
}

// ---------------------------------------------------------------------------------------------------------
// The contenders.

export type Contender = "bare" | "platform" | "basicAuth" | "sso" | Variant;

interface Started {
    /** Where the clients connect. */
    readonly url: string;
    /** The Host header they send. */
    readonly host: string;
    readonly auth?: { username: string; password: string };
    /** What runs, for the report. */
    readonly command: string[];
    /** CPU seconds the contender's processes (server workers, sidecar) have used so far. */
    cpuSeconds(): number;
    stop(): Promise<void>;
}

interface Env {
    readonly pg: PostgresServer;
    readonly binDir: string;
    readonly tmp: string;
    readonly log: (line: string) => void;
}

const MLFLOW_DOCKERFILE = () => path.join(REPO_ROOT, "images", "mlflow", "Dockerfile");

async function startProcess(cmd: string, args: string[], env: Record<string, string>, cwd: string, url: string, label: string): Promise<ManagedProcess> {
    const proc = spawnManaged(cmd, args, { env, cwd });
    await waitForHttp200(proc, `${url}/health`, START_TIMEOUT_MS, label);
    return proc;
}

async function startBare(e: Env, workers: string): Promise<Started> {
    await e.pg.createDatabase("bare");
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(e.tmp, "bare-"));
    const args = ["server", "--host", "127.0.0.1", "--port", String(port), "--workers", workers, "--backend-store-uri", e.pg.url("bare")];
    const env = {
        PATH: `${e.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: dir, PYTHONUNBUFFERED: "1",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false", MLFLOW_DISABLE_TELEMETRY: "true", DO_NOT_TRACK: "true",
    };
    const url = `http://127.0.0.1:${port}`;
    const proc = await startProcess(path.join(e.binDir, "mlflow"), args, env, dir, url, "bare mlflow server");
    const pgid = proc.child.pid!;
    return { url, host: `127.0.0.1:${port}`, command: ["mlflow", ...args.map((a) => a.replace(e.pg.password, "***"))], cpuSeconds: () => groupCpuSeconds(pgid), stop: () => proc.stop() };
}

interface PlatformStart {
    readonly database: string;
    readonly render: RenderResult;
    readonly variant?: "noPrometheus" | "anyHost";
    /** Basic auth: the auth database, the admin's password, the credential cache's TTL when not the render's (a variant). */
    readonly basic?: { authDatabase: string; adminPassword: string; credentialCacheSeconds?: number };
    /** Single sign-on: the machine password and the provider. */
    readonly sso?: { machinePassword: string };
    readonly label: string;
}

/** The rendered tracking server as a local process (loopback); returns its url and process. */
async function startRenderedMlflow(e: Env, s: PlatformStart): Promise<{ url: string; port: number; proc: ManagedProcess; container: RenderedContainer; command: string[]; namespace: string }> {
    await e.pg.createDatabase(s.database);
    const deployment = findRendered(s.render, "Deployment", "mlflow");
    const namespace = deployment.metadata.namespace ?? "mlflow";
    const c = renderedContainer(deployment, "mlflow");
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(e.tmp, `${s.database}-`));
    let args = withFlagValue(c.args ?? [], ["--port"], String(port));
    if (flagValue(args, "--host") !== "127.0.0.1") args = withFlagValue(args, ["--host"], "127.0.0.1");
    if (args.includes("--expose-prometheus")) {
        fs.mkdirSync(path.join(dir, "metrics"));
        args = withFlagValue(args, ["--expose-prometheus"], path.join(dir, "metrics"));
    }
    if (s.variant) args = variantArgs(args, s.variant);
    const secrets: Record<string, string> = { MLFLOW_BACKEND_STORE_URI: e.pg.url(s.database), AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench-secret" };
    const replace: Record<string, string> = { HOME: dir };
    if (s.basic) {
        await e.pg.createDatabase(s.basic.authDatabase);
        const ini = path.join(dir, "basic_auth.ini");
        const text = basicAuthIni({
            databaseUri: e.pg.url(s.basic.authDatabase), adminUsername: ADMIN_USERNAME, adminPassword: s.basic.adminPassword, defaultPermission: "READ",
            credentialCacheSeconds: s.basic.credentialCacheSeconds ?? s.render.config.access.credentialCacheSeconds,
        });
        fs.writeFileSync(ini, text, { mode: 0o600 });
        secrets.MLFLOW_FLASK_SERVER_SECRET_KEY = randomBytes(24).toString("hex");
        replace.MLFLOW_AUTH_CONFIG_PATH = ini;
    }
    const hasPodIp = (c.env ?? []).some((v) => v.valueFrom?.fieldRef?.fieldPath === "status.podIP");
    const env = localEnv(c, { secrets, replace, ...(hasPodIp ? { fields: { "status.podIP": TEST_POD_IP } } : {}) });
    const lc = localCommand(c, { entrypoint: dockerEntrypoint(MLFLOW_DOCKERFILE()), args, binDir: e.binDir, env, imageEnv: dockerEnv(MLFLOW_DOCKERFILE()) });
    const url = `http://127.0.0.1:${port}`;
    // /health with the Host of a client in the cluster: the rendered allowed hosts admit it.
    const proc = await startProcess(lc.cmd, lc.args, lc.env, dir, url, `${s.label} (rendered mlflow container)`);
    const command = [path.basename(lc.cmd), ...lc.args].map((a) => a.replace(e.pg.password, "***"));
    return { url, port, proc, container: c, command, namespace };
}

async function startPlatform(e: Env, s: PlatformStart): Promise<Started> {
    const m = await startRenderedMlflow(e, s);
    const auth = s.basic ? { username: ADMIN_USERNAME, password: s.basic.adminPassword } : undefined;
    return {
        url: m.url,
        // What a training Job in the cluster sends (trackingUri: http://mlflow.<ns>.svc.cluster.local:5000); with
        // the host check taken away, any.
        host: `mlflow.${m.namespace}.svc.cluster.local:5000`,
        ...(auth ? { auth } : {}),
        command: m.command,
        cpuSeconds: () => groupCpuSeconds(m.proc.child.pid!),
        stop: () => m.proc.stop(),
    };
}

async function startSso(e: Env, s: PlatformStart & { sso: { machinePassword: string } }, opts: { noCpuLimit?: boolean; bcryptCost?: number } = {}): Promise<Started> {
    const m = await startRenderedMlflow(e, s);
    let container: RunningContainer | undefined;
    let envDir: string | undefined;
    const removeEnv = () => { if (envDir) fs.rmSync(envDir, { recursive: true, force: true }); };
    try {
        const deployment = findRendered(s.render, "Deployment", "mlflow");
        const sidecar = renderedContainer(deployment, "oauth2-proxy") as FullContainer;
        const files = fs.mkdtempSync(path.join(e.tmp, "sso-files-"));
        const emails = fs.mkdtempSync(path.join(e.tmp, "sso-emails-"));
        fs.chmodSync(files, 0o755);
        fs.chmodSync(emails, 0o755);
        // The Secret's and the ConfigMap's files as the kubelet would mount them (readable by the sidecar's user).
        fs.writeFileSync(path.join(files, "client-secret"), PROVIDER_CLIENT.secret, { mode: 0o644 });
        fs.writeFileSync(path.join(files, "cookie-secret"), randomBytes(16).toString("hex"), { mode: 0o644 });
        const htpasswd = opts.bcryptCost === undefined ? htpasswdLine(MACHINE_USERNAME, s.sso.machinePassword) : `${MACHINE_USERNAME}:${bcrypt.hashSync(s.sso.machinePassword, opts.bcryptCost)}\n`;
        fs.writeFileSync(path.join(files, "htpasswd"), htpasswd, { mode: 0o644 });
        const cm = findRendered(s.render, "ConfigMap", "mlflow-sso").data as Record<string, string>;
        fs.writeFileSync(path.join(emails, "authenticated-emails"), cm["authenticated-emails"] ?? "", { mode: 0o644 });
        const port = await freePort();
        let args = withFlagValue(sidecar.args ?? [], ["--http-address"], `127.0.0.1:${port}`);
        args = withFlagValue(args, ["--upstream"], `http://127.0.0.1:${m.port}/`);
        const rendered = podmanRunSpec(deployment, sidecar, { env: localEnv(sidecar), args, volumeSources: { sso: files, "sso-emails": emails }, name: `bench-tracking-sso-${randomBytes(3).toString("hex")}` });
        const spec = opts.noCpuLimit ? { ...rendered, options: withoutCpuLimit(rendered.options), describe: `${rendered.describe}, no CPU limit` } : rendered;
        const url = `http://127.0.0.1:${port}`;
        // podmanRunSpec's env file is removed at the harness's stopAll(), which a bench part does not call: here.
        envDir = path.dirname(spec.envFile);
        container = await startContainer(spec, { url: `${url}/ping`, timeoutMs: 120_000, label: "oauth2-proxy sidecar" });
        const running = container;
        const inspect = await podman(["inspect", "--format", "{{.State.Pid}}", spec.name]);
        const proxyPid = Number(inspect.stdout.trim());
        if (inspect.code !== 0 || !(proxyPid > 0)) throw new Error(`podman inspect ${spec.name}: no PID (${inspect.stdout.trim()} ${inspect.stderr.trim()})`);
        return {
            url,
            host: `mlflow.${m.namespace}.svc.cluster.local:5000`,
            auth: { username: MACHINE_USERNAME, password: s.sso.machinePassword },
            cpuSeconds: () => groupCpuSeconds(m.proc.child.pid!) + pidCpuSeconds(proxyPid),
            command: [...m.command, "|", "podman", "run", ...spec.options.filter((o) => !o.startsWith("/")), spec.image, ...spec.args],
            stop: async () => {
                await running.stop(5);
                removeEnv();
                await m.proc.stop();
            },
        };
    } catch (err) {
        await container?.stop(5);
        removeEnv();
        await m.proc.stop();
        throw err;
    }
}

/** Creates an experiment and one run per client through the contender (with its Host and credentials). */
async function createRuns(s: Started, label: string): Promise<string[]> {
    const headers = apiHeaders(s.host, s.auth);
    const call = async <T>(api: string, body: object): Promise<T> => {
        return new Promise<T>((resolve, reject) => {
            const u = new URL(`${s.url}/api/2.0/mlflow/${api}`);
            const data = Buffer.from(JSON.stringify(body));
            const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { ...headers, "Content-Length": String(data.length) }, timeout: 60_000 }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (d: Buffer) => chunks.push(d));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    if (res.statusCode !== 200) reject(new Error(`${label}: POST ${api} -> HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
                    else resolve(JSON.parse(text) as T);
                });
            });
            req.on("timeout", () => req.destroy(new Error(`${label}: POST ${api} timed out`)));
            req.on("error", reject);
            req.end(data);
        });
    };
    const { experiment_id } = await call<{ experiment_id: string }>("experiments/create", { name: `bench-${randomBytes(4).toString("hex")}` });
    const ids: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
        const r = await call<{ run: { info: { run_id: string } } }>("runs/create", { experiment_id, start_time: Date.now(), run_name: `client-${i}` });
        ids.push(r.run.info.run_id);
    }
    return ids;
}

const load1 = () => round(os.loadavg()[0]!, 2);

/** One pass of the load on one contender: warm-up, then the window. */
async function pass(s: Started, runIds: readonly string[], warmupSeconds: number, durationSeconds: number): Promise<{ run: LoadRun; cpuSeconds: number }> {
    const edges: { start?: number; end?: number } = {};
    const run = await closedLoopLoad({
        baseUrl: s.url,
        request: batchRequests(runIds, apiHeaders(s.host, s.auth), Date.now()),
        clients: CLIENTS,
        warmupMs: warmupSeconds * 1000,
        durationMs: durationSeconds * 1000,
        check: logBatchCheck,
        onWindow: (edge) => void (edges[edge] = s.cpuSeconds()),
    });
    return { run, cpuSeconds: (edges.end ?? Number.NaN) - (edges.start ?? Number.NaN) };
}

// ---------------------------------------------------------------------------------------------------------
// The run.

export interface TrackingBench {
    readonly setup: {
        readonly clients: number;
        readonly metricsPerBatch: number;
        readonly warmupSeconds: number;
        readonly durationSeconds: number;
        readonly passes: string;
        readonly workers: string;
        readonly commands: Partial<Record<Contender, string[]>>;
    };
    readonly machine: { readonly cpus: number; readonly loadavgBefore: number[]; readonly loadavgAfter: number[] };
    readonly results: Partial<Record<"bare" | "platform" | "basicAuth" | "sso", LoadSummary>>;
    readonly ratios: {
        readonly platformVsBare: number;
        readonly basicAuthVsBare: number;
        readonly ssoVsBare: number;
        readonly p99PlatformVsBare: number;
        readonly p99BasicAuthVsBare: number;
        readonly p99SsoVsBare: number;
        /** CPU per batch against bare's: > 1 is what the configuration costs in CPU. */
        readonly cpuPerBatchPlatformVsBare: number;
        readonly cpuPerBatchBasicAuthVsBare: number;
        readonly cpuPerBatchSsoVsBare: number;
    };
    /**
     * Measured when the contender they vary misses the goal against bare (or with --options): each variant beside
     * new runs of its reference and of bare, variant/reference batches/s (> 1: what the option taken away cost),
     * and both against bare.
     */
    readonly options: Partial<Record<Variant, {
        readonly bare: LoadSummary;
        readonly reference: LoadSummary;
        readonly variant: LoadSummary;
        readonly ratio: number;
        /** variant/reference CPU per batch (< 1: the option taken away cost CPU). */
        readonly cpuPerBatchRatio: number;
        readonly referenceVsBare: number;
        readonly variantVsBare: number;
    }>>;
    readonly goal: { readonly goal: string; readonly value: number; readonly met: boolean };
}

/** Why the part cannot run here (undefined: it can). */
export function trackingSkipReason(): string | undefined {
    if (process.env.MLFLOW_PLATFORM_IMAGES === "skip") return "MLFLOW_PLATFORM_IMAGES=skip: the oauth2-proxy image is not built";
    if (!fs.existsSync(path.join(imageCacheRoot(), "images.json"))) return `no built images in ${imageCacheRoot()} (images/build.sh)`;
    return undefined;
}

interface Live {
    readonly name: Contender;
    readonly started: Started;
    readonly runIds: string[];
    stop(): Promise<void>;
}

export async function runTrackingBench(opts: BenchPartOptions & { options?: boolean }): Promise<TrackingBench> {
    const { log } = opts;
    const loadavgBefore = os.loadavg().map((x) => round(x, 2));
    const root = projectRoot(__dirname);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tracking-"));
    const stops: (() => Promise<void>)[] = [() => Promise.resolve(fs.rmSync(tmp, { recursive: true, force: true }))];
    const window = round(opts.durationSeconds / PASSES, 2);
    try {
        const adminPassword = `admin-${randomBytes(12).toString("hex")}`;
        const machinePassword = `machine-${randomBytes(12).toString("hex")}`;
        log("tracking: PostgreSQL, the mlflow venv, the OpenID provider");
        const providerDir = fs.mkdtempSync(path.join(tmp, "provider-"));
        const [pg, venv, provider] = await Promise.all([
            // ~3000 metric rows/s: WAL kept small (the default lets it reach 1 GB before a checkpoint), and room for
            // every contender's connection pools (up to 8 servers, two stores each with basic auth) while all are up.
            startPostgres({ name: "bench-tracking", settings: ["wal_level = minimal", "max_wal_senders = 0", "max_wal_size = 64MB", "min_wal_size = 32MB", "max_connections = 300"] }),
            ensureVenv("mlflow"),
            startOidcProvider(providerDir, [{ username: "alice", password: "alice-pass-1", email: "alice@example.com" }], `https://${SSO_HOST}/oauth2/callback`),
        ] as const);
        stops.push(() => pg.stop(), () => (provider as OidcProvider).stop());
        const e: Env = { pg, binDir: path.dirname(venv.python), tmp, log };

        log("tracking: rendering the local stack (plain, basic auth, single sign-on)");
        const ingress = ["access.mode=ingress", `access.ingress.host=${SSO_HOST}`, "access.ingress.clusterIssuer=letsencrypt-prod"];
        const [plain, basic, sso] = await Promise.all([
            renderStack({ root, stack: "local" }),
            renderStack({ root, stack: "local", sets: [...ingress, "access.auth=basic", `access.adminPassword=${adminPassword}`] }),
            renderStack({
                root, stack: "local", sets: [
                    ...ingress, "access.auth=oidc", `access.oidc.issuerUrl=${provider.issuer}`, `access.oidc.clientId=${PROVIDER_CLIENT.id}`,
                    `access.oidc.clientSecret=${PROVIDER_CLIENT.secret}`, `access.oidc.allowedEmails=${JSON.stringify(["alice@example.com"])}`,
                    `access.oidc.machinePassword=${machinePassword}`,
                ],
            }),
        ]);
        const workers = flagValue(renderedContainer(findRendered(plain, "Deployment", "mlflow"), "mlflow").args ?? [], "--workers");
        const basicStart = (database: string, credentialCacheSeconds?: number): PlatformStart => ({
            database, render: basic, basic: { authDatabase: `${database}_auth`, adminPassword, ...(credentialCacheSeconds !== undefined ? { credentialCacheSeconds } : {}) }, label: `${database} (platform + basic auth)`,
        });
        const ssoStart: PlatformStart & { sso: { machinePassword: string } } = { database: "sso", render: sso, sso: { machinePassword }, label: "platform + single sign-on" };
        const starters: Record<Contender, () => Promise<Started>> = {
            bare: () => startBare(e, workers),
            platform: () => startPlatform(e, { database: "platform", render: plain, label: "platform" }),
            basicAuth: () => startPlatform(e, basicStart("basic")),
            sso: () => startSso(e, ssoStart),
            noPrometheus: () => startPlatform(e, { database: "noprometheus", render: plain, variant: "noPrometheus", label: "platform without --expose-prometheus" }),
            anyHost: () => startPlatform(e, { database: "anyhost", render: plain, variant: "anyHost", label: "platform with --allowed-hosts *" }),
            basicAuthUncached: () => startPlatform(e, basicStart("basicuncached", UNCACHED_TTL_SECONDS)),
            ssoNoCpuLimit: () => startSso(e, { ...ssoStart, database: "ssonolimit", label: "platform + single sign-on, sidecar without CPU limit" }, { noCpuLimit: true }),
            ssoBcrypt6: () => startSso(e, { ...ssoStart, database: "ssobcrypt6", label: "platform + single sign-on, htpasswd at bcrypt cost 6 (the platform's before)" }, { bcryptCost: 6 }),
        };
        const live = new Map<Contender, Live>();
        const commands: Partial<Record<Contender, string[]>> = {};
        const bring = async (name: Contender): Promise<Live> => {
            const have = live.get(name);
            if (have) return have;
            log(`tracking: starting ${name}`);
            const started = await starters[name]();
            let stopped = false;
            const stop = async () => {
                if (stopped) return;
                stopped = true;
                live.delete(name);
                await started.stop();
            };
            stops.push(stop);
            commands[name] = started.command;
            const l: Live = { name, started, runIds: await createRuns(started, name), stop };
            live.set(name, l);
            return l;
        };
        /** Starts the contenders (one after the other), then the passes: each in order, then in reverse. */
        const phase = async (names: readonly Contender[]): Promise<Map<Contender, LoadSummary>> => {
            for (const n of names) await bring(n);
            const runs = new Map<Contender, LoadRun[]>(names.map((n) => [n, []]));
            const loads = new Map<Contender, number[]>(names.map((n) => [n, []]));
            const cpu = new Map<Contender, number>(names.map((n) => [n, 0]));
            for (const [i, order] of passOrder(names, PASSES).entries()) {
                for (const n of order) {
                    const l = live.get(n)!;
                    const before = load1();
                    const warmup = i === 0 ? WARMUP_SECONDS : REWARM_SECONDS;
                    log(`tracking: ${n} (pass ${i + 1}/${PASSES}): ${CLIENTS} clients × ${METRICS_PER_BATCH} metrics per batch, ${warmup} s warm-up + ${window} s (load ${before})`);
                    const { run: r, cpuSeconds } = await pass(l.started, l.runIds, warmup, window);
                    runs.get(n)!.push(r);
                    cpu.set(n, cpu.get(n)! + cpuSeconds);
                    loads.get(n)!.push(before, load1());
                    log(`tracking:   ${passRate(r)} batches/s, errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ""}`);
                }
            }
            return new Map(names.map((n) => {
                const merged = mergeRuns(runs.get(n)!);
                return [n, { ...summarizeLoad(merged, loads.get(n)!), perPass: runs.get(n)!.map((r) => passRate(r)), cpuMsPerBatch: cpuMsPerBatch(cpu.get(n)!, merged) }];
            }));
        };

        const main = await phase(["bare", "platform", "basicAuth", "sso"]);
        const rate = (c: LoadSummary | undefined) => c?.batchesPerSecond ?? Number.NaN;
        const p99 = (c: LoadSummary | undefined) => c?.p99Ms ?? Number.NaN;
        const cpuPer = (c: LoadSummary | undefined) => c?.cpuMsPerBatch ?? Number.NaN;
        const ratios = {
            platformVsBare: ratio(rate(main.get("platform")), rate(main.get("bare"))),
            basicAuthVsBare: ratio(rate(main.get("basicAuth")), rate(main.get("bare"))),
            ssoVsBare: ratio(rate(main.get("sso")), rate(main.get("bare"))),
            p99PlatformVsBare: ratio(p99(main.get("platform")), p99(main.get("bare"))),
            p99BasicAuthVsBare: ratio(p99(main.get("basicAuth")), p99(main.get("bare"))),
            p99SsoVsBare: ratio(p99(main.get("sso")), p99(main.get("bare"))),
            cpuPerBatchPlatformVsBare: ratio(cpuPer(main.get("platform")), cpuPer(main.get("bare"))),
            cpuPerBatchBasicAuthVsBare: ratio(cpuPer(main.get("basicAuth")), cpuPer(main.get("bare"))),
            cpuPerBatchSsoVsBare: ratio(cpuPer(main.get("sso")), cpuPer(main.get("bare"))),
        };
        const missed = { platform: !(ratios.platformVsBare >= GOAL_RATIO), basicAuth: !(ratios.basicAuthVsBare >= GOAL_RATIO), sso: !(ratios.ssoVsBare >= GOAL_RATIO) };
        const options: TrackingBench["options"] = {};
        for (const ref of ["platform", "basicAuth", "sso"] as const) {
            if (!opts.options && !missed[ref]) continue;
            const variants = (Object.keys(VARIANTS) as Variant[]).filter((v) => VARIANTS[v] === ref);
            log(`tracking: ${ref}/bare ${ratios[`${ref}VsBare`]}${missed[ref] ? ` < ${GOAL_RATIO}` : ""}: measuring ${variants.join(", ")} beside ${ref}`);
            const got = await phase(["bare", ref, ...variants]);
            for (const v of variants) {
                options[v] = {
                    bare: got.get("bare")!, reference: got.get(ref)!, variant: got.get(v)!,
                    ratio: ratio(rate(got.get(v)), rate(got.get(ref))), cpuPerBatchRatio: ratio(cpuPer(got.get(v)), cpuPer(got.get(ref))), referenceVsBare: ratio(rate(got.get(ref)), rate(got.get("bare"))), variantVsBare: ratio(rate(got.get(v)), rate(got.get("bare"))),
                };
            }
            for (const v of variants) await live.get(v)?.stop();
        }
        const errors = (["bare", "platform"] as const).reduce((n, c) => n + (main.get(c)?.errors ?? 0), 0);
        return {
            setup: {
                clients: CLIENTS, metricsPerBatch: METRICS_PER_BATCH, warmupSeconds: WARMUP_SECONDS, durationSeconds: opts.durationSeconds,
                passes: `${PASSES} windows of ${window} s per contender, ${WARMUP_SECONDS} s warm-up before the first and ${REWARM_SECONDS} s before the others, interleaved: ${passOrder(["bare", "platform", "basicAuth", "sso"], PASSES).map((o) => o.join(" ")).join(" | ")}`,
                workers, commands,
            },
            machine: { cpus: os.cpus().length, loadavgBefore, loadavgAfter: os.loadavg().map((x) => round(x, 2)) },
            results: Object.fromEntries(main) as TrackingBench["results"],
            ratios,
            options,
            goal: { goal: `platform/bare batches/s ≥ ${GOAL_RATIO}, no errors on either`, value: ratios.platformVsBare, met: ratios.platformVsBare >= GOAL_RATIO && errors === 0 },
        };
    } finally {
        for (const stop of stops.reverse()) {
            try {
                await stop();
            } catch (err) {
                log(`tracking: cleanup: ${err instanceof Error ? err.message : String(err)}`);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Output.

/** "  N errors: <first>" over summaries measured together (their ratios mean little then); "" without errors. */
function errorsOf(ss: readonly LoadSummary[]): string {
    const n = ss.reduce((t, s) => t + s.errors, 0);
    const first = ss.find((s) => s.firstError !== undefined)?.firstError;
    return n > 0 ? `  ${n} errors: ${first ?? "?"}` : "";
}

export function trackingHuman(r: TrackingBench): string {
    const lines: string[] = [];
    lines.push(`tracking            ${r.setup.clients} clients × ${r.setup.metricsPerBatch} metrics per log-batch, --workers ${r.setup.workers}, one PostgreSQL; ${r.setup.durationSeconds} s each: ${r.setup.passes}`);
    lines.push(`  machine           ${r.machine.cpus} CPUs, load ${r.machine.loadavgBefore.join(" ")} before, ${r.machine.loadavgAfter.join(" ")} after`);
    const row = (name: string, s: LoadSummary) =>
        `  ${name.padEnd(18)}${String(s.batchesPerSecond).padStart(10)}${String(s.metricsPerSecond).padStart(11)}${String(s.p50Ms).padStart(9)}${String(s.p99Ms).padStart(9)}${String(s.cpuMsPerBatch ?? "-").padStart(14)}   ${(s.perPass ?? []).join(" ").padEnd(22)}${Math.min(...s.loadavg)}-${Math.max(...s.loadavg)}${s.errors ? `  ${s.errors} errors: ${s.firstError}` : ""}`;
    lines.push(`  ${"".padEnd(18)}${"batches/s".padStart(10)}${"metrics/s".padStart(11)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"CPU ms/batch".padStart(14)}   ${"batches/s per pass".padEnd(22)}load`);
    for (const [name, s] of Object.entries(r.results)) if (s) lines.push(row(name, s));
    const q = r.ratios;
    lines.push(`  ratios            platform/bare ${q.platformVsBare} (p99 ${q.p99PlatformVsBare}), basic auth/bare ${q.basicAuthVsBare} (p99 ${q.p99BasicAuthVsBare}), sso/bare ${q.ssoVsBare} (p99 ${q.p99SsoVsBare})`);
    lines.push(`  CPU per batch     platform/bare ${q.cpuPerBatchPlatformVsBare}, basic auth/bare ${q.cpuPerBatchBasicAuthVsBare}, sso/bare ${q.cpuPerBatchSsoVsBare}`);
    for (const [v, o] of Object.entries(r.options)) {
        if (!o) continue;
        const ref = VARIANTS[v as Variant];
        lines.push(`  option ${v.padEnd(16)}${o.variant.batchesPerSecond} batches/s (p99 ${o.variant.p99Ms} ms) beside ${ref} ${o.reference.batchesPerSecond} (p99 ${o.reference.p99Ms}) and bare ${o.bare.batchesPerSecond} (p99 ${o.bare.p99Ms}): ${v}/${ref} ${o.ratio} (CPU per batch ${o.cpuPerBatchRatio}), ${v}/bare ${o.variantVsBare}, ${ref}/bare ${o.referenceVsBare}${errorsOf([o.bare, o.reference, o.variant])}`);
    }
    lines.push(`  goal ${r.goal.met ? "met    " : "MISSED "}   ${r.goal.goal}: ${r.goal.value}`);
    return lines.join("\n");
}

export const part: BenchPart<TrackingBench> = {
    name: "tracking",
    summary: "the tracking server as rendered vs a bare `mlflow server` (same workers, same PostgreSQL), and with basic auth and single sign-on in front: 8 clients logging metric batches, batches/s and p99",
    skip: trackingSkipReason,
    run: (opts) => runTrackingBench(opts),
    human: trackingHuman,
};

if (require.main === module) {
    runStandalone(part, process.argv.slice(2), parseTrackingArgs, (args, log) => runTrackingBench({ log, runs: 1, durationSeconds: args.durationSeconds, options: args.options }));
}
