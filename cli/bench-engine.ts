/**
 * The engine part of `npm run bench` (issue 21 part 1): the program's own cost on the real engine. One test
 * cluster (testbed/cluster.ts: etcd, kube-apiserver, a kwok node), one engine (the toolchain's `pulumi` and
 * Kubernetes provider), Automation API inline programs in this process. Three stacks, each deployed once:
 *
 * - local: the project's program on the local stack (Pulumi.local.yaml, every credential supplied);
 * - twin: its static twin (cli/bench-twin.ts): the same rendered Kubernetes objects declared by a plain
 *   program, in a namespace of its own (the objects cannot share one cluster namespace with the local stack's);
 * - ordered: the twin again, each object waiting for what it waits for in the program (its dependsOn, its
 *   inputs' resources, its components' dependsOn): the program's order without the program (previews only);
 * - floor: one ConfigMap.
 *
 * Then, alternating (the order of the previews rotates every round), medians of `runs` samples each:
 * - previewLocalVsTwin: a no-change preview of the local stack over one of the twin: what the platform's
 *   program adds (config, pre-flight, component tree, outputs) on top of what these objects cost anyway;
 * - upVsPreview: the `pulumi up` command of a no-change up of the local stack over the `pulumi preview`
 *   command of its no-change preview. The Automation API's `up()` runs three more CLI commands afterwards
 *   (`stack output` twice, `stack history`) that neither a user's `pulumi up` nor the program pays: they are
 *   reported apart (upVsPreviewAutomation is the whole call's ratio), as is the twin's own up/preview ratio
 *   (the engine's, without the program);
 * - previewLocalVsFloor: the preview over the one-resource floor (the ratio the issue measured first);
 * - where the program's time goes: previewOrderedVsTwin (what the program's order costs the engine: chains
 *   of Check and Diff one after the other) and previewLocalVsOrdered (the rest: evaluating the program, its
 *   component registrations, its outputs).
 *
 * Each preview is also split into phases: engine start (the CLI, its plugins, the state and the config
 * secrets, until it runs the program), the program's evaluation (until the program function returns), its
 * registrations (until the engine answered the last one, the provider's Check and Diff of each included),
 * and the rest (outputs, the engine's summary, the CLI's exit); with CPU: this process (the inline program and
 * the Automation API) and the CLI with the provider it starts (children's CPU from /proc/self/stat).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as core from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { projectRoot } from "../lib/paths";
import { kubeGet, resolveKubeConnection } from "../lib/kube-api";
import { renderStack } from "../lib/render";
import { main as platformMain } from "../program";
import { startCluster } from "../testbed/cluster";
import { engineStack, localSecrets, secretConfig, type EngineRun, type EngineStack } from "../testbed/stack";
import { round, stat, type BenchPart, type BenchPartOptions, type Stat } from "./bench-stats";
import { twinDeclarations, twinDependencies, twinProgram } from "./bench-twin";

/** The twin's namespace: its objects are the local stack's, which lives in `mlflow`. */
export const TWIN_NAMESPACE = "bench-twin";
/** The ordered twin's namespace. */
export const ORDERED_NAMESPACE = "bench-ordered";
const LOCAL_NAMESPACE = "mlflow";

type Program = () => Promise<Record<string, unknown> | void>;

/** When a run of an inline program reached each point (performance.now()). */
interface ProgramMarks {
    start?: number;
    returned?: number;
    lastSent?: number;
    lastAnswered?: number;
    registrations: number;
}

type Monitor = { registerResource(req: unknown, cb: (err: unknown, resp: unknown) => void): void };
const WRAPPED = Symbol("bench-engine-wrapped");

/** `program` with its start, return and resource registrations timed into `marks` (reset each run). */
function instrumented(program: Program, marks: { current: ProgramMarks }): Program {
    return async () => {
        marks.current = { start: performance.now(), registrations: 0 };
        // The runtime's monitor client of this run: its registerResource is what every resource (component or
        // custom) goes through. The monitor is internal to @pulumi/pulumi, hence the cast.
        const monitor = pulumi.runtime.getMonitor() as unknown as Monitor & { [WRAPPED]?: true };
        if (monitor && !monitor[WRAPPED]) {
            const register = monitor.registerResource.bind(monitor);
            monitor.registerResource = (req, cb) => {
                const m = marks.current;
                m.registrations++;
                m.lastSent = performance.now();
                register(req, (err, resp) => {
                    m.lastAnswered = performance.now();
                    cb(err, resp);
                });
            };
            monitor[WRAPPED] = true;
        }
        const out = await program();
        marks.current.returned = performance.now();
        return out;
    };
}

