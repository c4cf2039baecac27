/**
 * `npm run bench [-- --part <name>]... [--json] [--runs <n>] [--duration <s>] [--delay-ms <ms>]`: the
 * performance budget. A benchmark, not a test: it prints the numbers it measured whatever they are. Exit 0
 * when every part it ran measured, 1 when a part failed or a part named by `--part` cannot run here (its
 * reason is in its section), 2 on bad arguments.
 *
 * The parts (cli/bench-parts.ts), each measured side by side in itself, one after the other:
 * - program (cli/bench-program.ts): the program's evaluation under the render's mocks, no cluster;
 * - engine (cli/bench-engine.ts): on the real engine and a test API server, a no-change preview of the local
 *   stack against its static twin (the same objects declared by a plain program) and a one-resource floor,
 *   and a no-change up against a no-change preview.
 * `--part` (repeatable) runs only the named parts, default all. `--json` prints one JSON document:
 * `{ bench: { runs, durationSeconds, delayMs, machine }, parts: { <name>: <section> | { skipped } | { error } } }`.
 */
import * as os from "node:os";
import { parseArgs, UsageError } from "./args";
import { BENCH_PARTS } from "./bench-parts";
import { round, type BenchPart } from "./bench-stats";
import { DEFAULT_DELAY_MS, type ProgramPartOptions } from "./bench-program";
import { guarded } from "./render";

export interface BenchArgs {
    /** Names of the parts to run, in the order of `known`. */
    readonly parts: string[];
    /** Whether the parts were named (`--part`): one that cannot run is then a failure. */
    readonly named: boolean;
    readonly json: boolean;
    readonly runs: number;
    readonly durationSeconds: number;
    readonly delayMs: number;
}

/** `npm run bench`'s arguments; a UsageError names the bad one and what would be valid. */
export function parseBenchArgs(argv: readonly string[], known: readonly string[]): BenchArgs {
    const args = parseArgs(argv, {
        part: { type: "string", multiple: true, description: `a part to run: ${known.join(", ")} (repeatable; default all)` },
        json: { type: "boolean", description: "print one JSON document" },
        runs: { type: "string", default: "5", description: "samples of each timed measurement (at least 5)" },
        duration: { type: "string", default: "10", description: "seconds of each fixed-duration load run" },
        "delay-ms": { type: "string", default: String(DEFAULT_DELAY_MS), description: "registry stand-in delay per call (program part)" },
    });
    const named = args.values.part;
    for (const p of named) if (!known.includes(p)) throw new UsageError(`--part "${p}" is not a part of the bench; known parts: ${known.join(", ")}`);
    const int = (flag: string, value: string, min: number, what: string): number => {
        const n = Number(value);
        if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be ${what} (got "${value}")`);
        return n;
    };
    return {
        parts: named.length > 0 ? known.filter((k) => named.includes(k)) : [...known],
        named: named.length > 0,
        json: args.values.json,
        runs: int("runs", args.values.runs, 5, "an integer of at least 5"),
        durationSeconds: int("duration", args.values.duration, 1, "a whole number of seconds, at least 1"),
        delayMs: int("delay-ms", args.values["delay-ms"], 1, "a positive integer"),
    };
}

/** One part's section of the JSON document. */
export type Section = object | { readonly skipped: string } | { readonly error: string };

/** Runs the parts in turn; a part that throws gets `{ error }` and the others still run. */
export async function runParts(parts: readonly BenchPart[], a: BenchArgs, log: (l: string) => void): Promise<{ sections: Record<string, Section>; failed: string[] }> {
    const sections: Record<string, Section> = {};
    const failed: string[] = [];
    const opts: ProgramPartOptions = { log, runs: a.runs, durationSeconds: a.durationSeconds, delayMs: a.delayMs };
    for (const p of parts.filter((x) => a.parts.includes(x.name))) {
        const skipped = p.skip();
        if (skipped !== undefined) {
            log(`${p.name}: skipped: ${skipped}`);
            sections[p.name] = { skipped };
            if (a.named) failed.push(p.name);
            continue;
        }
        log(`${p.name}: ${p.summary}`);
        try {
            sections[p.name] = await p.run(opts);
        } catch (e) {
            const error = e instanceof Error ? e.message : String(e);
            log(`${p.name}: failed: ${error}`);
            sections[p.name] = { error };
            failed.push(p.name);
        }
    }
    return { sections, failed };
}

function humanSection(p: BenchPart, s: Section): string {
    if ("skipped" in s && typeof s.skipped === "string") return `${p.name}: skipped: ${s.skipped}`;
    if ("error" in s && typeof s.error === "string") return `${p.name}: failed: ${s.error}`;
    return `== ${p.name}\n${p.human(s)}`;
}

export async function main(argv: string[]): Promise<number> {
    return guarded("bench", async () => {
        const a = parseBenchArgs(argv, BENCH_PARTS.map((p) => p.name));
        const log = (l: string) => process.stderr.write(`bench: ${l}\n`);
        const loadStart = os.loadavg().map((l) => round(l, 2));
        const { sections, failed } = await runParts(BENCH_PARTS, a, log);
        const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", node: process.version, loadavg: { start: loadStart, end: os.loadavg().map((l) => round(l, 2)) } };
        if (a.json) {
            const doc = { bench: { runs: a.runs, durationSeconds: a.durationSeconds, delayMs: a.delayMs, machine }, parts: sections };
            process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else {
            const lines = BENCH_PARTS.filter((p) => p.name in sections).map((p) => humanSection(p, sections[p.name]!));
            lines.push(`machine: ${machine.cpus} CPUs, node ${machine.node}, load ${machine.loadavg.start.join(" ")} at start, ${machine.loadavg.end.join(" ")} at end`);
            process.stdout.write(`${lines.join("\n")}\n`);
        }
        if (failed.length > 0) log(`not measured: ${failed.join(", ")}`);
        return failed.length > 0 ? 1 : 0;
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
