/**
 * A closed-loop HTTP load generator: `clients` keep-alive connections, each sending one request, waiting for its
 * answer, sending the next, for a warm-up (not measured) and then a fixed window. A request counts when it starts
 * and ends inside the window; every answer is checked (status and body) and a wrong one counts as an error, not
 * as a latency. What callers of a served model feel: the load bench-serving.ts puts on each contender.
 */
import * as http from "node:http";

export interface LoadRequest {
    readonly method: "POST" | "GET";
    /** Path and query, e.g. /invocations. */
    readonly path: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: Buffer;
}

export interface LoadOptions {
    /** http://host:port */
    readonly baseUrl: string;
    /**
     * The request every client sends, or a function giving client `client` (0-based) its `n`-th request (0-based,
     * warm-up included): for loads whose requests must differ, e.g. metric batches of consecutive steps.
     */
    readonly request: LoadRequest | ((client: number, n: number) => LoadRequest);
    readonly clients: number;
    readonly warmupMs: number;
    readonly durationMs: number;
    /** Undefined when the answer is right; else why not (the first one is reported). */
    readonly check: (status: number, body: string) => string | undefined;
    /** Called when the measured window starts and when it ends (e.g. to read a cgroup's CPU time). */
    readonly onWindow?: (edge: "start" | "end") => void;
}

export interface LoadRun {
    /** Latency of each request that started and ended inside the window, ms, in completion order. */
    readonly latenciesMs: number[];
    /** The window's length as it happened, ms. */
    readonly windowMs: number;
    /** Wrong answers and failed requests inside the window. */
    readonly errors: number;
    readonly firstError?: string;
    /** Requests sent in all (warm-up included). */
    readonly sent: number;
    /**
     * Latency of each right answer that ENDED inside the window, whatever its start (warm-up included), ms: the
     * throughput of a server slower than the window (every request outlasting it) is then not 0.
     */
    readonly endedInWindowMs?: number[];
}

function send(agent: http.Agent, url: URL, r: LoadRequest): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            { agent, host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { ...r.headers, "Content-Length": String(r.body.length) } },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (d: Buffer) => chunks.push(d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
                res.on("error", reject);
            },
        );
        req.setTimeout(60_000, () => req.destroy(new Error(`${r.method} ${r.path}: no answer within 60 s`)));
        req.on("error", reject);
        req.end(r.body);
    });
}

export async function closedLoopLoad(opts: LoadOptions): Promise<LoadRun> {
    if (!Number.isInteger(opts.clients) || opts.clients < 1) throw new RangeError(`clients must be a positive integer (got ${opts.clients})`);
    if (!(opts.durationMs > 0)) throw new RangeError(`durationMs must be positive (got ${opts.durationMs})`);
    const url = new URL(opts.baseUrl);
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients, maxFreeSockets: opts.clients });
    const start = performance.now();
    const windowStart = start + Math.max(0, opts.warmupMs);
    const windowEnd = windowStart + opts.durationMs;
    const latenciesMs: number[] = [];
    const endedInWindowMs: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let sent = 0;
    const edges = { start: false, end: false };
    const edge = (which: "start" | "end") => {
        if (edges[which]) return;
        edges[which] = true;
        opts.onWindow?.(which);
    };
    const startTimer = setTimeout(() => edge("start"), Math.max(0, windowStart - performance.now()));
    const endTimer = setTimeout(() => edge("end"), Math.max(0, windowEnd - performance.now()));
    const requestOf = opts.request;
    const client = async (_: unknown, index: number) => {
        for (let n = 0; performance.now() < windowEnd; n++) {
            const request = typeof requestOf === "function" ? requestOf(index, n) : requestOf;
            const t0 = performance.now();
            sent++;
            let wrong: string | undefined;
            try {
                const res = await send(agent, url, request);
                wrong = opts.check(res.status, res.body);
            } catch (err) {
                wrong = err instanceof Error ? err.message : String(err);
            }
            const t1 = performance.now();
            if (wrong === undefined && t1 >= windowStart && t1 <= windowEnd) endedInWindowMs.push(t1 - t0);
            if (t0 < windowStart || t1 > windowEnd) continue;
            if (wrong !== undefined) {
                errors++;
                firstError ??= wrong;
            } else latenciesMs.push(t1 - t0);
        }
    };
    try {
        await Promise.all(Array.from({ length: opts.clients }, client));
    } finally {
        clearTimeout(startTimer);
        clearTimeout(endTimer);
        edge("start");
        edge("end");
        agent.destroy();
    }
    return { latenciesMs, windowMs: windowEnd - windowStart, errors, ...(firstError !== undefined ? { firstError } : {}), sent, endedInWindowMs };
}
