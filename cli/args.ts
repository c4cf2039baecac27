/**
 * Tiny shared argv parser for the CLIs: `--name value`, `--name=value`, repeated flags (`multiple`),
 * booleans (`--json`, `--json=false`, `--no-json`), `--` ends the options. An unknown flag is a UsageError
 * naming it and listing the valid ones.
 */

/** A bad invocation: the CLIs exit 2. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

export interface FlagSpec {
    type: "string" | "boolean";
    /** String flags only: may be repeated; the value is then a string[] (empty when absent). */
    multiple?: boolean;
    required?: boolean;
    /** Allowed values of a string flag. */
    choices?: readonly string[];
    default?: string | boolean;
    description?: string;
}

export type ArgSpec = Record<string, FlagSpec>;

type ValueOf<F extends FlagSpec> = F extends { type: "boolean" }
    ? boolean
    : F extends { multiple: true }
      ? string[]
      : F extends { required: true } | { default: string }
        ? string
        : string | undefined;

export interface ParsedArgs<S extends ArgSpec> {
    values: { [K in keyof S]: ValueOf<S[K]> };
    positionals: string[];
}

export interface ParseOptions {
    /** Positional arguments allowed (default none). */
    positionals?: { min?: number; max?: number; name?: string };
}

const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no"]);

export function parseArgs<const S extends ArgSpec>(argv: readonly string[], spec: S, opts: ParseOptions = {}): ParsedArgs<S> {
    const values: Record<string, string | boolean | string[] | undefined> = {};
    const seen = new Set<string>();
    const positionals: string[] = [];

    for (const [name, f] of Object.entries(spec)) {
        if (f.type === "boolean") values[name] = typeof f.default === "boolean" ? f.default : false;
        else if (f.multiple) values[name] = [];
        else values[name] = typeof f.default === "string" ? f.default : undefined;
    }

    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]!;
        if (arg === "--") {
            positionals.push(...argv.slice(i + 1));
            break;
        }
        if (!arg.startsWith("-") || arg === "-") {
            positionals.push(arg);
            continue;
        }
        const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
        let name = m?.[1] ?? arg;
        let inline = m?.[2];
        let f = m ? spec[name] : undefined;
        if (m && !f && name.startsWith("no-") && spec[name.slice(3)]?.type === "boolean" && inline === undefined) {
            name = name.slice(3);
            f = spec[name];
            inline = "false";
        }
        if (!m || !f) throw new UsageError(unknownMessage(arg, m ? name : arg, spec));

        if (seen.has(name) && !(f.type === "string" && f.multiple)) {
            throw new UsageError(`--${name} given more than once`);
        }
        seen.add(name);

        if (f.type === "boolean") {
            if (inline === undefined) values[name] = true;
            else if (TRUE.has(inline.toLowerCase())) values[name] = true;
            else if (FALSE.has(inline.toLowerCase())) values[name] = false;
            else throw new UsageError(`--${name} is a switch: got "${inline}", expected true or false (or no value)`);
            continue;
        }

        let value = inline;
        if (value === undefined) {
            const nextArg = argv[i + 1];
            if (nextArg === undefined || nextArg.startsWith("--")) {
                throw new UsageError(`--${name} needs a value${f.description ? ` (${f.description})` : ""}`);
            }
            value = nextArg;
            i++;
        }
        if (f.choices && !f.choices.includes(value)) {
            throw new UsageError(`--${name} "${value}" is not one of: ${f.choices.join(", ")}`);
        }
        if (f.multiple) (values[name] as string[]).push(value);
        else values[name] = value;
    }

    for (const [name, f] of Object.entries(spec)) {
        if (f.required && !seen.has(name)) {
            throw new UsageError(`missing --${name}${f.description ? ` (${f.description})` : ""}`);
        }
    }

    const p = opts.positionals;
    const min = p?.min ?? 0;
    const max = p?.max ?? (p ? Infinity : 0);
    const what = p?.name ?? "argument";
    if (positionals.length > max) {
        const extra = positionals[max]!;
        throw new UsageError(
            max === 0
                ? `unexpected argument "${extra}"; valid options: ${flagList(spec)}`
                : `too many arguments: "${extra}" (expected at most ${max} ${what})`,
        );
    }
    if (positionals.length < min) throw new UsageError(`missing ${what}`);

    // Safe: `values` was filled from `spec` with the value shapes that ValueOf<> describes.
    return { values: values as ParsedArgs<S>["values"], positionals };
}

function flagList(spec: ArgSpec): string {
    return Object.keys(spec)
        .map((n) => `--${n}`)
        .join(", ");
}

function unknownMessage(arg: string, name: string, spec: ArgSpec): string {
    const bare = name.replace(/^-+/, "");
    const best = Object.keys(spec)
        .map((n) => ({ n, d: distance(bare, n) }))
        .sort((a, b) => a.d - b.d)[0];
    const hint = best && best.d <= Math.max(2, Math.floor(best.n.length / 3)) ? ` (did you mean --${best.n}?)` : "";
    return `unknown option ${arg.replace(/=[\s\S]*$/, "")}${hint}; valid options: ${flagList(spec)}`;
}

function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0]!;
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const cur = row[j]!;
            row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = cur;
        }
    }
    return row[b.length]!;
}

/** One-line usage string: `usage: <command> --a <a> [--b <b>]... [--json] <positional>`. */
export function formatUsage(command: string, spec: ArgSpec, positional?: string): string {
    const parts = Object.entries(spec).map(([n, f]) => {
        const s = f.type === "boolean" ? `--${n}` : `--${n} <${n}>`;
        return f.required ? s : `[${s}]${f.multiple ? "..." : ""}`;
    });
    return `usage: ${command} ${[...parts, ...(positional ? [positional] : [])].join(" ")}`;
}
