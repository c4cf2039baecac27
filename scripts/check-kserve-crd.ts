/**
 * Developer tool: validates the rendered objects of a CRD's kind against that CRD's openAPIV3Schema.
 *
 *   npx tsx scripts/check-kserve-crd.ts --crd <crd.yaml> [--crd <crd.yaml>]... [--allow-unknown] <kubernetes.yaml>
 *
 * Each object whose apiVersion/kind is a served version of a given CRD is checked with ajv against that
 * version's schema, read the way the API server reads it: `nullable`, `x-kubernetes-int-or-string`,
 * `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-list-type` (set: unique items; map: unique
 * `x-kubernetes-list-map-keys`), int32/int64 ranges. Fields the structural schema does not know are
 * errors too (the API server would prune them silently) unless `--allow-unknown`. CEL rules
 * (`x-kubernetes-validations`) are not evaluated; their number is reported.
 * Exit 0: every object valid; 1: an invalid object, or none of the CRDs' kinds in the file; 2: bad usage.
 */
import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import * as fs from "node:fs";
import * as YAML from "yaml";

type Schema = Record<string, unknown>;

interface Crd {
    readonly group: string;
    readonly kind: string;
    readonly versions: Map<string, Schema>;
}

function fail(message: string, code = 2): never {
    process.stderr.write(`check-kserve-crd: ${message}\n`);
    process.exit(code);
}

function readCrd(file: string): Crd {
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { kind?: string; spec?: { group?: string; names?: { kind?: string }; versions?: { name: string; served?: boolean; schema?: { openAPIV3Schema?: Schema } }[] } };
    if (doc?.kind !== "CustomResourceDefinition" || !doc.spec?.group || !doc.spec.names?.kind)
        fail(`${file} is not a CustomResourceDefinition (kind: ${String(doc?.kind)})`);
    const versions = new Map<string, Schema>();
    for (const v of doc.spec.versions ?? []) if (v.served !== false && v.schema?.openAPIV3Schema) versions.set(v.name, v.schema.openAPIV3Schema);
    if (versions.size === 0) fail(`${file} has no served version with an openAPIV3Schema`);
    return { group: doc.spec.group, kind: doc.spec.names.kind, versions };
}

/** Rewrites a structural schema into plain JSON Schema with the API server's semantics. Returns the number of CEL rules seen. */
function toJsonSchema(node: unknown, strictUnknown: boolean, counter: { cel: number }): unknown {
    if (Array.isArray(node)) return node.map((n) => toJsonSchema(n, strictUnknown, counter));
    if (!node || typeof node !== "object") return node;
    const s = { ...(node as Schema) };
    for (const key of ["properties", "patternProperties"] as const) {
        if (s[key]) s[key] = Object.fromEntries(Object.entries(s[key] as Schema).map(([k, v]) => [k, toJsonSchema(v, strictUnknown, counter)]));
    }
    for (const key of ["items", "additionalProperties", "not"] as const) if (s[key] && typeof s[key] === "object") s[key] = toJsonSchema(s[key], strictUnknown, counter);
    for (const key of ["allOf", "anyOf", "oneOf"] as const) if (Array.isArray(s[key])) s[key] = toJsonSchema(s[key], strictUnknown, counter);
    if (Array.isArray(s["x-kubernetes-validations"])) counter.cel += (s["x-kubernetes-validations"] as unknown[]).length;

    if (s["x-kubernetes-int-or-string"] === true && !s.anyOf) {
        delete s.type;
        s.anyOf = [{ type: "integer" }, { type: "string" }];
    }
    if (s.nullable === true) {
        if (typeof s.type === "string") s.type = [s.type, "null"];
        else if (Array.isArray(s.anyOf)) s.anyOf = [...(s.anyOf as unknown[]), { type: "null" }];
    }
    if (s["x-kubernetes-list-type"] === "set") s.uniqueItems = true;
    if (s["x-kubernetes-embedded-resource"] === true) s.required = [...new Set([...((s.required as string[]) ?? []), "apiVersion", "kind"])];
    // Pruning: an object with known properties, no additionalProperties and no preserve-unknown-fields keeps only its properties.
    if (strictUnknown && s.type === "object" && s.properties && s.additionalProperties === undefined && s["x-kubernetes-preserve-unknown-fields"] !== true)
        s.additionalProperties = false;
    return s;
}

