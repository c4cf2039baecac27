import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    answerCheck,
    cpuCores,
    invocationsBody,
    mlserverPodSecurity,
    parseStandaloneArgs,
    parseSweep,
    part,
    predictionsDiffer,
    predictionsOf,
    processEnv,
    processesOf,
    servingGoals,
    sizeRatios,
    summarizeFloor,
    summarizeLoad,
    v2InferBody,
    warmupSeconds,
    type FloorSummary,
    type LoadSummary,
    type SizeRatios,
} from "../../cli/bench-serving";
import { UsageError } from "../../cli/args";
import { runtimeProcessEnv } from "../../manifests/serving";
import { isvcModelContainer, kserveMlserverContainers, mergeRuntimeContainer } from "../../testbed/kserve-injection";
import { cgroupCpuFiles, readCgroupCpu } from "../../testbed/podman";

const ROW = [2.9868, 24, 4.0487, 0.67652, 3040, 3.42254, 35.02, -119.64];

describe("bench serving: requests and answers", () => {
    it("speaks MLflow's dataframe_split to the runtime and v2 with the pandas codec to MLServer, column by column", () => {
        const split = JSON.parse(invocationsBody([ROW, ROW.map((x) => x + 1)]));
        assert.equal(split.dataframe_split.columns.length, 8);
        assert.deepEqual(split.dataframe_split.data[1], ROW.map((x) => x + 1));
        const v2 = JSON.parse(v2InferBody([ROW, ROW.map((x) => x + 1)]));
        assert.deepEqual(v2.parameters, { content_type: "pd" });
        assert.equal(v2.inputs.length, 8);
        assert.deepEqual(v2.inputs[0], { name: "MedInc", shape: [2], datatype: "FP64", data: [ROW[0], ROW[0]! + 1] });
        assert.deepEqual(v2.inputs[7].data, [ROW[7], ROW[7]! + 1]);
    });
    it("reads each contender's predictions and names what is wrong", () => {
        assert.deepEqual(predictionsOf("runtime", '{"predictions": [1.5, 2]}'), [1.5, 2]);
        assert.deepEqual(predictionsOf("mlserver", '{"outputs": [{"name": "output-1", "data": [3]}]}'), [3]);
        assert.throws(() => predictionsOf("runtime", "<html>"), /not JSON/);
        assert.throws(() => predictionsOf("runtime", '{"outputs": [{"data": [3]}]}'), /no predictions array/);
        assert.throws(() => predictionsOf("mlserver", '{"outputs": [{"data": ["x"]}]}'), /no outputs\[0\]\.data/);
    });
    it("an answer is right only with status 200 and the floor's predictions", () => {
        assert.equal(predictionsDiffer([1, 2.0000000000001], [1, 2]), undefined);
        assert.match(predictionsDiffer([1, 2.001], [1, 2])!, /prediction 1 is 2\.001, expected 2/);
        assert.match(predictionsDiffer([1], [1, 2])!, /1 predictions, expected 2/);
        assert.match(predictionsDiffer([NaN], [1])!, /prediction 0/);
        const check = answerCheck("runtime", [2.5]);
        assert.equal(check(200, '{"predictions": [2.5]}'), undefined);
        assert.match(check(400, '{"error_code": "BAD"}')!, /^HTTP 400/);
        assert.match(check(200, '{"predictions": [2.6]}')!, /expected 2\.5/);
    });
});

