#!/usr/bin/env node
// Runs a CLI (`node cli/run.js <name> [args]`): from the compiled bin/ when it is newer than every
// TypeScript source (`npm run build`, also run by `npm ci` through "prepare"), else from source through
// tsx. Plain JavaScript so that it needs no transpiler itself.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const SOURCE_DIRS = [".", "cli", "components", "lib", "manifests", "policy", "testbed"];

function newestSource() {
    let newest = 0;
    const walk = (dir, recurse) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) {
                if (recurse && e.name !== "node_modules") walk(p, true);
            } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
                newest = Math.max(newest, fs.statSync(p).mtimeMs);
            }
        }
    };
    for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(root, d))) walk(path.join(root, d), d !== ".");
    return newest;
}

function compiledIfFresh(name) {
    const file = path.join(root, "bin", "cli", `${name}.js`);
    try {
        return fs.statSync(file).mtimeMs >= newestSource() ? file : undefined;
    } catch {
        return undefined;
    }
}

// The AWS SDK warns on every start that Node 20 support ends; the CLIs print one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z-]+$/.test(name) || !fs.existsSync(path.join(__dirname, `${name}.ts`))) {
    process.stderr.write(`usage: node cli/run.js <command> [options] (no CLI named ${JSON.stringify(name ?? "")} in cli/)\n`);
    process.exit(2);
}
const compiled = compiledIfFresh(name);
if (!compiled) require("tsx/cjs");
const cli = require(compiled ?? path.join(__dirname, `${name}.ts`));
Promise.resolve(cli.main(args)).then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`${name}: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(1);
    },
);
