import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../../cli/args";
import {
    apiHeaders,
    batchRequests,
    cpuMsPerBatch,
    groupCpuSeconds,
    parseProcStat,
    pidCpuSeconds,
    logBatchCheck,
    mergeRuns,
    metricBatchBody,
    parseTrackingArgs,
    part,
    passOrder,
    passRate,
    ratio,
    summarizeLoad,
    variantArgs,
    withoutCpuLimit,
} from "../../cli/bench-tracking";
import { closedLoopLoad } from "../../testbed/http-load";

const usageError = (fn: () => unknown, fragment: string) =>
    assert.throws(fn, (e: unknown) => e instanceof UsageError && e.message.includes(fragment), `expected a UsageError naming ${fragment}`);

describe("bench tracking: arguments", () => {
    it("defaults to a 20 s window, human output, options only when the goal is missed", () => {
        assert.deepEqual(parseTrackingArgs([]), { json: false, durationSeconds: 20, options: false });
        assert.deepEqual(parseTrackingArgs(["--json", "--duration", "10", "--options"]), { json: true, durationSeconds: 10, options: true });
        assert.equal(parseTrackingArgs(["--duration=2.5"]).durationSeconds, 2.5);
    });

    it("refuses a bad duration and unknown flags, naming them", () => {
        for (const bad of ["0", "-3", "ten", "1e3", "5000", ""]) usageError(() => parseTrackingArgs(["--duration", bad]), "--duration");
        usageError(() => parseTrackingArgs(["--runs", "5"]), "--runs");
    });

    it("is a bench part named tracking", () => {
        assert.equal(part.name, "tracking");
        assert.match(part.summary, /bare/);
    });
});

describe("bench tracking: request bodies", () => {
    it("a batch holds 100 distinct metrics of one run at one step, timestamp base + step", () => {
        const body = JSON.parse(metricBatchBody("run-1", 7, 1_700_000_000_000)) as { run_id: string; metrics: { key: string; value: number; timestamp: number; step: number }[] };
        assert.equal(body.run_id, "run-1");
        assert.equal(body.metrics.length, 100);
        assert.equal(new Set(body.metrics.map((m) => m.key)).size, 100, "keys are distinct");
        assert.deepEqual([body.metrics[0]!.key, body.metrics[99]!.key], ["m000", "m099"]);
        for (const m of body.metrics) {
            assert.equal(m.step, 7);
            assert.equal(m.timestamp, 1_700_000_000_007);
            assert.ok(Number.isFinite(m.value));
        }
        assert.notDeepEqual(metricBatchBody("run-1", 7, 0), metricBatchBody("run-1", 8, 0), "the next step is new data");
    });

    it("keeps MLflow's limit of 1000 metrics per batch and whole steps", () => {
        assert.equal((JSON.parse(metricBatchBody("r", 0, 0, 1000)) as { metrics: { key: string }[] }).metrics[999]!.key, "m999");
        assert.throws(() => metricBatchBody("r", 0, 0, 1001), /1\.\.1000/);
        assert.throws(() => metricBatchBody("r", 0, 0, 0), /1\.\.1000/);
        assert.throws(() => metricBatchBody("r", -1, 0), /step/);
        assert.throws(() => metricBatchBody("r", 1.5, 0), /step/);
    });

    it("each client logs to its own run, step n on its n-th request, with the Host and credentials given", () => {
        const headers = apiHeaders("mlflow.mlflow.svc.cluster.local:5000", { username: "machine", password: "pw:with:colons" });
        assert.equal(headers.Host, "mlflow.mlflow.svc.cluster.local:5000");
        assert.equal(Buffer.from(headers.Authorization!.replace(/^Basic /, ""), "base64").toString(), "machine:pw:with:colons");
        assert.equal(apiHeaders("h").Authorization, undefined);
        const next = batchRequests(["a", "b"], headers, 1000);
        const r = next(1, 3);
        assert.equal(r.method, "POST");
        assert.equal(r.path, "/api/2.0/mlflow/runs/log-batch");
        assert.equal(r.headers, headers);
        const body = JSON.parse(r.body.toString()) as { run_id: string; metrics: { step: number; timestamp: number }[] };
        assert.deepEqual([body.run_id, body.metrics[0]!.step, body.metrics[0]!.timestamp], ["b", 3, 1003]);
        assert.throws(() => next(2, 0), /client 2 has no run/);
        assert.throws(() => batchRequests([], headers, 0), /no runs/);
    });

    it("an answer is right only when it is 200 with {}", () => {
        assert.equal(logBatchCheck(200, "{}"), undefined);
        assert.equal(logBatchCheck(200, " { } "), undefined);
        assert.match(logBatchCheck(401, "Unauthorized") ?? "", /HTTP 401/);
        assert.match(logBatchCheck(200, '{"error_code":"X"}') ?? "", /not \{\}/);
        assert.match(logBatchCheck(200, "<html>") ?? "", /not \{\}/);
        assert.match(logBatchCheck(200, "[]") ?? "", /not \{\}/);
    });
});