/** CPU (ms) of this process's waited-for children: the `pulumi` CLI and what it started. Linux; undefined elsewhere. */
function childrenCpuMs(): number | undefined {
    try {
        const stat = fs.readFileSync("/proc/self/stat", "utf8");
        // Fields after the command (which may hold spaces) start at field 3; cutime and cstime are fields 16 and 17.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = Number(fields[13]) + Number(fields[14]);
        return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
    } catch {
        return undefined;
    }
}

/** The `pulumi` commands the Automation API ran during one operation, with their wall time. */
export interface CommandTiming {
    readonly command: string;
    readonly ms: number;
}

type PulumiCommandLike = { run(args: string[], ...rest: unknown[]): Promise<unknown>; [WRAPPED]?: true };

/** `preview`, `up`, `stack output`, ... of a `pulumi` command line (flags and their values aside). */
export function commandName(args: readonly string[]): string {
    const words = args.filter((a) => !a.startsWith("-"));
    return words[0] === "stack" || words[0] === "config" ? words.slice(0, 2).join(" ") : (words[0] ?? "");
}

/** Times every `pulumi` command the stack's workspace runs into `sink.current`. */
function timeCommands(es: EngineStack, sink: { current: CommandTiming[] }): void {
    // LocalWorkspace.pulumiCommand.run is internal (stripped from the typings): the one place the CLI starts.
    const ws = es.stack.workspace as unknown as { pulumiCommand?: PulumiCommandLike };
    const cmd = ws.pulumiCommand;
    if (!cmd || typeof cmd.run !== "function" || cmd[WRAPPED]) return;
    const run = cmd.run.bind(cmd);
    cmd.run = async (args, ...rest) => {
        const t0 = performance.now();
        try {
            return await run(args, ...rest);
        } finally {
            sink.current.push({ command: commandName(args), ms: performance.now() - t0 });
        }
    };
    cmd[WRAPPED] = true;
}

export interface OpSample {
    wallMs: number;
    /** The main CLI command (`pulumi preview` / `pulumi up`) alone. */
    commandMs: number;
    /** The other CLI commands of the Automation API call, by name. */
    extraCommands: CommandTiming[];
    programCpuMs: number;
    engineCpuMs?: number;
    phases?: Phases;
    steps: Record<string, number>;
}

export interface Phases {
    /** From the call until the program function starts: CLI start, plugins, state, config secrets. */
    engineStartMs: number;
    /** The program function, until it returns (config, pre-flight, components; registrations are sent meanwhile). */
    programMs: number;
    /** From the program's start until the engine answered its last registration (Check and Diff of each resource). */
    registrationsMs: number;
    /** From the program's start until it sent its last registration (the program's evaluation and its waits on dependencies). */
    lastSentMs: number;
    /** After the last answered registration until the call returns (outputs, summary, CLI exit). */
    tailMs: number;
    registrations: number;
}

function phasesOf(t0: number, t1: number, m: ProgramMarks): Phases | undefined {
    if (m.start === undefined || m.returned === undefined) return undefined;
    const last = m.lastAnswered ?? m.returned;
    return { engineStartMs: m.start - t0, programMs: m.returned - m.start, registrationsMs: last - m.start, lastSentMs: (m.lastSent ?? m.start) - m.start, tailMs: t1 - last, registrations: m.registrations };
}

/** Steps by operation; a no-change operation has only `same`. */
function stepCounts(r: EngineRun): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of r.steps) out[s.op] = (out[s.op] ?? 0) + 1;
    return out;
}

async function sample(op: () => Promise<EngineRun>, main: string, commands: { current: CommandTiming[] }, marks?: { current: ProgramMarks }): Promise<OpSample> {
    commands.current = [];
    if (marks) marks.current = { registrations: 0 };
    const cpu0 = process.cpuUsage();
    const child0 = childrenCpuMs();
    const t0 = performance.now();
    const r = await op();
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const child1 = childrenCpuMs();
    const mainCmd = commands.current.find((c) => c.command === main);
    return {
        wallMs: t1 - t0,
        commandMs: mainCmd?.ms ?? t1 - t0,
        extraCommands: commands.current.filter((c) => c !== mainCmd),
        programCpuMs: (cpu.user + cpu.system) / 1000,
        engineCpuMs: child0 !== undefined && child1 !== undefined ? child1 - child0 : undefined,
        phases: marks ? phasesOf(t0, t1, marks.current) : undefined,
        steps: stepCounts(r),
    };
}

