import * as assert from "node:assert/strict";
import { formatUsage, parseArgs, UsageError } from "../../cli/args";

const SPEC = {
    stack: { type: "string", required: true, description: "stack name" },
    out: { type: "string" },
    set: { type: "string", multiple: true },
    json: { type: "boolean" },
    alias: { type: "string", default: "production" },
    mode: { type: "string", choices: ["a", "b"] },
} as const;

function usageError(fn: () => unknown, ...fragments: string[]): void {
    assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should include "${f}"`);
        return true;
    });
}

describe("cli args: parseArgs", () => {
    it("parses --name value, --name=value, repeats and booleans, with defaults", () => {
        const a = parseArgs(["--stack", "dev", "--set=a.b=1", "--set", "c=[1,2]", "--json", "--out=x=y"], SPEC);
        // value types follow the spec (checked by tsc, before any assertion narrows them)
        const typed: [string, string[], boolean, string, string | undefined] = [a.values.stack, a.values.set, a.values.json, a.values.alias, a.values.out];
        // @ts-expect-error an optional string flag without a default may be undefined
        const notString: string = a.values.out;
        assert.equal(typed.length + notString.length, 8);
        assert.equal(a.values.stack, "dev");
        assert.deepEqual(a.values.set, ["a.b=1", "c=[1,2]"]);
        assert.equal(a.values.json, true);
        assert.equal(a.values.out, "x=y"); // only the first "=" splits
        assert.equal(a.values.alias, "production");
        assert.equal(a.values.mode, undefined);
        assert.deepEqual(a.positionals, []);
    });

    it("absent optional flags: false, [] and undefined", () => {
        const a = parseArgs(["--stack=dev"], SPEC);
        assert.equal(a.values.json, false);
        assert.deepEqual(a.values.set, []);
        assert.equal(a.values.out, undefined);
    });

    it("boolean forms: --flag=false, --no-flag, bad value", () => {
        assert.equal(parseArgs(["--stack=d", "--json=false"], SPEC).values.json, false);
        assert.equal(parseArgs(["--stack=d", "--json=true"], SPEC).values.json, true);
        assert.equal(parseArgs(["--stack=d", "--no-json"], SPEC).values.json, false);
        usageError(() => parseArgs(["--stack=d", "--json=maybe"], SPEC), "--json", "maybe");
    });

    it("an empty value via = is a value; a value may start with a single dash", () => {
        assert.equal(parseArgs(["--stack=", "--out", "-1"], SPEC).values.out, "-1");
    });

    it("unknown flag names it and lists the valid ones, with a suggestion", () => {
        usageError(() => parseArgs(["--stack", "dev", "--outt", "x"], SPEC), "unknown option --outt", "did you mean --out?", "--stack, --out, --set, --json, --alias, --mode");
        usageError(() => parseArgs(["--stack", "dev", "--zzzzzz=1"], SPEC), "unknown option --zzzzzz;");
        usageError(() => parseArgs(["-s", "dev"], SPEC), "unknown option -s");
        usageError(() => parseArgs(["--stack=d", "--no-out"], SPEC), "unknown option --no-out");
    });

    it("missing value, missing required flag, repeated single flag, bad choice", () => {
        usageError(() => parseArgs(["--stack"], SPEC), "--stack needs a value", "stack name");
        usageError(() => parseArgs(["--stack", "--json"], SPEC), "--stack needs a value");
        usageError(() => parseArgs(["--json"], SPEC), "missing --stack");
        usageError(() => parseArgs(["--stack", "a", "--stack", "b"], SPEC), "--stack given more than once");
        usageError(() => parseArgs(["--stack", "a", "--mode", "c"], SPEC), '"c"', "a, b");
        assert.equal(parseArgs(["--stack", "a", "--mode", "b"], SPEC).values.mode, "b");
    });

    it("positionals: none by default, bounded when allowed, -- ends options", () => {
        usageError(() => parseArgs(["--stack", "a", "extra"], SPEC), 'unexpected argument "extra"', "--stack");
        const p = parseArgs(["models:/M@p", "--stack", "a"], SPEC, { positionals: { max: 1, name: "model URI" } });
        assert.deepEqual(p.positionals, ["models:/M@p"]);
        usageError(() => parseArgs(["x", "y", "--stack=a"], SPEC, { positionals: { max: 1, name: "model URI" } }), "too many arguments", '"y"');
        usageError(() => parseArgs(["--stack=a"], SPEC, { positionals: { min: 1, name: "model URI" } }), "missing model URI");
        const d = parseArgs(["--stack=a", "--", "--json", "-"], SPEC, { positionals: {} });
        assert.deepEqual(d.positionals, ["--json", "-"]);
        assert.equal(d.values.json, false);
    });

    it("formatUsage lists flags", () => {
        assert.equal(
            formatUsage("cmd", { a: { type: "string", required: true }, b: { type: "string", multiple: true }, c: { type: "boolean" } }, "<x>"),
            "usage: cmd --a <a> [--b <b>]... [--c] <x>",
        );
    });
});
