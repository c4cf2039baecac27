/** The statistics every part of `npm run bench` reports: medians with their spread. */

/** Median, min and max of samples (ms). */
export interface Stat {
    readonly median: number;
    readonly min: number;
    readonly max: number;
    readonly samples: number[];
}

export function stat(samples: readonly number[]): Stat {
    if (samples.length === 0) throw new RangeError("stat: no samples");
    const s = [...samples].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    return { median: round(median), min: round(s[0]!), max: round(s[s.length - 1]!), samples: samples.map((x) => round(x)) };
}

export function round(n: number, digits = 1): number {
    const f = 10 ** digits;
    return Math.round(n * f) / f;
}

/** What every part of `npm run bench` is given. */
export interface BenchPartOptions {
    /** Progress lines (stderr). */
    readonly log: (line: string) => void;
    /** Samples of each timed measurement where a part repeats one (`--runs`, at least 5). */
    readonly runs: number;
    /** Seconds of each fixed-duration load run (`--duration`). */
    readonly durationSeconds: number;
}

/**
 * One part of `npm run bench` (cli/bench-<name>.ts exports one as `part`): it measures side by side in one
 * run and returns its JSON section; `skip` says why it cannot run here (undefined: it can).
 */
export interface BenchPart<T extends object = object> {
    readonly name: string;
    readonly summary: string;
    skip(): string | undefined;
    run(opts: BenchPartOptions): Promise<T>;
    human(result: T): string;
}

/** Percentile `p` (0-100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
    if (samples.length === 0) throw new RangeError("percentile: no samples");
    const s = [...samples].sort((a, b) => a - b);
    return round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!, 2);
}
