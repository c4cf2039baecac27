/**
 * Layers that point one way: every TypeScript file of the repository belongs to a layer, and imports (type-only
 * imports, re-exports, `require` and `import()` included) go to its own layer or below. No import circle anywhere;
 * the config spec imports only the foundation; nothing but the tests imports `test/`.
 *
 * The checks run on a graph, so they are tested on planted violations first, then on the repository.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/** Lowest first. A member ending in "/" is a folder (with its subfolders); otherwise one file. */
const LAYERS: readonly { readonly name: string; readonly members: readonly string[] }[] = [
    {
        name: "foundation (no platform knowledge: schema engine, shared terms, clients)",
        members: [
            "lib/schema.ts",
            "lib/terms.ts",
            "lib/mlflow-version.ts",
            "lib/paths.ts",
            "lib/kube-api.ts",
            "lib/secret-value.ts",
            "lib/replace-fields.ts",
            "lib/promotion-gate.ts",
            "lib/render-mocks.ts",
            "lib/serving-readiness.ts",
            "lib/iam-policies.ts",
            "lib/registry/",
        ],
    },
    {
        name: "spec (the config and decisions on config alone)",
        members: ["config.ts", "lib/stack-config.ts", "lib/load-config.ts", "lib/stack-images.ts", "lib/cluster-apis.ts", "lib/schema-record.ts", "lib/serving-lookup.ts"],
    },
    { name: "manifests (config → Kubernetes objects)", members: ["manifests/"] },
    { name: "components (Pulumi resources)", members: ["components/"] },
    { name: "program (composition root, the library entry, the render, the policy pack)", members: ["program.ts", "index.ts", "platform.ts", "lib/render.ts", "lib/diff.ts", "policy/"] },
    { name: "tools (the CLIs, the cluster harness they share with the tests, examples)", members: ["cli/", "testbed/", "scripts/", "examples/"] },
    { name: "tests", members: ["test/"] },
];

/** The spec may import only these (issue 22: config.ts imports nothing from manifests/, components/ or lib/stack-images.ts). */
const SPEC_FILE = "config.ts";

type Graph = ReadonlyMap<string, readonly string[]>;

/** Every relative import of every .ts file under `root` (node_modules and dot folders skipped), resolved to a repository path. */
function importGraph(root: string): Graph {
    const files: string[] = [];
    const walk = (dir: string): void => {
        for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
            if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
            const rel = dir ? `${dir}/${entry.name}` : entry.name;
            if (entry.isDirectory()) walk(rel);
            else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(rel);
        }
    };
    walk("");
    const graph = new Map<string, string[]>();
    for (const file of files) {
        const info = ts.preProcessFile(fs.readFileSync(path.join(root, file), "utf8"), true, true);
        const targets: string[] = [];
        for (const { fileName } of info.importedFiles) {
            if (!fileName.startsWith(".")) continue;
            const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName));
            const resolved = [`${base}.ts`, `${base}/index.ts`, base].find((candidate) => fs.existsSync(path.join(root, candidate)) && candidate.endsWith(".ts"));
            if (resolved) targets.push(resolved);
        }
        graph.set(file, targets);
    }
    return graph;
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function importCircles(graph: Graph): string[][] {
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const circles: string[][] = [];
    let next = 0;
    const visit = (v: string): void => {
        index.set(v, next);
        low.set(v, next++);
        stack.push(v);
        onStack.add(v);
        for (const w of graph.get(v) ?? []) {
            if (!index.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v)!, low.get(w)!));
            } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        }
        if (low.get(v) === index.get(v)) {
            const component: string[] = [];
            let w: string;
            do {
                w = stack.pop()!;
                onStack.delete(w);
                component.push(w);
            } while (w !== v);
            if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.sort());
        }
    };
    for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
    return circles;
}

function layerOf(file: string): number | undefined {
    const found = LAYERS.findIndex((layer) => layer.members.some((m) => (m.endsWith("/") ? file.startsWith(m) : file === m)));
    return found < 0 ? undefined : found;
}