/** Fails when a no-change operation planned anything but `same` (the bench would time a change). */
export function requireNoChange(label: string, steps: Record<string, number>): void {
    const changed = Object.entries(steps).filter(([op, n]) => op !== "same" && n > 0);
    if (changed.length > 0) throw new Error(`bench: the no-change ${label} planned ${changed.map(([op, n]) => `${n} ${op}`).join(", ")}: the stack is not at rest, its timing would include changes`);
}

/** A stack's exported resources, kubernetes ones by `type::name`, their inputs with secrets as "[secret]" and `from` namespace text as `to`. */
async function deployedInputs(es: EngineStack, from?: string, to?: string): Promise<Map<string, string>> {
    const d = (await es.stack.exportStack()).deployment as { resources?: { urn: string; type: string; inputs?: unknown }[] };
    const out = new Map<string, string>();
    const norm = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(norm);
        if (v && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if ("4dabf18193072939515e22adb298388d" in o) return "[secret]";
            return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, norm(x)]));
        }
        if (typeof v === "string" && from !== undefined && to !== undefined) return v.split(from).join(to);
        return v;
    };
    for (const r of d.resources ?? []) {
        if (!r.type.startsWith("kubernetes:")) continue;
        out.set(`${r.type}::${r.urn.split("::").pop()}`, JSON.stringify(norm(r.inputs ?? {})));
    }
    return out;
}

/** Whether the twin deployed what the local stack deployed: each object's inputs in state, the namespace aside. */
export function compareDeployed(local: Map<string, string>, twin: Map<string, string>): { compared: number; differing: string[]; onlyLocal: string[]; onlyTwin: string[] } {
    const differing: string[] = [];
    let compared = 0;
    for (const [k, v] of local) {
        const t = twin.get(k);
        if (t === undefined) continue;
        compared++;
        if (t !== v) differing.push(k);
    }
    return { compared, differing, onlyLocal: [...local.keys()].filter((k) => !twin.has(k)), onlyTwin: [...twin.keys()].filter((k) => !local.has(k)) };
}

export interface OpStats {
    readonly wallMs: Stat;
    readonly commandMs: Stat;
    readonly programCpuMs: Stat;
    readonly engineCpuMs?: Stat;
    /** Medians of the other CLI commands of the call, by command. */
    readonly extraCommandsMs: Record<string, number>;
    readonly phases?: { [K in keyof Phases]: number };
}

export interface EngineBench {
    /** No-change preview, local stack over its static twin (Automation API call, wall). Goal ≤ 1.10. */
    readonly previewLocalVsTwin: number;
    /** No-change `pulumi up` over no-change `pulumi preview` command of the local stack. Goal ≤ 1.20. */
    readonly upVsPreview: number;
    /** The same with the whole Automation API calls (up() adds three CLI commands after the up). */
    readonly upVsPreviewAutomation: number;
    /** The twin's own up/preview (commands): the engine's ratio without the program. */
    readonly twinUpVsPreview: number;
    /** No-change preview, local stack over the one-ConfigMap floor. */
    readonly previewLocalVsFloor: number;
    /** No-change preview, the ordered twin over the twin: what the program's order costs the engine. */
    readonly previewOrderedVsTwin: number;
    /** No-change preview, local stack over the ordered twin: the program's evaluation, components and outputs. */
    readonly previewLocalVsOrdered: number;
    /**
     * CPU ratios of the no-change previews, local stack over the twin: this process's side (the inline program and
     * the Automation API), the engine's (the CLI and the provider), and both together (less swayed by the load of a
     * shared machine than the wall times).
     */
    readonly cpu: { readonly previewLocalVsTwinProgram?: number; readonly previewLocalVsTwinEngine?: number; readonly previewLocalVsTwinTotal?: number };
    /** Each goal (ENGINE_GOALS) met by the measured ratio. */
    readonly goalsMet: { readonly previewLocalVsTwin: boolean; readonly upVsPreview: boolean };
    readonly resources: { readonly local: number; readonly twin: number; readonly floor: number };
    /** Two GETs against the API server one after the other from the program's process, connection resolved first: what a two-read pre-flight adds. */
    readonly preflightTwoGetsMs: Stat;
    /** The longest chain of objects waiting one for another: the plain twin's, the program's. */
    readonly chains: { readonly twin: number; readonly ordered: number };
    readonly twinFidelity: ReturnType<typeof compareDeployed>;
    readonly preview: { readonly local: OpStats; readonly twin: OpStats; readonly ordered: OpStats; readonly floor: OpStats };
    readonly up: { readonly local: OpStats; readonly twin: OpStats };
    readonly runs: number;
    /**
     * How this process (where the inline programs run) loaded the program: `compiled` (bin/, as `pulumi up` runs
     * it: Pulumi.yaml's main) or `tsx` (sources with source maps, which make every registration's stack capture dearer).
     */
    readonly programRuntime: "compiled" | "tsx";
    readonly machine: { readonly cpus: number; readonly loadavg: { readonly start: number[]; readonly end: number[] } };
}