describe("bench tracking: statistics", () => {
    it("batches/s over the window, metrics/s, nearest-rank p50/p99, errors carried", () => {
        const latenciesMs = Array.from({ length: 100 }, (_, i) => i + 1);
        const s = summarizeLoad({ latenciesMs, windowMs: 4000, errors: 2, firstError: "HTTP 500", sent: 130 }, [1.5, 2]);
        assert.deepEqual(
            [s.batches, s.batchesPerSecond, s.metricsPerSecond, s.p50Ms, s.p99Ms, s.errors, s.firstError, s.sent, s.loadavg],
            [100, 25, 2500, 50, 99, 2, "HTTP 500", 130, [1.5, 2]],
        );
    });

    it("counts the answers that ended inside the window when the load recorded them (a server slower than the window has a rate)", () => {
        const s = summarizeLoad({ latenciesMs: [], windowMs: 5000, errors: 0, sent: 24, endedInWindowMs: [7000, 7100, 7200, 7300, 7400] }, []);
        assert.deepEqual([s.batches, s.batchesPerSecond, s.p50Ms, s.p99Ms, s.errors], [5, 1, 7200, 7400, 0]);
    });

    it("a window in which no batch completed is an error with rate 0, not a missing value", () => {
        const s = summarizeLoad({ latenciesMs: [], windowMs: 5000, errors: 0, sent: 16 }, []);
        assert.equal(s.batchesPerSecond, 0);
        assert.equal(s.errors, 1);
        assert.match(s.firstError ?? "", /no batch completed inside 5 s.*16 sent/);
        assert.ok(Number.isNaN(s.p99Ms));
    });

    it("passes of one contender add up to one run", () => {
        const m = mergeRuns([
            { latenciesMs: [1, 2], windowMs: 1000, errors: 0, sent: 5 },
            { latenciesMs: [3], windowMs: 500, errors: 1, firstError: "boom", sent: 4 },
        ]);
        assert.deepEqual(m, { latenciesMs: [1, 2, 3], windowMs: 1500, errors: 1, firstError: "boom", sent: 9 });
        const ended = mergeRuns([
            { latenciesMs: [], windowMs: 1000, errors: 0, sent: 5, endedInWindowMs: [9] },
            { latenciesMs: [3], windowMs: 500, errors: 0, sent: 4, endedInWindowMs: [3, 8] },
        ]);
        assert.deepEqual(ended.endedInWindowMs, [9, 3, 8]);
        assert.throws(() => mergeRuns([]), /no runs/);
    });

    it("a pass's rate counts the answers that ended in its window", () => {
        assert.equal(passRate({ latenciesMs: [1], windowMs: 2000, errors: 0, sent: 9, endedInWindowMs: [1, 2, 3, 4, 5] }), 2.5);
        assert.equal(passRate({ latenciesMs: [1, 2], windowMs: 4000, errors: 0, sent: 9 }), 0.5);
    });

    it("ratios to two decimals, NaN without a reference throughput", () => {
        assert.equal(ratio(9, 10), 0.9);
        assert.equal(ratio(2, 3), 0.67);
        assert.ok(Number.isNaN(ratio(1, 0)));
        assert.ok(Number.isNaN(ratio(1, Number.NaN)));
    });

    it("passes alternate the order so a drifting load weighs on each contender alike", () => {
        assert.deepEqual(passOrder(["a", "b", "c"], 4), [["a", "b", "c"], ["c", "b", "a"], ["a", "b", "c"], ["c", "b", "a"]]);
        // Over an even number of passes every contender's mean position is the same.
        const order = passOrder(["a", "b", "c"], 4).flat();
        const mean = (x: string) => order.reduce((t, y, i) => t + (y === x ? i : 0), 0) / 4;
        assert.equal(mean("a"), mean("c"));
        assert.equal(mean("a"), mean("b"));
        assert.throws(() => passOrder(["a"], 0), /positive integer/);
    });
});

