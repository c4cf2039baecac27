import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { UsageError } from "../../cli/args";
import { parseBenchArgs, runParts, type BenchArgs } from "../../cli/bench";
import { commandName, compareDeployed, engineFigures, longestChain, opStats, ratio, requireNoChange, rotate, type OpSample } from "../../cli/bench-engine";
import { BENCH_PARTS } from "../../cli/bench-parts";
import type { BenchPart } from "../../cli/bench-stats";
import { declarationOrder, reviveSecrets, sdkLocation, twinDeclarations, twinDependencies, twinProgram } from "../../cli/bench-twin";
import { renderStack, type RenderedResource } from "../../lib/render";

const KNOWN = ["program", "engine", "serving"];

function usageError(fn: () => unknown, ...fragments: string[]): void {
    assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should include "${f}"`);
        return true;
    });
}

describe("npm run bench: arguments", () => {
    it("default: every part, in the list's order, 5 runs", () => {
        const a = parseBenchArgs([], KNOWN);
        assert.deepEqual(a.parts, KNOWN);
        assert.equal(a.named, false);
        assert.equal(a.json, false);
        assert.equal(a.runs, 5);
    });

    it("--part is repeatable and keeps the list's order", () => {
        const a = parseBenchArgs(["--part", "serving", "--part=program", "--json", "--runs", "7", "--duration", "3"], KNOWN);
        assert.deepEqual(a.parts, ["program", "serving"]);
        assert.equal(a.named, true);
        assert.equal(a.json, true);
        assert.equal(a.runs, 7);
        assert.equal(a.durationSeconds, 3);
    });

    it("an unknown part names itself and the known ones", () => {
        usageError(() => parseBenchArgs(["--part", "engnie"], KNOWN), '"engnie"', "program, engine, serving");
    });

    it("bad numbers and unknown flags name the flag and what is valid", () => {
        usageError(() => parseBenchArgs(["--runs", "4"], KNOWN), "--runs", "at least 5", '"4"');
        usageError(() => parseBenchArgs(["--runs", "5.5"], KNOWN), "--runs");
        usageError(() => parseBenchArgs(["--duration", "0"], KNOWN), "--duration");
        usageError(() => parseBenchArgs(["--delay-ms", "x"], KNOWN), "--delay-ms");
        usageError(() => parseBenchArgs(["--engine", "on"], KNOWN), "--engine", "--part");
    });

    it("the part list: unique names, each a part with its contract", () => {
        const names = BENCH_PARTS.map((p) => p.name);
        assert.equal(new Set(names).size, names.length);
        assert.ok(names.includes("engine") && names.includes("program"));
        for (const p of BENCH_PARTS) assert.equal(typeof p.run, "function", p.name);
    });
});

describe("npm run bench: running parts", () => {
    const args = (over: Partial<BenchArgs>): BenchArgs => ({ parts: ["a", "b", "c"], named: false, json: true, runs: 5, durationSeconds: 1, delayMs: 1, ...over });
    const fake = (name: string, behave: { skip?: string; fail?: boolean }): BenchPart<{ name: string; runs: number }> => ({
        name,
        summary: name,
        skip: () => behave.skip,
        run: async (o) => {
            if (behave.fail) throw new Error(`${name} broke`);
            return { name, runs: o.runs };
        },
        human: (r) => r.name,
    });
    const parts = [fake("a", {}), fake("b", { skip: "no toolchain" }), fake("c", { fail: true })];

    it("runs only the selected parts; a failure is its section and the others still run", async () => {
        const r = await runParts(parts, args({ parts: ["a", "c"] }), () => undefined);
        assert.deepEqual(r.sections, { a: { name: "a", runs: 5 }, c: { error: "c broke" } });
        assert.deepEqual(r.failed, ["c"]);
    });

    it("a part that cannot run is skipped with its reason; a failure only when it was named", async () => {
        assert.deepEqual((await runParts(parts, args({ parts: ["b"] }), () => undefined)).sections, { b: { skipped: "no toolchain" } });
        assert.deepEqual((await runParts(parts, args({ parts: ["b"] }), () => undefined)).failed, []);
        assert.deepEqual((await runParts(parts, args({ parts: ["b"], named: true }), () => undefined)).failed, ["b"]);
    });
});

describe("npm run bench: engine figures", () => {
    const sample = (wallMs: number, commandMs = wallMs, programCpuMs = 10, engineCpuMs = 20): OpSample => ({ wallMs, commandMs, extraCommands: [], programCpuMs, engineCpuMs, steps: { same: 3 } });
    const op = (walls: number[], commands?: number[]) => opStats(walls.map((w, i) => sample(w, commands?.[i] ?? w)));

    it("ratios of medians: preview over the twin's, up command over preview command", () => {
        const p = { local: op([2000, 900, 1000, 1100, 5000], [800, 700, 900, 950, 4000]), twin: op([500, 480, 520, 510, 9000]), ordered: op([700, 690, 710, 680, 720]), floor: op([250, 260, 240, 255, 245]) };
        const u = { local: op([1500, 1400, 1600, 1550, 1450], [1000, 1100, 1080, 1040, 1020]), twin: op([700, 690, 710, 720, 705]) };
        const f = engineFigures(p, u);
        assert.equal(f.previewLocalVsTwin, ratio(1100, 510)); // medians, not means: the outliers do not count
        assert.equal(f.previewLocalVsTwin, 2.16);
        assert.equal(f.upVsPreview, ratio(1040, 900));
        assert.equal(f.upVsPreviewAutomation, ratio(1500, 1100));
        assert.equal(f.previewLocalVsFloor, ratio(1100, 250));
        assert.equal(f.previewOrderedVsTwin, ratio(700, 510));
        assert.equal(f.previewLocalVsOrdered, ratio(1100, 700));
        assert.deepEqual(f.goalsMet, { previewLocalVsTwin: false, upVsPreview: true });
        assert.equal(f.cpu.previewLocalVsTwinProgram, 1);
        assert.equal(f.cpu.previewLocalVsTwinTotal, 1); // 10 + 20 ms CPU on both sides of every sample
    });

    it("the CPU ratios: each side, and both together", () => {
        const cpu = (program: number, engine: number) => opStats([1, 2, 3, 4, 5].map((w) => sample(w, w, program, engine)));
        const f = engineFigures({ local: cpu(300, 800), twin: cpu(200, 800), ordered: cpu(200, 800), floor: cpu(20, 400) }, { local: cpu(300, 900), twin: cpu(200, 900) });
        assert.deepEqual(f.cpu, { previewLocalVsTwinProgram: 1.5, previewLocalVsTwinEngine: 1, previewLocalVsTwinTotal: 1.1 });
    });

    it("a goal is met at its bound and missed above it", () => {
        const same = op([1000, 1000, 1000, 1000, 1000]);
        const f = engineFigures({ local: op([1100, 1100, 1100, 1100, 1100]), twin: same, ordered: same, floor: same }, { local: op([1331, 1331, 1331, 1331, 1331]), twin: same }); // up: 1.21 × the local preview
        assert.equal(f.goalsMet.previewLocalVsTwin, true);
        assert.equal(f.goalsMet.upVsPreview, false);
    });

    it("the CLI command of an Automation API call, its flags and their values aside", () => {
        assert.equal(commandName(["preview", "--yes", "--exec-kind", "auto.inline", "--stack", "s"]), "preview");
        assert.equal(commandName(["up", "--stack=bench-local", "--diff"]), "up");
        assert.equal(commandName(["stack", "output", "--json", "--show-secrets"]), "stack output");
    });

    it("the longest chain of waits", () => {
        assert.equal(longestChain([[], [0], [1], [0]]), 3);
        assert.equal(longestChain([[], [], []]), 1);
        assert.throws(() => longestChain([[1], [0]]), /circle/);
    });

    it("no ratio of nothing measured", () => {
        assert.throws(() => ratio(5, 0), RangeError);
        assert.throws(() => ratio(Number.NaN, 1), RangeError);
    });

    it("the order of the previews rotates every round", () => {
        assert.deepEqual(rotate(["a", "b", "c"], 1), ["b", "c", "a"]);
        assert.deepEqual(rotate(["a", "b", "c"], 3), ["a", "b", "c"]);
        assert.deepEqual(rotate(["a", "b", "c"], -1), ["c", "a", "b"]);
    });

    it("a preview that plans a change is refused (its time is not a no-change one)", () => {
        requireNoChange("x", { same: 4 });
        assert.throws(() => requireNoChange("preview of local", { same: 3, update: 1 }), /1 update/);
    });

    it("the twin's fidelity: what differs in state, what only one side has", () => {
        const r = compareDeployed(new Map([["a", "1"], ["b", "2"], ["c", "3"]]), new Map([["a", "1"], ["b", "X"], ["d", "4"]]));
        assert.deepEqual(r, { compared: 2, differing: ["b"], onlyLocal: ["c"], onlyTwin: ["d"] });
    });
});

describe("npm run bench: the static twin", () => {
    const res = (type: string, name: string, inputs: Record<string, unknown>, extra: Partial<RenderedResource> = {}): RenderedResource => ({ type, name, inputs, ...extra });

    it("declares every Kubernetes object of a render and nothing else, with the options that change a diff", () => {
        const d = twinDeclarations([
            res("mlflow-platform:index:MlflowPlatform", "p", {}),
            res("kubernetes:core/v1:Namespace", "ns", { metadata: { name: "t" } }, { options: { retainOnDelete: true } }),
            res("random:index/randomPassword:RandomPassword", "pw", {}),
            res("kubernetes:apps/v1:StatefulSet", "db", { metadata: { name: "db", namespace: "t" } }, { options: { ignoreChanges: ["spec.x"], protect: true } }),
        ]);
        assert.deepEqual(d.map((x) => [x.type, x.name, x.options]), [
            ["kubernetes:core/v1:Namespace", "ns", { retainOnDelete: true }],
            ["kubernetes:apps/v1:StatefulSet", "db", { ignoreChanges: ["spec.x"], protect: true }],
        ]);
    });

    it("a name two objects of one type share under different parents takes its parent's name; a clash left is an error", () => {
        const d = twinDeclarations([
            res("kubernetes:core/v1:Secret", "keys", {}, { parent: "urn:pulumi:s::p::a$b::minio" }),
            res("kubernetes:core/v1:Secret", "keys", {}, { parent: "urn:pulumi:s::p::a$b::postgres" }),
        ]);
        assert.deepEqual(d.map((x) => x.name), ["minio-keys", "postgres-keys"]);
        assert.throws(() => twinDeclarations([res("kubernetes:core/v1:Secret", "k", {}), res("kubernetes:core/v1:Secret", "k", {})]), /two kubernetes:core\/v1:Secret resources named "k"/);
    });

    it("objects wait for the namespace the twin declares, nothing else", () => {
        const d = twinDeclarations([
            res("kubernetes:core/v1:Service", "svc", { metadata: { name: "s", namespace: "t" } }),
            res("kubernetes:core/v1:Namespace", "ns", { metadata: { name: "t" } }),
            res("kubernetes:core/v1:ConfigMap", "elsewhere", { metadata: { name: "c", namespace: "other" } }),
        ]);
        assert.deepEqual(twinDependencies(d), [[1], [], []]);
    });

    it("a claim patch waits for the StatefulSet whose template makes the claim", () => {
        const sts = (name: string, template: string) => res("kubernetes:apps/v1:StatefulSet", name, { metadata: { name, namespace: "t" }, spec: { volumeClaimTemplates: [{ metadata: { name: template } }] } });
        const patch = (name: string, ns = "t") => res("kubernetes:core/v1:PersistentVolumeClaimPatch", name, { metadata: { name, namespace: ns } });
        const d = twinDeclarations([patch("data-minio-0"), sts("minio", "data"), sts("postgres", "data"), patch("data-postgres-1"), patch("data-postgres-x"), patch("data-minio-0", "u")].map((r, i) => ({ ...r, name: `${r.name}-${i}` })));
        assert.deepEqual(twinDependencies(d), [[1], [], [], [2], [], []]);
    });

    it("the ordered twin waits for what the program's registration waited for, its components' waits included", () => {
        const objs = [
            res("mlflow-platform:x:Db", "db", {}, { dependsOn: [] }),
            res("kubernetes:core/v1:Secret", "pw", { metadata: { name: "pw" } }, { parent: "mlflow-platform:x:Db::db", dependsOn: [] }),
            res("kubernetes:apps/v1:StatefulSet", "pg", { metadata: { name: "pg" } }, { parent: "mlflow-platform:x:Db::db", dependsOn: ["kubernetes:core/v1:Secret::pw"] }),
            res("mlflow-platform:x:Server", "srv", {}, { dependsOn: ["mlflow-platform:x:Db::db"] }),
            res("kubernetes:apps/v1:Deployment", "web", { metadata: { name: "web" } }, { parent: "mlflow-platform:x:Server::srv", dependsOn: [] }),
        ];
        const d = twinDeclarations(objs, { ordered: true });
        assert.deepEqual(d.map((x) => [x.name, x.dependsOn]), [
            ["pw", []],
            ["pg", ["kubernetes:core/v1:Secret::pw"]],
            ["web", ["kubernetes:core/v1:Secret::pw", "kubernetes:apps/v1:StatefulSet::pg"]],
        ]);
        assert.equal(twinDeclarations(objs).some((x) => x.dependsOn !== undefined), false);
        assert.throws(() => twinDeclarations([res("kubernetes:core/v1:Secret", "pw", {})], { ordered: true }), /dependencies: true/);
        assert.deepEqual(declarationOrder(twinDependencies(d)), [0, 1, 2]);
        assert.deepEqual(declarationOrder([[2], [], [1]]), [1, 2, 0]);
        assert.throws(() => declarationOrder([[1], [0]]), /go round/);
    });

    it("secrets come back as secrets, the rest as it is", async () => {
        const env = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "pw" };
        const v = reviveSecrets({ a: [env], b: 1 }) as { a: pulumi.Output<string>[]; b: number };
        assert.equal(v.b, 1);
        assert.ok(pulumi.Output.isInstance(v.a[0]));
        assert.equal(await (v.a[0] as unknown as { isSecret: Promise<boolean> }).isSecret, true);
    });

    it("type tokens map to the SDK's module and class", () => {
        assert.deepEqual(sdkLocation("kubernetes:networking.k8s.io/v1:NetworkPolicy"), { module: "networking", version: "v1", kind: "NetworkPolicy" });
        assert.deepEqual(sdkLocation("kubernetes:core/v1:PersistentVolumeClaimPatch"), { module: "core", version: "v1", kind: "PersistentVolumeClaimPatch" });
        assert.equal(sdkLocation("random:index/x:Y"), undefined);
    });

    it("the twin of the local stack's render, rendered itself, declares the same objects with the same inputs", async function () {
        this.timeout(60_000);
        const root = require("node:path").resolve(__dirname, "../..");
        const sets = ["database.inCluster.password=pg-secret-1", "artifactStore.minio.rootUser=rootuser", "artifactStore.minio.rootPassword=minio-secret-2", "artifactStore.minio.accessKeyId=AKBENCH", "artifactStore.minio.secretAccessKey=sk-secret-3"];
        const local = await renderStack({ root, stack: "local", sets, secrets: "keep" });
        const twin = twinDeclarations(local.resources);
        const again = await renderStack({ root, stack: "local", sets, secrets: "keep", program: twinProgram(twin) });
        assert.equal(again.resources.length, twin.length);
        assert.ok(again.resources.every((r) => r.type.startsWith("kubernetes:") && r.parent === undefined));
        const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;
        const localObjects = new Map(local.resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => [key(r), r]));
        for (const r of again.resources) {
            const l = localObjects.get(key(r));
            assert.ok(l, `the twin declares ${key(r)}, which the local stack does not`);
            assert.deepEqual(r.inputs, l.inputs, key(r));
            assert.deepEqual(r.options ?? {}, l.options ?? {}, key(r));
        }
        // A secret stays a secret: the masked render of the twin shows no value of one.
        const masked = JSON.stringify((await renderStack({ root, stack: "local", sets, program: twinProgram(twin) })).resources);
        for (const s of ["pg-secret-1", "minio-secret-2", "sk-secret-3"]) assert.ok(!masked.includes(s), `${s} in the twin's masked render`);
    });
});