describe("bench serving: summaries, ratios, goals", () => {
    const run = { latenciesMs: Array.from({ length: 100 }, (_, i) => i + 1), windowMs: 10_000, errors: 0, sent: 120 };
    it("summarizes a load window: requests/s, rows/s, percentiles, per core of the limit and per CPU-second used", () => {
        const s = summarizeLoad(run, 100, 1, { start: { usageSeconds: 10, throttledSeconds: 1 }, end: { usageSeconds: 15, throttledSeconds: 3 } });
        assert.equal(s.requests, 100);
        assert.equal(s.requestsPerSecond, 10);
        assert.equal(s.rowsPerSecond, 1000);
        assert.equal(s.p50Ms, 50);
        assert.equal(s.p99Ms, 99);
        assert.equal(s.rowsPerSecondPerCore, 1000);
        assert.equal(s.cpuSeconds, 5);
        assert.equal(s.rowsPerCpuSecond, 2000);
        assert.equal(s.throttledSeconds, 2);
        assert.equal(summarizeLoad(run, 1, 0.5).rowsPerSecondPerCore, 20);
        assert.equal("rowsPerCpuSecond" in summarizeLoad(run, 1, 1), false);
        assert.throws(() => summarizeLoad(run, 1, 0), /cpuLimitCores must be positive/);
    });
    it("summarizes the floor per wall second and per CPU second, and refuses an empty one", () => {
        const f = summarizeFloor({ predictions: [1], latenciesMs: [1, 2, 3, 4], wallSeconds: 2, cpuSeconds: 1 }, 100);
        assert.equal(f.rowsPerSecond, 200);
        assert.equal(f.rowsPerSecondPerCore, 400);
        assert.throws(() => summarizeFloor({ predictions: [], latenciesMs: [], wallSeconds: 1, cpuSeconds: 1 }, 1), /no calls measured/);
    });
    const load = (over: Partial<LoadSummary>): LoadSummary => ({ requests: 1, requestsPerSecond: 100, rowsPerSecond: 100, p50Ms: 5, p99Ms: 20, errors: 0, rowsPerSecondPerCore: 100, ...over });
    const floor: FloorSummary = { calls: 1, rowsPerSecond: 1000, rowsPerSecondPerCore: 3000, p50Ms: 1, p99Ms: 2 };
    it("ratios: runtime against MLServer, floor against each; NaN without the CPU reading", () => {
        const r = sizeRatios(load({ requestsPerSecond: 150, p99Ms: 10, rowsPerSecondPerCore: 1000, rowsPerCpuSecond: 2000 }), load({}), floor);
        assert.equal(r.throughputVsMlserver, 1.5);
        assert.equal(r.p99VsMlserver, 0.5);
        assert.equal(r.floorPerCoreVsRuntime, 3);
        assert.equal(r.floorPerCpuVsRuntime, 1.5);
        assert.equal(r.floorPerCoreVsMlserver, 30);
        assert.ok(Number.isNaN(sizeRatios(load({}), load({}), floor).floorPerCpuVsRuntime));
    });
    it("judges each goal on its measured value: met and missed", () => {
        const good: SizeRatios = { throughputVsMlserver: 1.2, p99VsMlserver: 0.8, floorPerCoreVsRuntime: 3, floorPerCpuVsRuntime: 1.8, floorPerCoreVsMlserver: 5 };
        const bad: SizeRatios = { throughputVsMlserver: 0.9, p99VsMlserver: 1.3, floorPerCoreVsRuntime: 3, floorPerCpuVsRuntime: 2.4, floorPerCoreVsMlserver: 5 };
        assert.ok(servingGoals({ "1": good, "100": good }, 9_000, 0).every((g) => g.met));
        const missed = servingGoals({ "1": bad, "100": bad }, 12_000, 3).filter((g) => !g.met).map((g) => g.goal);
        assert.equal(missed.length, 7, missed.join("; "));
        const nan = servingGoals({ "1": good, "100": { ...good, floorPerCpuVsRuntime: NaN } }, 1, 0);
        assert.equal(nan.find((g) => g.goal.startsWith("100 rows: rows per CPU-second"))?.met, false, "an unmeasured ratio is no goal met");
    });
});

describe("bench serving: arguments and settings", () => {
    it("parses the standalone arguments and refuses bad ones with a usage error naming them", () => {
        assert.deepEqual(parseStandaloneArgs([]), { json: false, durationSeconds: 10, runs: 5 });
        const a = parseStandaloneArgs(["--json", "--duration", "30", "--runs", "3", "--workers", "2", "--threads", "1", "--sweep", "1x1,2x1"]);
        assert.deepEqual(a, { json: true, durationSeconds: 30, runs: 3, workers: 2, threadsPerWorker: 1, sweep: [{ workers: 1, threadsPerWorker: 1 }, { workers: 2, threadsPerWorker: 1 }] });
        for (const [argv, re] of [[["--duration", "0"], /--duration must be/], [["--runs", "x"], /--runs must be/], [["--workers", "0"], /--workers must be/], [["--threads", "1.5"], /--threads must be/], [["--sweep", "2"], /--sweep takes .* \(got "2" in "2"\)/]] as const) {
            assert.throws(() => parseStandaloneArgs([...argv]), (e: unknown) => e instanceof UsageError && re.test(e.message));
        }
        assert.throws(() => parseSweep("1x1,0x2"), /got "0x2"/);
    });
    it("CPU quantities and the warm-up", () => {
        assert.equal(cpuCores("1"), 1);
        assert.equal(cpuCores("500m"), 0.5);
        assert.throws(() => cpuCores("lots"), /CPU quantity "lots" not understood/);
        assert.equal(warmupSeconds(5), 2);
        assert.equal(warmupSeconds(15), 3);
        assert.equal(warmupSeconds(60), 5);
    });
    it("the sweep sets a container's processes with the env the platform renders for them", () => {
        const rendered = Object.fromEntries(runtimeProcessEnv({ workers: 3, threadsPerWorker: 2, resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } } }).map((e) => [e.name, e.value]));
        assert.deepEqual(processEnv({ workers: 3, threadsPerWorker: 2 }), rendered);
        assert.deepEqual(processesOf(rendered), { workers: 3, threadsPerWorker: 2 });
        assert.throws(() => processesOf({ HOME: "/tmp" }), /sets no MLFLOW_MODELS_WORKERS/);
    });
    it("the MLServer contender runs in group 0 as its image expects, keeping the pod's user", () => {
        assert.deepEqual(mlserverPodSecurity({ runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 }), { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, supplementalGroups: [0] });
        assert.deepEqual(mlserverPodSecurity({ supplementalGroups: [0, 5] }).supplementalGroups, [5, 0]);
        assert.deepEqual(mlserverPodSecurity(undefined), { supplementalGroups: [0] });
    });
    it("is a bench part", () => {
        assert.equal(part.name, "serving");
        assert.equal(typeof part.skip, "function");
    });
});