/** The most objects in one chain of waits (1: nothing waits for anything). */
export function longestChain(waits: readonly (readonly number[])[]): number {
    const depth = new Map<number, number>();
    const of = (i: number, seen: ReadonlySet<number>): number => {
        const known = depth.get(i);
        if (known !== undefined) return known;
        if (seen.has(i)) throw new Error(`a circle of waits through ${i}`);
        const d = 1 + Math.max(0, ...waits[i]!.map((j) => of(j, new Set([...seen, i]))));
        depth.set(i, d);
        return d;
    };
    return Math.max(0, ...waits.map((_, i) => of(i, new Set())));
}

/**
 * What a pre-flight read costs the program: from this process (where the inline program runs), the
 * connection resolved from the stack's kubeconfig as the program resolves it, then two GETs one after the
 * other (the local stack's pre-flight reads nothing; a check of two objects before any registration adds this).
 */
async function preflightReadMs(kubeconfig: string, namespace: string): Promise<number> {
    const t0 = performance.now();
    const conn = resolveKubeConnection({ kubeconfig });
    for (const p of [`/api/v1/namespaces/${namespace}`, `/api/v1/namespaces/${namespace}/secrets?limit=1`]) {
        const r = await kubeGet(conn, p);
        if (r.status !== 200) throw new Error(`bench: GET ${p} answered HTTP ${r.status}`);
    }
    return performance.now() - t0;
}

/** One ConfigMap: the floor every preview of a Kubernetes program pays. */
async function floorProgram(): Promise<Record<string, unknown>> {
    new core.ConfigMap("floor", { metadata: { name: "bench-floor", namespace: "default" }, data: { a: "b" } });
    return {};
}

/** Medians (with spread) of one operation's samples. */
export function opStats(samples: readonly OpSample[]): OpStats {
    const cmds = new Map<string, number[]>();
    for (const s of samples) for (const c of s.extraCommands) cmds.set(c.command, [...(cmds.get(c.command) ?? []), c.ms]);
    const engine = samples.map((s) => s.engineCpuMs).filter((x): x is number => x !== undefined);
    const ph = samples.map((s) => s.phases).filter((p): p is Phases => p !== undefined);
    const med = (xs: number[]) => stat(xs).median;
    return {
        wallMs: stat(samples.map((s) => s.wallMs)),
        commandMs: stat(samples.map((s) => s.commandMs)),
        programCpuMs: stat(samples.map((s) => s.programCpuMs)),
        ...(engine.length === samples.length ? { engineCpuMs: stat(engine) } : {}),
        extraCommandsMs: Object.fromEntries([...cmds].map(([k, v]) => [k, med(v)])),
        ...(ph.length === samples.length
            ? {
                  phases: {
                      engineStartMs: med(ph.map((p) => p.engineStartMs)),
                      programMs: med(ph.map((p) => p.programMs)),
                      registrationsMs: med(ph.map((p) => p.registrationsMs)),
                      lastSentMs: med(ph.map((p) => p.lastSentMs)),
                      tailMs: med(ph.map((p) => p.tailMs)),
                      registrations: med(ph.map((p) => p.registrations)),
                  },
              }
            : {}),
    };
}

/** a / b to two decimals; a RangeError when b is no positive number (a ratio of nothing measured). */
export function ratio(a: number, b: number): number {
    if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) throw new RangeError(`bench: cannot divide ${a} by ${b}`);
    return round(a / b, 2);
}