function makeAjv(): Ajv {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
    for (const f of ["date-time", "byte", "double", "float", "quantity", "uri", "binary", "password", "date"]) ajv.addFormat(f, true);
    ajv.addKeyword({
        keyword: "x-kubernetes-list-map-keys",
        type: "array",
        schemaType: "array",
        validate: function mapKeys(keys: string[], data: unknown[], parent?: Schema): boolean {
            const itemProps = ((parent?.items as Schema | undefined)?.properties ?? {}) as Record<string, Schema>;
            const seen = new Set<string>();
            for (const item of data) {
                if (!item || typeof item !== "object") continue;
                const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k] ?? itemProps[k]?.default ?? null));
                if (seen.has(id)) {
                    (mapKeys as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: "x-kubernetes-list-map-keys", message: `must not repeat the list-map key (${keys.join(", ")}) = ${id}`, params: {} }];
                    return false;
                }
                seen.add(id);
            }
            return true;
        },
        errors: true,
    });
    return ajv;
}

function describe(e: ErrorObject): string {
    const extra = e.keyword === "additionalProperties" ? `: "${String((e.params as { additionalProperty?: string }).additionalProperty)}" is not in the CRD (the API server would prune it)` : "";
    return `${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
}

function main(argv: string[]): void {
    const crdFiles: string[] = [];
    const rendered: string[] = [];
    let strictUnknown = true;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--crd") {
            if (!argv[i + 1]) fail("--crd needs a file");
            crdFiles.push(argv[++i]);
        } else if (argv[i] === "--allow-unknown") strictUnknown = false;
        else if (argv[i] === "--help" || argv[i] === "-h") {
            process.stdout.write("usage: npx tsx scripts/check-kserve-crd.ts --crd <crd.yaml> [--crd ...] [--allow-unknown] <kubernetes.yaml>\n");
            return;
        } else if (argv[i].startsWith("-")) fail(`unknown option ${argv[i]}`);
        else rendered.push(argv[i]);
    }
    if (crdFiles.length === 0 || rendered.length !== 1) fail("usage: --crd <crd.yaml> [--crd ...] [--allow-unknown] <kubernetes.yaml>");
    for (const f of [...crdFiles, ...rendered]) if (!fs.existsSync(f)) fail(`no such file: ${f}`);

    const ajv = makeAjv();
    const counter = { cel: 0 };
    const validators = new Map<string, ValidateFunction>();
    for (const crd of crdFiles.map(readCrd)) {
        for (const [version, schema] of crd.versions) validators.set(`${crd.group}/${version}|${crd.kind}`, ajv.compile(toJsonSchema(schema, strictUnknown, counter) as Schema));
    }

    const objects = YAML.parseAllDocuments(fs.readFileSync(rendered[0], "utf8")).map((d) => d.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } } | null);
    let checked = 0;
    let invalid = 0;
    for (const obj of objects) {
        if (!obj) continue;
        const validate = validators.get(`${obj.apiVersion}|${obj.kind}`);
        if (!validate) continue;
        checked++;
        const id = `${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata?.name ?? "<no name>"}`;
        if (validate(obj)) {
            process.stdout.write(`ok      ${id}\n`);
        } else {
            invalid++;
            for (const e of validate.errors ?? []) process.stdout.write(`INVALID ${id}: ${describe(e)}\n`);
        }
    }
    const kinds = [...new Set([...validators.keys()].map((k) => k.split("|")[1]))].join(", ");
    if (checked === 0) fail(`no ${kinds} object in ${rendered[0]}`, 1);
    process.stdout.write(`${checked} checked, ${invalid} invalid${counter.cel ? ` (${counter.cel} CEL rules in the CRDs not evaluated)` : ""}\n`);
    process.exit(invalid > 0 ? 1 : 0);
}

main(process.argv.slice(2));