describe("bench serving: KServe's container merge and the stock MLServer runtime", () => {
    it("merges the model's container over the runtime's: env by name, resources per key, securityContext per field, args appended", () => {
        const merged = mergeRuntimeContainer(
            { name: "kserve-container", image: "rt", args: ["serve"], env: [{ name: "A", value: "1" }, { name: "B", value: "2" }], resources: { requests: { cpu: "1" }, limits: { cpu: "1", memory: "2Gi" } }, securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: false } },
            isvcModelContainer({ modelFormat: { name: "mlflow" }, runtime: "x", storageUri: "s3://b/k/", args: ["--more"], env: [{ name: "B", value: "3" }, { name: "C", value: "4" }], resources: { limits: { cpu: "2" } }, securityContext: { runAsNonRoot: true } }),
        );
        assert.deepEqual(merged.env, [{ name: "A", value: "1" }, { name: "B", value: "3" }, { name: "C", value: "4" }]);
        assert.deepEqual(merged.args, ["serve", "--more"]);
        assert.deepEqual(merged.resources, { requests: { cpu: "1" }, limits: { cpu: "2", memory: "2Gi" } });
        assert.deepEqual(merged.securityContext, { readOnlyRootFilesystem: true, runAsNonRoot: true });
        assert.equal(merged.image, "rt");
        assert.equal("storageUri" in merged || "modelFormat" in merged || "runtime" in merged, false);
    });
    it("kserve-mlserver: MLflow runtime class, v2 ports, the model's name and /mnt/models", () => {
        const { runtime, modelDefaults } = kserveMlserverContainers("m1", "img");
        const env = Object.fromEntries(mergeRuntimeContainer(runtime, modelDefaults).env!.map((e) => [e.name, e.value]));
        assert.deepEqual(env, { MLSERVER_MODEL_IMPLEMENTATION: "mlserver_mlflow.MLflowRuntime", MLSERVER_HTTP_PORT: "8080", MLSERVER_GRPC_PORT: "9000", MLSERVER_MODEL_NAME: "m1", MLSERVER_MODEL_URI: "/mnt/models" });
        assert.equal(runtime.image, "img");
    });
});

describe("bench serving: a container's CPU from its cgroup", () => {
    it("finds this process's cgroup CPU accounting and reads a growing usage", () => {
        const files = cgroupCpuFiles(process.pid);
        const a = readCgroupCpu(files);
        const end = Date.now() + 50;
        while (Date.now() < end) Math.sqrt(Math.random());
        const b = readCgroupCpu(files);
        assert.ok(Number.isFinite(a.usageSeconds) && b.usageSeconds > a.usageSeconds, `usage ${a.usageSeconds} → ${b.usageSeconds}`);
    });
    it("reads cgroup v2 cpu.stat (usage, throttling)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-"));
        try {
            const f = path.join(dir, "cpu.stat");
            fs.writeFileSync(f, "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 750000\n");
            assert.deepEqual(readCgroupCpu({ usage: f, v2: true, stat: f }), { usageSeconds: 2.5, throttledPeriods: 4, throttledSeconds: 0.75 });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
