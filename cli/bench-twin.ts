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
    /** The ordered twin's: the declarations (`type::name` in the twin) this one waits for, as the program orders them. */
    readonly dependsOn?: readonly string[];
}

/** The Kubernetes objects a rendered resource stands for: itself, or a component's objects below it. */
function objectsOf(id: string, resources: readonly RenderedResource[]): string[] {
    if (id.startsWith("kubernetes:")) return [id];
    return resources.filter((r) => r.parent === id).flatMap((r) => objectsOf(`${r.type}::${r.name}`, resources));
}

/**
 * The twin of a render: every `kubernetes:*` resource (components, random passwords, images and the like are
 * the program's, not objects). Names stay; a name two rendered objects of one type share (under different
 * parents) takes its parent's name as a prefix, since the twin has no parents to tell them apart.
 *
 * `ordered` (a render with `dependencies`): each object also waits for what its registration waited for in the
 * program, a component standing for the objects below it: the program's order without the program.
 */
export function twinDeclarations(resources: readonly RenderedResource[], opts: { ordered?: boolean } = {}): TwinDeclaration[] {
    const declared = plainDeclarations(resources);
    if (!opts.ordered) return declared;
    if (resources.some((r) => r.type.startsWith("kubernetes:") && r.dependsOn === undefined)) throw new Error("an ordered twin needs a render with dependencies (renderStack dependencies: true)");
    // The program's id of each object → its id in the twin (the objects keep their order).
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:"));
    const byId = new Map(resources.map((r) => [`${r.type}::${r.name}`, r]));
    const twinId = new Map(objects.map((r, i) => [`${r.type}::${r.name}`, `${declared[i]!.type}::${declared[i]!.name}`]));
    return declared.map((d, i) => {
        const own = `${d.type}::${d.name}`;
        const waits = [...new Set(waitsOf(objects[i]!, byId).flatMap((id) => objectsOf(id, resources)).map((id) => twinId.get(id)).filter((id): id is string => id !== undefined && id !== own))];
        return { ...d, dependsOn: waits };
    });
}

/**
 * What a resource's registration waits for: its own dependencies, and its parents' (the SDK sends a child's
 * registration once its parent's is answered, and a component's once its dependencies are).
 */
function waitsOf(r: RenderedResource, byId: ReadonlyMap<string, RenderedResource>): string[] {
    const out = [...(r.dependsOn ?? [])];
    for (let p = r.parent ? byId.get(r.parent) : undefined, seen = 0; p && seen < 100; p = p.parent ? byId.get(p.parent) : undefined, seen++) out.push(...(p.dependsOn ?? []));
    return out;
}

