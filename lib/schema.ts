/**
 * A small, dependency-free schema language for the stack configuration.
 *
 * Pulumi hands structured config over as JSON; this module checks it against a spec, fills in defaults
 * and reports every bad value with its full key (`mlflow-platform:database.mode`), the value it got and
 * what would be valid. Unknown keys are errors too, with a did-you-mean when one is close, because a
 * typo in a structured key would otherwise silently fall back to a default.
 */

export type Spec =
    | StringSpec
    | NumberSpec
    | BooleanSpec
    | ObjectSpec
    | ArraySpec
    | MapSpec;

interface BaseSpec {
    /** One line for the config reference. */
    readonly description: string;
    /** The key may be absent; no default is filled in. */
    readonly optional?: boolean;
}

export interface StringSpec extends BaseSpec {
    readonly kind: "string";
    readonly default?: string;
    readonly enum?: readonly string[];
    readonly pattern?: RegExp;
    /** What the pattern means, for the error message ("a Kubernetes quantity such as 20Gi"). */
    readonly patternHint?: string;
    /** Fewest characters (checked before the pattern; the message is patternHint when set). */
    readonly minLength?: number;
    /** Most characters. */
    readonly maxLength?: number;
    /**
     * The value is a credential: it is wrapped as a Pulumi secret wherever it is used, messages never show
     * it, and the loader refuses it in plain (unencrypted) config.
     */
    readonly secret?: boolean;
}

export interface NumberSpec extends BaseSpec {
    readonly kind: "number";
    readonly default?: number;
    readonly integer?: boolean;
    readonly min?: number;
    readonly max?: number;
}

export interface BooleanSpec extends BaseSpec {
    readonly kind: "boolean";
    readonly default?: boolean;
}

export interface ObjectSpec extends BaseSpec {
    readonly kind: "object";
    readonly fields: Readonly<Record<string, Spec>>;
}

export interface ArraySpec extends BaseSpec {
    readonly kind: "array";
    readonly items: Spec;
    readonly default?: readonly unknown[];
    readonly minItems?: number;
}

/** A string-keyed map, e.g. extra annotations. */
export interface MapSpec extends BaseSpec {
    readonly kind: "map";
    readonly values: Spec;
}

/** One bad value: the full key and the sentence that explains it. */
export interface ConfigIssue {
    readonly key: string;
    readonly message: string;
}

export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(issues.map((i) => i.message).join("\n"));
        this.name = "ConfigError";
    }
}

/**
 * What the offline render reads for a `secure:` value it cannot decrypt (lib/stack-config.ts
 * SECRET_PLACEHOLDER; a unit test keeps the two equal). A secret key holding it is not length- or
 * pattern-checked: the real value is checked when the Pulumi engine runs the program.
 */
export const UNDECRYPTED_SECRET = "[secret]";

/** How a secret value is named in messages: its length, never its text. */
export function showSecret(value: string): string {
    return `a secret of ${value.length} character${value.length === 1 ? "" : "s"}, not shown`;
}

/** JSON rendering of a value for messages, shortened so one line stays one line. */
export function show(value: unknown): string {
    const text = value === undefined ? "undefined" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function kindOf(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    return `a ${typeof value}`;
}

/** Levenshtein distance, for did-you-mean on unknown keys. */
export function editDistance(a: string, b: string): number {
    const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let diag = prev[0];
        prev[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const up = prev[j];
            prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
            diag = up;
        }
    }
    return prev[b.length];
}