describe("bench tracking: CPU per batch", () => {
    it("reads the process group and user + system ticks of a /proc/<pid>/stat line, also with spaces and parens in the name", () => {
        const line = "4242 (uvicorn (w) 1) S 4200 4100 4100 0 -1 4194560 9 0 0 0 250 40 7 3 20 0 5 0 100 0 0";
        assert.deepEqual(parseProcStat(line), { pgrp: 4100, ticks: 290 });
        assert.throws(() => parseProcStat("garbage"), /not a \/proc/);
    });

    it("measures this process: its group's CPU includes its own, and grows with work", () => {
        const self = pidCpuSeconds(process.pid);
        const group = groupCpuSeconds(Number(fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")[2]));
        assert.ok(group >= self - 0.02, `group ${group} s ≥ own ${self} s`);
        const t = Date.now();
        let x = 0;
        while (Date.now() - t < 120) x += Math.sqrt(x + 1);
        assert.ok(pidCpuSeconds(process.pid) > self, `CPU time grows (${x > 0})`);
    });

    it("CPU ms per batch answered in the windows, NaN without batches", () => {
        assert.equal(cpuMsPerBatch(1.5, { latenciesMs: [], windowMs: 1000, errors: 0, sent: 60, endedInWindowMs: Array(50).fill(1) }), 30);
        assert.ok(Number.isNaN(cpuMsPerBatch(1.5, { latenciesMs: [], windowMs: 1000, errors: 0, sent: 3, endedInWindowMs: [] })));
    });
});

describe("bench tracking: option variants", () => {
    const rendered = ["server", "--host", "127.0.0.1", "--port", "5000", "--allowed-hosts", "mlflow,localhost:*", "--expose-prometheus", "/tmp/m", "--workers", "1"];

    it("takes the Prometheus exporter away, and the host check", () => {
        assert.deepEqual(variantArgs(rendered, "noPrometheus"), ["server", "--host", "127.0.0.1", "--port", "5000", "--allowed-hosts", "mlflow,localhost:*", "--workers", "1"]);
        assert.deepEqual(variantArgs(["a", "--expose-prometheus=/m", "b"], "noPrometheus"), ["a", "b"]);
        assert.deepEqual(variantArgs(rendered, "anyHost").slice(5, 7), ["--allowed-hosts", "*"]);
    });

    it("fails loudly when the render no longer has the option", () => {
        assert.throws(() => variantArgs(["server"], "noPrometheus"), /--expose-prometheus/);
        assert.throws(() => variantArgs(["server"], "anyHost"), /--allowed-hosts/);
    });

    it("takes the sidecar's CPU limit away from podman's options", () => {
        assert.deepEqual(withoutCpuLimit(["--memory", "1b", "--cpus", "0.5", "--read-only"]), ["--memory", "1b", "--read-only"]);
        assert.throws(() => withoutCpuLimit(["--memory", "1b"]), /--cpus/);
        assert.throws(() => withoutCpuLimit(["--cpus", "1", "--cpus", "2"]), /--cpus/);
    });
});

describe("testbed http-load: a request per client and count", () => {
    it("client i's n-th request is built by the function, warm-up included", async () => {
        const seen: string[] = [];
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d: Buffer) => { body += d.toString(); });
            req.on("end", () => {
                seen.push(`${req.url} ${body}`);
                res.end("ok");
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
            const port = (server.address() as AddressInfo).port;
            const run = await closedLoopLoad({
                baseUrl: `http://127.0.0.1:${port}`,
                request: (client, n) => ({ method: "POST", path: `/c${client}`, headers: {}, body: Buffer.from(String(n)) }),
                clients: 2,
                warmupMs: 50,
                durationMs: 200,
                check: (status, body) => (status === 200 && body === "ok" ? undefined : `HTTP ${status}`),
            });
            assert.equal(run.errors, 0);
            assert.ok(run.latenciesMs.length > 0, "requests completed inside the window");
            for (const c of ["/c0", "/c1"]) {
                const counts = seen.filter((s) => s.startsWith(`${c} `)).map((s) => Number(s.split(" ")[1]));
                assert.ok(counts.length > 1, `client ${c} sent several requests`);
                assert.deepEqual(counts, counts.map((_, i) => i), `client ${c}: counts 0, 1, 2, ... in order`);
            }
            assert.equal(seen.length, run.sent);
            assert.ok((run.endedInWindowMs ?? []).length >= run.latenciesMs.length, "every answer inside the window also ended inside it");
        } finally {
            await new Promise<void>((r) => server.close(() => r()));
        }
    });
});