/** The goals of issue 21 part 1. */
export const ENGINE_GOALS = { previewLocalVsTwin: 1.1, upVsPreview: 1.2 } as const;

export type EngineFigures = Pick<
    EngineBench,
    "previewLocalVsTwin" | "upVsPreview" | "upVsPreviewAutomation" | "twinUpVsPreview" | "previewLocalVsFloor" | "previewOrderedVsTwin" | "previewLocalVsOrdered" | "cpu" | "goalsMet"
>;

/**
 * The figures from the medians: previews by their Automation API call (wall), up over preview by the CLI
 * command each ran (`pulumi up` / `pulumi preview`), and the whole calls apart.
 */
export function engineFigures(p: { local: OpStats; twin: OpStats; ordered: OpStats; floor: OpStats }, u: { local: OpStats; twin: OpStats }): EngineFigures {
    const cpuRatio = (a?: Stat, b?: Stat) => (a && b && b.median > 0 ? ratio(a.median, b.median) : undefined);
    const previewLocalVsTwin = ratio(p.local.wallMs.median, p.twin.wallMs.median);
    const upVsPreview = ratio(u.local.commandMs.median, p.local.commandMs.median);
    return {
        previewLocalVsTwin,
        upVsPreview,
        upVsPreviewAutomation: ratio(u.local.wallMs.median, p.local.wallMs.median),
        twinUpVsPreview: ratio(u.twin.commandMs.median, p.twin.commandMs.median),
        previewLocalVsFloor: ratio(p.local.wallMs.median, p.floor.wallMs.median),
        previewOrderedVsTwin: ratio(p.ordered.wallMs.median, p.twin.wallMs.median),
        previewLocalVsOrdered: ratio(p.local.wallMs.median, p.ordered.wallMs.median),
        cpu: {
            previewLocalVsTwinProgram: cpuRatio(p.local.programCpuMs, p.twin.programCpuMs),
            previewLocalVsTwinEngine: cpuRatio(p.local.engineCpuMs, p.twin.engineCpuMs),
            previewLocalVsTwinTotal: p.local.engineCpuMs && p.twin.engineCpuMs ? ratio(p.local.programCpuMs.median + p.local.engineCpuMs.median, p.twin.programCpuMs.median + p.twin.engineCpuMs.median) : undefined,
        },
        goalsMet: { previewLocalVsTwin: previewLocalVsTwin <= ENGINE_GOALS.previewLocalVsTwin, upVsPreview: upVsPreview <= ENGINE_GOALS.upVsPreview },
    };
}

/** `items` rotated left by `by`: round i starts with a different preview. */
export function rotate<T>(items: readonly T[], by: number): T[] {
    const k = ((by % items.length) + items.length) % items.length;
    return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * The twin's first up: it orders only what the API server needs (the namespace, a claim's StatefulSet), so an
 * object whose prerequisite another object makes later may fail once; each further up, 5 s later, only
 * retries what failed. Three at most.
 */
async function upUntilSettled(es: EngineStack, log: (l: string) => void): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await es.up();
            return;
        } catch (e) {
            if (attempt >= 3) throw e;
            await new Promise((r) => setTimeout(r, 5000));
            log(`engine: the twin's up ${attempt} failed (${(e instanceof Error ? e.message : String(e)).split("\n").filter((l) => /error/i.test(l)).slice(0, 2).join(" | ")}); again`);
        }
    }
}

/** Why the engine part cannot run here (the engine toolchain is not built), or undefined. */
export function toolchainSkipReason(): string | undefined {
    const check = spawnSync("bash", [path.join(projectRoot(), "toolchain", "build.sh"), "--check"], { stdio: "ignore" });
    return check.status === 0 ? undefined : "the engine toolchain is not built (bash toolchain/build.sh)";
}

