// `npm run policy -- --dir <render dir> [--stack <name>]`: the policy pack's rules (policy/rules.ts) over a
// render (resources.json, kubernetes.yaml, outputs.json), without the Pulumi CLI.
// Exit 0 when no mandatory policy is violated, 1 with one line per violation on stdout
// (`<policy> <type::name> <reason>`; advisory findings go to stderr as warnings), 2 on bad arguments or an
// unreadable render.
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments } from "yaml";
import { ArtifactAuth, Finding, NormalizedResource, RULES, StackContext, evaluate } from "../policy/rules";

const USAGE = "usage: npm run policy -- --dir <render dir> [--stack <stack name>]";

/** A bad invocation or an unreadable render: exit 2. */
export class UsageError extends Error {}
import { parseArgs, UsageError as ArgsUsageError } from "./args";

export interface Render {
    resources: NormalizedResource[];
    context: Partial<StackContext>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function readOptional(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
}

function parseJson(file: string, text: string): unknown {
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new UsageError(`${file}: invalid JSON: ${(e as Error).message}`);
    }
}

/** Identity of a Kubernetes object, to pair kubernetes.yaml documents with resources.json entries. */
function k8sIdentity(o: Obj): string | undefined {
    const md = isObj(o.metadata) ? o.metadata : {};
    if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof md.name !== "string") return undefined;
    return `${o.apiVersion}|${o.kind}|${typeof md.namespace === "string" ? md.namespace : ""}|${md.name}`;
}

/** Reads a render directory (the render contract in DESIGN.md). */
export function loadRender(dir: string): Render {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--dir ${dir}: not a directory`);

    const resourcesFile = path.join(dir, "resources.json");
    const resourcesText = readOptional(resourcesFile);
    if (resourcesText === undefined) throw new UsageError(`${resourcesFile}: missing (is ${dir} a render directory?)`);
    const raw = parseJson(resourcesFile, resourcesText);
    if (!Array.isArray(raw)) throw new UsageError(`${resourcesFile}: must be a JSON array of { type, name, parent, inputs }`);
    const resources: NormalizedResource[] = raw.map((r: unknown, i) => {
        if (!isObj(r) || typeof r.type !== "string" || typeof r.name !== "string") {
            throw new UsageError(`${resourcesFile}[${i}]: must be an object with string "type" and "name"`);
        }
        if (r.inputs !== undefined && !isObj(r.inputs)) throw new UsageError(`${resourcesFile}[${i}] (${r.name}): "inputs" must be an object`);
        return { type: r.type, name: r.name, inputs: (r.inputs as Obj | undefined) ?? {}, ...(typeof r.parent === "string" ? { parent: r.parent } : {}) };
    });

    // kubernetes.yaml carries the same objects; a document that differs from its resources.json entry (or has
    // none) is checked as well, so an edit to either file is caught.
    const yamlFile = path.join(dir, "kubernetes.yaml");
    const yamlText = readOptional(yamlFile);
    if (yamlText !== undefined) {
        const byIdentity = new Map<string, NormalizedResource>();
        for (const r of resources) {
            const id = r.type.startsWith("kubernetes:") ? k8sIdentity(r.inputs) : undefined;
            if (id) byIdentity.set(id, r);
        }
        parseAllDocuments(yamlText).forEach((doc, i) => {
            if (!("errors" in doc) || doc.errors.length > 0) {
                const msg = "errors" in doc ? doc.errors[0].message : "unexpected document";
                throw new UsageError(`${yamlFile}: document ${i + 1}: ${msg}`);
            }
            const o: unknown = doc.toJS();
            if (o === null || o === undefined) return;
            const id = isObj(o) ? k8sIdentity(o) : undefined;
            if (!isObj(o) || !id) throw new UsageError(`${yamlFile}: document ${i + 1}: not a Kubernetes object (apiVersion, kind, metadata.name)`);
            const twin = byIdentity.get(id);
            if (twin && isDeepStrictEqual(twin.inputs, o)) return;
            const apiVersion = o.apiVersion as string;
            const md = o.metadata as Obj;
            resources.push({
                type: twin?.type ?? `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${String(o.kind)}`,
                name: twin?.name ?? `${typeof md.namespace === "string" ? `${md.namespace}/` : ""}${String(md.name)}`,
                inputs: o,
            });
        });
    }

    const context: Partial<StackContext> = {};
    const outputsFile = path.join(dir, "outputs.json");
    const outputsText = readOptional(outputsFile);
    if (outputsText !== undefined) {
        const out = parseJson(outputsFile, outputsText);
        if (!isObj(out)) throw new UsageError(`${outputsFile}: must be a JSON object of stack outputs`);
        if (typeof out.stack === "string") context.stack = out.stack;
        if (out.artifactAuth === "irsa" || out.artifactAuth === "staticKeys") context.artifactAuth = out.artifactAuth satisfies ArtifactAuth;
        if (typeof out.bucketName === "string" && out.bucketName && out.bucketName !== "[secret]") context.artifactBucket = out.bucketName;
    }
    return { resources, context };
}

export interface Io {
    out(line: string): void;
    err(line: string): void;
}

const consoleIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** Runs the check; returns the exit code. */
export async function main(argv: string[], io: Io = consoleIo): Promise<number> {
    let render: Render;
    let stackOverride: string | undefined;
    try {
        if (argv.includes("--help") || argv.includes("-h")) {
            io.out(USAGE);
            return 0;
        }
        const opts = parseArgs(argv, {
            dir: { type: "string", required: true, description: "render directory (npm run render -- --out)" },
            stack: { type: "string", description: "stack name, overriding outputs.json" },
        }).values;
        render = loadRender(opts.dir);
        stackOverride = opts.stack;
    } catch (e) {
        if (e instanceof UsageError || e instanceof ArgsUsageError) {
            io.err(`policy: ${e.message}`);
            return 2;
        }
        throw e;
    }
    const context = { ...render.context, ...(stackOverride !== undefined ? { stack: stackOverride } : {}) };
    const findings = dedupe(evaluate(render.resources, context));
    const line = (f: Finding) => `${f.policy} ${f.resource} ${f.reason}`;
    const violations = findings.filter((f) => f.level === "mandatory");
    const warnings = findings.filter((f) => f.level === "advisory");
    for (const w of warnings) io.err(`warning: ${line(w)}`);
    for (const v of violations) io.out(line(v));
    const scope = `${RULES.length} policies over ${render.resources.length} resources (stack "${context.stack ?? ""}")`;
    if (violations.length > 0) {
        io.err(`policy: ${violations.length} mandatory violation(s), ${warnings.length} warning(s): ${scope}`);
        return 1;
    }
    io.out(`policy: ok: ${scope}, ${warnings.length} advisory warning(s)`);
    return 0;
}

function dedupe(findings: Finding[]): Finding[] {
    const seen = new Set<string>();
    return findings.filter((f) => {
        const k = `${f.level} ${f.policy} ${f.resource} ${f.reason}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (e: unknown) => {
            console.error(`policy: ${e instanceof Error ? e.message : String(e)}`);
            process.exitCode = 2;
        },
    );
}