/** The closest known key, when it is close enough to be a likely typo. */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) {
            best = candidate;
            bestDistance = d;
        }
    }
    return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function quoteList(values: readonly string[]): string {
    const quoted = values.map((v) => JSON.stringify(v));
    if (quoted.length <= 1) return quoted.join("");
    return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

/**
 * Checks `value` against `spec` and returns it with defaults filled in. Issues are pushed to `issues`;
 * the returned value is only meaningful when none were pushed.
 */
export function check(spec: Spec, value: unknown, key: string, issues: ConfigIssue[]): unknown {
    const secret = spec.kind === "string" && spec.secret === true;
    const fail = (what: string): undefined => {
        const got = !secret ? show(value) : typeof value === "string" ? showSecret(value) : `${kindOf(value)}, not shown`;
        issues.push({ key, message: `${key} must be ${what} (got ${got})` });
        return undefined;
    };
    if (value === undefined || value === null) {
        switch (spec.kind) {
            case "object":
                // Absent objects are filled from their fields' defaults, unless optional.
                return spec.optional ? undefined : check(spec, {}, key, issues);
            case "array":
                // Defaults go through the item spec too, so their own defaults are filled in.
                return spec.default !== undefined ? check(spec, [...spec.default], key, issues) : spec.optional ? undefined : [];
            case "map":
                return spec.optional ? undefined : {};
            default:
                if (spec.default !== undefined) return spec.default;
                if (spec.optional) return undefined;
                issues.push({ key, message: `${key} is required: ${spec.description}` });
                return undefined;
        }
    }
    switch (spec.kind) {
        case "string": {
            if (typeof value !== "string" && secret)
                // `pulumi config set --path` stores digits as a number and true/false as a boolean.
                return fail(`a string: set it with pulumi config set --secret --path --type string ${key.replace(/^[^.:]*[.:]/, "")} <value>`);
            // `pulumi config set --path` stores digits as a number (found on the real CLI: `--path
            // serving.models[0].version 7` and `--path trackingServer.resources.limits.cpu 2` arrive as 7 and
            // 2): a finite number is its decimal string, then checked like one.
            if (typeof value === "number" && Number.isFinite(value)) value = String(value);
            if (typeof value !== "string") return fail(spec.enum ? quoteList(spec.enum) : "a string");
            if (spec.enum && !spec.enum.includes(value)) return fail(quoteList(spec.enum));
            if (secret && value === UNDECRYPTED_SECRET) return value;
            const { minLength: min, maxLength: max } = spec;
            if ((min !== undefined && value.length < min) || (max !== undefined && value.length > max)) {
                const length = min !== undefined && max !== undefined ? `${min} to ${max} characters` : min !== undefined ? `at least ${min} character${min === 1 ? "" : "s"}` : `at most ${max} characters`;
                return fail(spec.patternHint ?? length);
            }
            if (spec.pattern && !spec.pattern.test(value)) return fail(spec.patternHint ?? `a string matching ${spec.pattern}`);
            return value;
        }
        case "number": {
            const n = typeof value === "string" && value.trim() !== "" && !isNaN(Number(value)) ? Number(value) : value;
            const what = `${spec.integer ? "a whole number" : "a number"}${
                spec.min !== undefined && spec.max !== undefined
                    ? ` from ${spec.min} to ${spec.max}`
                    : spec.min !== undefined
                      ? ` of at least ${spec.min}`
                      : spec.max !== undefined
                        ? ` of at most ${spec.max}`
                        : ""
            }`;
            if (typeof n !== "number" || !Number.isFinite(n)) return fail(what);
            if (spec.integer && !Number.isInteger(n)) return fail(what);
            if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return fail(what);
            return n;
        }
        case "boolean": {
            if (value === "true") return true;
            if (value === "false") return false;
            if (typeof value !== "boolean") return fail("true or false");
            return value;
        }
        case "object": {
            if (typeof value !== "object" || Array.isArray(value)) {
                issues.push({ key, message: `${key} must be an object with keys ${quoteList(Object.keys(spec.fields))} (got ${kindOf(value)})` });
                return undefined;
            }
            const input = value as Record<string, unknown>;
            const known = Object.keys(spec.fields);
            for (const k of Object.keys(input)) {
                if (!(k in spec.fields)) {
                    const hint = didYouMean(k, known);
                    issues.push({
                        key: `${key}.${k}`,
                        message: `${key}.${k} is not a known key${hint ? `; did you mean "${hint}"?` : ""} (known: ${known.join(", ")})`,
                    });
                }
            }
            const out: Record<string, unknown> = {};
            for (const [k, fieldSpec] of Object.entries(spec.fields)) {
                const v = check(fieldSpec, input[k], `${key}.${k}`, issues);
                if (v !== undefined) out[k] = v;
            }
            return out;
        }
        case "array": {
            if (!Array.isArray(value)) return fail("a list");
            if (spec.minItems !== undefined && value.length < spec.minItems) return fail(`a list of at least ${spec.minItems}`);
            return value.map((item, i) => check(spec.items, item, `${key}[${i}]`, issues));
        }
        case "map": {
            if (typeof value !== "object" || Array.isArray(value)) return fail("an object of key: value pairs");
            const out: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
                out[k] = check(spec.values, v, `${key}.${k}`, issues);
            }
            return out;
        }
    }
}

/** Flattens a spec into reference rows: full key, type, default, description. */
export function referenceRows(spec: Spec, key: string): { key: string; type: string; default: string; description: string }[] {
    const typeName = (s: Spec): string => {
        switch (s.kind) {
            case "string":
                return s.enum ? s.enum.map((e) => `\`${e}\``).join(" | ") : s.secret ? "string (secret)" : "string";
            case "number":
                return s.integer ? "integer" : "number";
            case "array":
                return `list of ${s.items.kind === "object" ? "objects" : typeName(s.items)}`;
            default:
                return s.kind;
        }
    };
    const defaultOf = (s: Spec): string =>
        "default" in s && s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : s.optional ? "(unset)" : s.kind === "object" ? "" : "required";
    const rows = [{ key, type: typeName(spec), default: defaultOf(spec), description: spec.description }];
    if (spec.kind === "object") {
        for (const [k, f] of Object.entries(spec.fields)) rows.push(...referenceRows(f, `${key}.${k}`));
    } else if (spec.kind === "array" && spec.items.kind === "object") {
        for (const [k, f] of Object.entries(spec.items.fields)) rows.push(...referenceRows(f, `${key}[].${k}`));
    }
    return rows;
}