export async function benchEngine(opts: Pick<BenchPartOptions, "runs" | "log">): Promise<EngineBench> {
    const loadStart = os.loadavg().map((l) => round(l, 2));
    const secrets = localSecrets();
    // The twin: the local stack's render with the same config (the same credentials), in its own namespace.
    const sets = [...Object.entries(secrets).filter(([k]) => !k.startsWith("access.")).map(([k, v]) => `${k}=${v}`), `namespace=${TWIN_NAMESPACE}`];
    const render = await renderStack({ root: projectRoot(), stack: "local", sets, secrets: "keep" });
    const twin = twinDeclarations(render.resources);
    opts.log(`engine: the twin declares ${twin.length} of the local stack's ${render.resources.length} resources (its Kubernetes objects)`);
    const orderedSets = [...sets.filter((x) => !x.startsWith("namespace=")), `namespace=${ORDERED_NAMESPACE}`];
    const ordered = twinDeclarations((await renderStack({ root: projectRoot(), stack: "local", sets: orderedSets, secrets: "keep", dependencies: true })).resources, { ordered: true });
    const chains = { twin: longestChain(twinDependencies(twin)), ordered: longestChain(twinDependencies(ordered)) };
    opts.log(`engine: longest chain of objects waiting one for another: ${chains.twin} in the twin, ${chains.ordered} in the program's order`);

    const cluster = await startCluster();
    const stacks: EngineStack[] = [];
    try {
        const fresh = () => ({ current: { registrations: 0 } as ProgramMarks });
        const marks = { local: fresh(), twin: fresh(), ordered: fresh(), floor: fresh() };
        const local = await engineStack(cluster, { base: "local", stackName: "bench-local", program: instrumented(() => platformMain(), marks.local) });
        const twinStack = await engineStack(cluster, { base: "local", stackName: "bench-twin", program: instrumented(twinProgram(twin), marks.twin) });
        const orderedStack = await engineStack(cluster, { base: "local", stackName: "bench-ordered", program: instrumented(twinProgram(ordered), marks.ordered) });
        const floor = await engineStack(cluster, { base: "local", stackName: "bench-floor", program: instrumented(floorProgram, marks.floor) });
        stacks.push(local, twinStack, orderedStack, floor);
        // The same stack config for all three (the local stack's, credentials included): only the program differs.
        for (const s of stacks) await s.configure(secretConfig(secrets));
        const commands = { current: [] as CommandTiming[] };
        for (const s of stacks) timeCommands(s, commands);

        opts.log("engine: up of the local stack, its twins and the floor");
        const first = await local.up();
        await upUntilSettled(twinStack, opts.log);
        await upUntilSettled(orderedStack, opts.log);
        await floor.up();
        const twinFidelity = compareDeployed(await deployedInputs(local), await deployedInputs(twinStack, TWIN_NAMESPACE, LOCAL_NAMESPACE));
        if (twinFidelity.differing.length > 0 || twinFidelity.onlyLocal.length > 0 || twinFidelity.onlyTwin.length > 0)
            opts.log(`engine: note: the twin differs from the local stack: ${JSON.stringify(twinFidelity)}`);
        // One warm-up each: the provider's first discovery of the API server is not what is measured.
        const byName = { local, twin: twinStack, ordered: orderedStack, floor } as const;
        for (const name of ["local", "twin", "ordered", "floor"] as const) requireNoChange(`preview of ${name}`, stepCounts(await byName[name].preview()));
        requireNoChange("up of local", stepCounts(await local.up()));
        requireNoChange("up of twin", stepCounts(await twinStack.up()));

        const previews: Record<"local" | "twin" | "ordered" | "floor", OpSample[]> = { local: [], twin: [], ordered: [], floor: [] };
        const ups: Record<"local" | "twin", OpSample[]> = { local: [], twin: [] };
        const reads: number[] = [];
        for (let i = 0; i < opts.runs; i++) {
            const order = rotate(["local", "twin", "ordered", "floor"] as const, i);
            opts.log(`engine: round ${i + 1}/${opts.runs}: no-change previews (${order.join(", ")}), no-change ups (local, twin)`);
            for (const name of order) {
                const s = await sample(() => byName[name].preview(), "preview", commands, marks[name]);
                requireNoChange(`preview of ${name}`, s.steps);
                previews[name].push(s);
            }
            reads.push(await preflightReadMs(cluster.kubeconfig, LOCAL_NAMESPACE));
            for (const name of ["local", "twin"] as const) {
                const s = await sample(() => byName[name].up(), "up", commands, marks[name]);
                requireNoChange(`up of ${name}`, s.steps);
                ups[name].push(s);
            }
        }
        const p = { local: opStats(previews.local), twin: opStats(previews.twin), ordered: opStats(previews.ordered), floor: opStats(previews.floor) };
        const u = { local: opStats(ups.local), twin: opStats(ups.twin) };
        return {
            ...engineFigures(p, u),
            resources: { local: first.steps.filter((s) => s.op === "create").length, twin: twin.length, floor: 1 },
            chains,
            preflightTwoGetsMs: stat(reads),
            twinFidelity,
            preview: p,
            up: u,
            runs: opts.runs,
            programRuntime: __filename.endsWith(".ts") ? "tsx" : "compiled",
            machine: { cpus: os.cpus().length, loadavg: { start: loadStart, end: os.loadavg().map((l) => round(l, 2)) } },
        };
    } finally {
        for (const s of stacks) await s.remove();
        await cluster.stop();
    }
}

