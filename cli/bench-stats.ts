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
