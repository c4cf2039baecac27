/**
 * Reads a stack's configuration the way the Pulumi CLI assembles it: Pulumi.yaml's `config:` defaults,
 * then Pulumi.<stack>.yaml, then `--set path=value` overrides (like `pulumi config set --path`).
 * Used by the offline render and diff; the deployed program gets the same values from the CLI.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { secretPaths } from "../config";
import { ConfigError } from "./schema";

/** Placeholder for `secure:` values, which only the Pulumi CLI can decrypt. */
export const SECRET_PLACEHOLDER = "[secret]";

export interface StackConfig {
    /** Full key (`mlflow-platform:database`, `aws:region`) → value (objects stay objects). */
    readonly values: Record<string, unknown>;
    /** Full keys whose value is (or contains) a secret. */
    readonly secretKeys: Set<string>;
}

function readYaml(file: string): Record<string, unknown> {
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as unknown;
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${file} must be a YAML mapping`);
    return doc as Record<string, unknown>;
}

function fullKey(project: string, key: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/** Replaces `{ secure: ... }` leaves by the placeholder; reports whether any was found. */
function stripSecure(value: unknown): { value: unknown; secret: boolean } {
    if (value && typeof value === "object" && !Array.isArray(value)) {
        const obj = value as Record<string, unknown>;
        if (Object.keys(obj).length === 1 && typeof obj.secure === "string") return { value: SECRET_PLACEHOLDER, secret: true };
        let secret = false;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) {
            const r = stripSecure(v);
            out[k] = r.value;
            secret ||= r.secret;
        }
        return { value: out, secret };
    }
    if (Array.isArray(value)) {
        let secret = false;
        const out = value.map((v) => {
            const r = stripSecure(v);
            secret ||= r.secret;
            return r.value;
        });
        return { value: out, secret };
    }
    return { value, secret: false };
}

/** Splits `a.b[0].c` / `a["x.y"]` into segments. */
export function parsePath(p: string): (string | number)[] {
    const segments: (string | number)[] = [];
    const re = /([^.[\]]+)|\[(\d+)\]|\["([^"]+)"\]/g;
    let consumed = 0;
    for (let m = re.exec(p); m; m = re.exec(p)) {
        const between = p.slice(consumed, m.index);
        if (between !== "" && between !== ".") throw new Error(`cannot parse config path ${JSON.stringify(p)} near ${JSON.stringify(between)}`);
        segments.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]));
        consumed = re.lastIndex;
    }
    if (consumed !== p.length || segments.length === 0) throw new Error(`cannot parse config path ${JSON.stringify(p)}`);
    return segments;
}

/** A `--set` value: JSON when it parses, else the plain string. */
export function parseSetValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** Applies `path=value` to the config in place, creating objects and lists on the way. */
export function applySet(config: StackConfig, project: string, assignment: string): void {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new ConfigError([{ key: assignment, message: `--set needs <path>=<value>, e.g. database.mode=rds (got ${JSON.stringify(assignment)})` }]);
    const [pathText, valueText] = [assignment.slice(0, eq), assignment.slice(eq + 1)];
    // The namespace separator ":" may appear in the first segment only (aws:region, mlflow-platform:database).
    const colon = pathText.indexOf(":");
    const ns = colon >= 0 && colon < pathText.search(/[.[]|$/) ? pathText.slice(0, colon) : project;
    const rest = colon >= 0 && ns !== project ? pathText.slice(colon + 1) : pathText.replace(`${project}:`, "");
    const segments = parsePath(rest);
    const key = `${ns}:${segments[0]}`;
    const value = parseSetValue(valueText);
    // A credential on the command line stands for `pulumi config set --secret --path`: it is never stored.
    if (ns === project && secretPaths().includes(segments.join("."))) config.secretKeys.add(key);
    if (segments.length === 1) {
        config.values[key] = value;
        return;
    }
    let node = config.values[key];
    if (node === undefined || node === null || typeof node !== "object") {
        node = typeof segments[1] === "number" ? [] : {};
        config.values[key] = node;
    }
    let cursor = node as Record<string | number, unknown>;
    for (let i = 1; i < segments.length - 1; i++) {
        const seg = segments[i];
        let next = cursor[seg];
        if (next === undefined || next === null || typeof next !== "object") {
            next = typeof segments[i + 1] === "number" ? [] : {};
            cursor[seg] = next;
        }
        cursor = next as Record<string | number, unknown>;
    }
    cursor[segments[segments.length - 1]] = value;
}

/** Defaults declared in Pulumi.yaml's `config:` block (`key: { default: ... }` or `key: value`). */
export function projectDefaults(root: string): { project: string; values: Record<string, unknown> } {
    const doc = readYaml(path.join(root, "Pulumi.yaml"));
    const project = String(doc.name ?? "");
    const values: Record<string, unknown> = {};
    const block = (doc.config ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(block)) {
        if (v && typeof v === "object" && !Array.isArray(v) && ("default" in v || "type" in v || "description" in v)) {
            if ("default" in v) values[fullKey(project, k)] = (v as { default: unknown }).default;
        } else {
            values[fullKey(project, k)] = v;
        }
    }
    return { project, values };
}

/** The whole configuration of a stack: Pulumi.yaml defaults, Pulumi.<stack>.yaml, then the sets. */
export function loadStackConfig(root: string, stack: string, sets: readonly string[] = []): StackConfig & { project: string } {
    const { project, values } = projectDefaults(root);
    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        const stacks = fs
            .readdirSync(root)
            .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
            .filter((s): s is string => Boolean(s));
        throw new ConfigError([{ key: "--stack", message: `stack "${stack}" has no Pulumi.${stack}.yaml (stacks here: ${stacks.join(", ") || "none"})` }]);
    }
    const config: StackConfig = { values: { ...values }, secretKeys: new Set() };
    const stackDoc = readYaml(stackFile);
    for (const [k, v] of Object.entries((stackDoc.config ?? {}) as Record<string, unknown>)) {
        const r = stripSecure(v);
        const key = fullKey(project, k);
        config.values[key] = r.value;
        if (r.secret) config.secretKeys.add(key);
    }
    for (const s of sets) applySet(config, project, s);
    return { ...config, project };
}

/** The config as Pulumi's runtime holds it: every value a string, objects as JSON. */
export function toRuntimeConfig(config: StackConfig): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.values)) out[k] = typeof v === "string" ? v : JSON.stringify(v);
    return out;
}