/** Each file outside every layer, each import to a higher layer, each import of the spec outside the foundation. */
function layerViolations(graph: Graph): string[] {
    const out: string[] = [];
    for (const [file, targets] of graph) {
        const from = layerOf(file);
        if (from === undefined) {
            out.push(`${file} is in no layer: add it to LAYERS in test/unit/layering.test.ts`);
            continue;
        }
        for (const target of targets) {
            const to = layerOf(target);
            if (to === undefined) continue; // reported as its own file
            if (to > from) out.push(`${file} (${LAYERS[from].name}) imports ${target} (${LAYERS[to].name}), a layer above it`);
            else if (file === SPEC_FILE && to !== 0) out.push(`${SPEC_FILE} (the spec) imports ${target}: the spec imports only the foundation`);
        }
    }
    return out;
}

describe("layering: imports point one way", () => {
    describe("the checks find planted violations", () => {
        const planted = (edges: Record<string, string[]>): Graph => new Map(Object.entries(edges));

        it("a circle of type-only imports, and a file importing itself", () => {
            const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "layering-"));
            try {
                fs.mkdirSync(path.join(dir, "lib"));
                fs.mkdirSync(path.join(dir, "manifests"));
                fs.writeFileSync(path.join(dir, "config.ts"), 'import type { X } from "./manifests/a";\nexport type Y = X;\n');
                fs.writeFileSync(path.join(dir, "manifests/a.ts"), 'export { Z } from "./b";\nexport type X = string;\n');
                fs.writeFileSync(path.join(dir, "manifests/b.ts"), 'const c = require("../config");\nexport const Z = c;\n');
                fs.writeFileSync(path.join(dir, "lib/self.ts"), 'export const s = 1;\nvoid import("./self");\n');
                const graph = importGraph(dir);
                assert.deepEqual(importCircles(graph), [["config.ts", "manifests/a.ts", "manifests/b.ts"], ["lib/self.ts"]]);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("an upward import, shipped code importing test/, the spec importing a builder, a file in no layer", () => {
            const violations = layerViolations(
                planted({
                    "manifests/postgres.ts": ["components/namespace.ts"],
                    "cli/bench.ts": ["test/support/fake.ts"],
                    "testbed/cluster.ts": ["test/engine/support/stack.ts"],
                    "config.ts": ["lib/schema.ts", "lib/stack-images.ts"],
                    "lib/new-thing.ts": [],
                    "components/namespace.ts": ["manifests/common.ts", "config.ts", "lib/terms.ts"],
                    "test/unit/x.test.ts": ["program.ts"],
                }),
            );
            assert.equal(violations.length, 5, violations.join("\n"));
            assert.match(violations.join("\n"), /manifests\/postgres\.ts .* imports components\/namespace\.ts/);
            assert.match(violations.join("\n"), /cli\/bench\.ts .* imports test\/support\/fake\.ts/);
            assert.match(violations.join("\n"), /testbed\/cluster\.ts .* imports test\/engine\/support\/stack\.ts/);
            assert.match(violations.join("\n"), /config\.ts \(the spec\) imports lib\/stack-images\.ts/);
            assert.match(violations.join("\n"), /lib\/new-thing\.ts is in no layer/);
        });
    });

    describe("the repository", () => {
        const root = path.resolve(__dirname, "../..");
        const graph = importGraph(root);

        it("has its files and their imports (the graph is not empty by mistake)", () => {
            assert.ok(graph.size > 100, `${graph.size} files`);
            assert.ok((graph.get("program.ts") ?? []).includes("components/mlflow-platform.ts"));
            assert.ok((graph.get("lib/render.ts") ?? []).includes("index.ts"), "require() edges are read");
        });

        it("has no import circle, type-only imports included", () => {
            assert.deepEqual(importCircles(graph), []);
        });

        it("imports only its own layer or below; the spec only the foundation; nothing but the tests imports test/", () => {
            assert.deepEqual(layerViolations(graph), []);
        });
    });
});