function engineHuman(e: EngineBench): string {
    const span = (x: Stat) => `median ${x.median} ms (min ${x.min}, max ${x.max})`;
    const ph = (o: OpStats) =>
        o.phases
            ? `engine start ${o.phases.engineStartMs}, program ${o.phases.programMs}, last registration sent ${o.phases.lastSentMs} and answered ${o.phases.registrationsMs} (${o.phases.registrations}), tail ${o.phases.tailMs} ms`
            : "no phases";
    const cpu = (o: OpStats) => `CPU: program side ${o.programCpuMs.median} ms, engine side ${o.engineCpuMs?.median ?? "?"} ms`;
    const extra = (o: OpStats) => Object.entries(o.extraCommandsMs).map(([k, v]) => `${k} ${v} ms`).join(", ");
    const f = e.twinFidelity;
    return [
        `previewLocalVsTwin   ${e.previewLocalVsTwin}  (goal <= 1.10)  no-change preview: local stack (${e.resources.local} resources) ${span(e.preview.local.wallMs)} vs its static twin (${e.resources.twin} objects) ${span(e.preview.twin.wallMs)}`,
        `  local              ${ph(e.preview.local)}; ${cpu(e.preview.local)}`,
        `  twin               ${ph(e.preview.twin)}; ${cpu(e.preview.twin)}`,
        `  ordered twin       ${e.previewOrderedVsTwin} over the twin (the program's order: chains of ${e.chains.ordered} objects, the twin's ${e.chains.twin}); local over it ${e.previewLocalVsOrdered}; ${span(e.preview.ordered.wallMs)}; ${ph(e.preview.ordered)}`,
        `  CPU ratios         program side ${e.cpu.previewLocalVsTwinProgram ?? "?"}, engine side ${e.cpu.previewLocalVsTwinEngine ?? "?"}, both ${e.cpu.previewLocalVsTwinTotal ?? "?"}`,
        `  twin fidelity      ${f.compared} objects compared in state, ${f.differing.length} differ${f.differing.length > 0 ? ` (${f.differing.join(", ")})` : ""}${f.onlyLocal.length + f.onlyTwin.length > 0 ? `; only local: ${f.onlyLocal.join(", ") || "-"}; only twin: ${f.onlyTwin.join(", ") || "-"}` : ""}`,
        `  pre-flight         two GETs against the API server from the program's process ${span(e.preflightTwoGetsMs)} (the local stack's pre-flight makes none)`,
        `upVsPreview          ${e.upVsPreview}  (goal <= 1.20)  \`pulumi up\` ${span(e.up.local.commandMs)} vs \`pulumi preview\` ${span(e.preview.local.commandMs)} (no change, local stack)`,
        `  Automation API     ${e.upVsPreviewAutomation}  up() ${span(e.up.local.wallMs)} = up + ${extra(e.up.local) || "nothing else"}`,
        `  twin               ${e.twinUpVsPreview}  \`pulumi up\` ${span(e.up.twin.commandMs)} vs \`pulumi preview\` ${span(e.preview.twin.commandMs)}`,
        `previewLocalVsFloor  ${e.previewLocalVsFloor}  one-ConfigMap program ${span(e.preview.floor.wallMs)}; ${ph(e.preview.floor)}`,
        `machine              program loaded ${e.programRuntime === "tsx" ? "from the sources through tsx (npm run build for the compiled deploy path)" : "compiled (bin/)"}; ${e.machine.cpus} CPUs, load ${e.machine.loadavg.start.join(" ")} at start, ${e.machine.loadavg.end.join(" ")} at end; ${e.runs} rounds`,
    ].join("\n");
}

export const part: BenchPart<EngineBench> = {
    name: "engine",
    summary: "the program's own cost on the real engine: no-change preview of the local stack vs its static twin (and a one-ConfigMap floor), no-change up vs preview",
    skip: toolchainSkipReason,
    run: (opts) => benchEngine(opts),
    human: engineHuman,
};
