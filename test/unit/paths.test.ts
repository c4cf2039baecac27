/**
 * The checkout is found by its Pulumi.yaml (lib/paths.ts projectRoot), never as a fixed number of `..` from a
 * module's directory: the compiled modules run from bin/ (`npm run bench` after `npm run build` looked for
 * bin/images/build.sh when testbed/venv.ts did so).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { projectRoot } from "../../lib/paths";

const ROOT = path.resolve(__dirname, "..", "..");

function sources(dir: string): string[] {
    return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) return e.name === "node_modules" ? [] : sources(rel);
        return e.name.endsWith(".ts") ? [rel] : [];
    });
}

describe("the checkout's root", () => {
    it("is the directory with Pulumi.yaml, from the sources and from a compiled module's directory alike", () => {
        assert.equal(projectRoot(path.join(ROOT, "testbed")), ROOT);
        assert.equal(projectRoot(path.join(ROOT, "bin", "testbed")), ROOT);
        assert.throws(() => projectRoot("/"), /no Pulumi\.yaml above \//);
    });

    it("no shipped or tooling module derives it from its own directory with ..", () => {
        const offenders = ["cli", "testbed", "lib", "components", "manifests", "policy"]
            .flatMap(sources)
            .filter((f) => /path\.(resolve|join)\(__dirname,\s*"\.\."/.test(fs.readFileSync(path.join(ROOT, f), "utf8")));
        assert.deepEqual(offenders, [], "use projectRoot(__dirname) (lib/paths.ts) or testbed/toolchain.ts REPO_ROOT");
    });
});
