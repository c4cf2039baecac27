/**
 * The static twin of a stack (issue 21 part 1): the Kubernetes objects the stack's program renders, declared by a
 * plain program, one resource per rendered object, with the same type, name, inputs and the options that change
 * what the engine diffs (ignoreChanges, retainOnDelete, protect), secrets as secrets where the program has them.
 * Nothing else: no config validation, no pre-flight, no registry lookup, no component tree, no outputs. A
 * no-change preview of the twin is what the engine, the provider and the API server cost for these objects;
 * the stack's preview over it is what the platform's program adds.
 *
 * Each object goes through the Kubernetes SDK's own class for its type (what the program's components use, so
 * the same provider version, secret outputs and aliases), a type the SDK has no class for through a plain
 * CustomResource with the SDK's provider version.
 */
import * as pulumi from "@pulumi/pulumi";
import { isSecretEnvelope, type RenderedResource } from "../lib/render";

/** One resource of the twin. */
export interface TwinDeclaration {
    readonly type: string;
    readonly name: string;
    /** As the program registered them: secrets are Pulumi secret envelopes (renderStack `secrets: "keep"`). */
    readonly inputs: Record<string, unknown>;
    readonly options: { readonly ignoreChanges?: readonly string[]; readonly retainOnDelete?: true; readonly protect?: true };
}

/**
 * The twin of a render: every `kubernetes:*` resource (components, random passwords, images and the like are
 * the program's, not objects). Names stay; a name two rendered objects of one type share (under different
 * parents) takes its parent's name as a prefix, since the twin has no parents to tell them apart.
 */
export function twinDeclarations(resources: readonly RenderedResource[]): TwinDeclaration[] {
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:"));
    const count = new Map<string, number>();
    for (const r of objects) count.set(`${r.type}::${r.name}`, (count.get(`${r.type}::${r.name}`) ?? 0) + 1);
    const taken = new Set<string>();
    return objects.map((r) => {
        let name = r.name;
        if ((count.get(`${r.type}::${r.name}`) ?? 0) > 1 && r.parent) name = `${r.parent.split("::").pop()}-${r.name}`;
        if (taken.has(`${r.type}::${name}`)) throw new Error(`the twin has two ${r.type} resources named "${name}" (parent ${r.parent ?? "none"})`);
        taken.add(`${r.type}::${name}`);
        const o = r.options ?? {};
        const options = {
            ...(o.ignoreChanges && o.ignoreChanges.length > 0 ? { ignoreChanges: o.ignoreChanges } : {}),
            ...(o.retainOnDelete ? { retainOnDelete: true as const } : {}),
            ...(o.protect ? { protect: true as const } : {}),
        };
        return { type: r.type, name, inputs: r.inputs, options };
    });
}

/** Secret envelopes back into Pulumi secrets (the rest as it is). */
export function reviveSecrets(value: unknown): unknown {
    if (isSecretEnvelope(value)) return pulumi.secret(reviveSecrets(value.value));
    if (Array.isArray(value)) return value.map(reviveSecrets);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reviveSecrets(v)]));
    return value;
}

/** `kubernetes:<group>/<version>:<Kind>` → the SDK module and class that declare it (group core → core, networking.k8s.io → networking). */
export function sdkLocation(type: string): { module: string; version: string; kind: string } | undefined {
    const m = /^kubernetes:([^/:]+)\/([^:]+):(.+)$/.exec(type);
    if (!m) return undefined;
    return { module: m[1]!.split(".")[0]!, version: m[2]!, kind: m[3]! };
}

type SdkClass = (new (name: string, args: Record<string, unknown>, opts: pulumi.CustomResourceOptions) => pulumi.CustomResource) & { __pulumiType?: string };

function sdkClass(type: string): SdkClass | undefined {
    const at = sdkLocation(type);
    if (!at) return undefined;
    let mod: Record<string, unknown>;
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is named by the type token.
        mod = require(`@pulumi/kubernetes/${at.module}/${at.version}`) as Record<string, unknown>;
    } catch {
        return undefined;
    }
    const cls = mod[at.kind] as SdkClass | undefined;
    // A custom resource's group may share its first label with an SDK module: only the class of this very type counts.
    return typeof cls === "function" && cls.__pulumiType === type ? cls : undefined;
}

function sdkVersion(): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("@pulumi/kubernetes/package.json") as { version: string }).version.replace(/^v/, "");
}

/** The twin as an inline program: each declaration once, no outputs. */
export function twinProgram(declarations: readonly TwinDeclaration[]): () => Promise<Record<string, unknown>> {
    const classes = new Map(declarations.map((d) => [d.type, sdkClass(d.type)]));
    const version = sdkVersion();
    return async () => {
        for (const d of declarations) {
            const inputs = reviveSecrets(d.inputs) as Record<string, unknown>;
            const opts: pulumi.CustomResourceOptions = {
                ...(d.options.ignoreChanges ? { ignoreChanges: [...d.options.ignoreChanges] } : {}),
                ...(d.options.retainOnDelete ? { retainOnDelete: true } : {}),
                ...(d.options.protect ? { protect: true } : {}),
            };
            const Sdk = classes.get(d.type);
            if (Sdk) new Sdk(d.name, inputs, opts);
            else new pulumi.CustomResource(d.type, d.name, inputs, { ...opts, version });
        }
        return {};
    };
}