function plainDeclarations(resources: readonly RenderedResource[]): TwinDeclaration[] {
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

/** A custom resource of a type the Kubernetes SDK has no class for (CustomResource itself is abstract). */
class TwinObject extends pulumi.CustomResource {
    constructor(type: string, name: string, inputs: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
        super(type, name, inputs, opts);
    }
}

const NAMESPACE_TYPE = "kubernetes:core/v1:Namespace";
const CLAIM_PATCH_TYPE = "kubernetes:core/v1:PersistentVolumeClaimPatch";

type Meta = { name?: unknown; namespace?: unknown };
const meta = (d: TwinDeclaration): Meta => (d.inputs.metadata as Meta | undefined) ?? {};

/** The StatefulSet whose volumeClaimTemplate makes the claim a patch patches (`<template>-<set>-<ordinal>`), by index. */
function claimMaker(patch: TwinDeclaration, declarations: readonly TwinDeclaration[]): number | undefined {
    const claim = meta(patch).name;
    if (typeof claim !== "string") return undefined;
    const i = declarations.findIndex((d) => {
        if (d.type !== "kubernetes:apps/v1:StatefulSet" || meta(d).namespace !== meta(patch).namespace) return false;
        const templates = ((d.inputs.spec as { volumeClaimTemplates?: { metadata?: Meta }[] } | undefined)?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
        return templates.some((t) => typeof t === "string" && new RegExp(`^${reEscape(t)}-${reEscape(String(meta(d).name))}-\\d+$`).test(claim));
    });
    return i >= 0 ? i : undefined;
}

const reEscape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Which declarations wait for which: an object in a namespace the twin declares waits for that Namespace (the
 * API server refuses it before), a PersistentVolumeClaim patch for the StatefulSet that makes its claim, and an ordered twin's object for its `dependsOn`. The program orders more (its
 * components' dependsOn); the plain twin does not: what that ordering costs is the program's. Returns, by
 * declaration index, the indexes it waits for.
 */
export function twinDependencies(declarations: readonly TwinDeclaration[]): number[][] {
    const namespaces = new Map<string, number>();
    declarations.forEach((d, i) => {
        const name = (d.inputs.metadata as { name?: unknown } | undefined)?.name;
        if (d.type === NAMESPACE_TYPE && typeof name === "string") namespaces.set(name, i);
    });
    const index = new Map(declarations.map((d, i) => [`${d.type}::${d.name}`, i]));
    return declarations.map((d) => {
        const ns = (d.inputs.metadata as { namespace?: unknown } | undefined)?.namespace;
        const i = typeof ns === "string" ? namespaces.get(ns) : undefined;
        const waits = i !== undefined && d.type !== NAMESPACE_TYPE ? [i] : [];
        const maker = d.type === CLAIM_PATCH_TYPE ? claimMaker(d, declarations) : undefined;
        if (maker !== undefined) waits.push(maker);
        for (const id of d.dependsOn ?? []) {
            const j = index.get(id);
            if (j === undefined) throw new Error(`the twin's ${d.type}::${d.name} waits for ${id}, which the twin does not declare`);
            if (!waits.includes(j)) waits.push(j);
        }
        return waits.sort((a, b) => a - b);
    });
}

/** The declarations in an order where each comes after what it waits for (a circle is an error). */
export function declarationOrder(waits: readonly (readonly number[])[]): number[] {
    const order: number[] = [];
    const state = new Map<number, "visiting" | "done">();
    const visit = (i: number, path: number[]) => {
        if (state.get(i) === "done") return;
        if (state.get(i) === "visiting") throw new Error(`the twin's dependencies go round: ${[...path, i].join(" → ")}`);
        state.set(i, "visiting");
        for (const j of waits[i]!) visit(j, [...path, i]);
        state.set(i, "done");
        order.push(i);
    };
    waits.forEach((_, i) => visit(i, []));
    return order;
}

/** The twin as an inline program: each declaration once, no outputs. */
export function twinProgram(declarations: readonly TwinDeclaration[]): () => Promise<Record<string, unknown>> {
    const classes = new Map(declarations.map((d) => [d.type, sdkClass(d.type)]));
    const version = sdkVersion();
    const waits = twinDependencies(declarations);
    // Every object after what it waits for.
    const order = declarationOrder(waits);
    return async () => {
        const declared = new Map<number, pulumi.CustomResource>();
        for (const i of order) {
            const d = declarations[i]!;
            const inputs = reviveSecrets(d.inputs) as Record<string, unknown>;
            const dependsOn = waits[i]!.map((j) => declared.get(j)!);
            const opts: pulumi.CustomResourceOptions = {
                ...(d.options.ignoreChanges ? { ignoreChanges: [...d.options.ignoreChanges] } : {}),
                ...(d.options.retainOnDelete ? { retainOnDelete: true } : {}),
                ...(d.options.protect ? { protect: true } : {}),
                ...(dependsOn.length > 0 ? { dependsOn } : {}),
            };
            const Sdk = classes.get(d.type);
            declared.set(i, Sdk ? new Sdk(d.name, inputs, opts) : new TwinObject(d.type, d.name, inputs, { ...opts, version }));
        }
        return {};
    };
}
