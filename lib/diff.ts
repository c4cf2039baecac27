/**
 * Offline diff of two renders: resources added, removed and changed (with the changed field paths),
 * matched by type and name as Pulumi matches them. Secrets are "[secret]" on both sides, so they compare
 * by presence only. A change under a resource's `ignoreChanges` path (when the render records it) is left
 * out, as the engine never makes it.
 *
 * Each changed Kubernetes object is classified the way the Kubernetes provider would plan it: `update` in
 * place, or `replace` (delete + create) when the change touches one of the kind's replace-on-change fields
 * (the table in lib/replace-fields.ts, written from the provider's source). Other providers' resources
 * are `unknown`: their replace rules live in their own schemas, not here.
 */
import type { RenderedResource } from "./render";
import { CLUSTER_SCOPED_KINDS, forceNewFields, IDENTITY_FIELDS, ProviderFlags, STATEFUL_KINDS } from "./replace-fields";

export interface ResourceRef {
    readonly type: string;
    readonly name: string;
}

/** `update`: in place; `replace`: delete + create; `unknown`: not a Kubernetes object (no table offline). */
export type ChangeAction = "update" | "replace" | "unknown";

export interface ChangedResource extends ResourceRef {
    readonly fields: string[];
    readonly action: ChangeAction;
    /** For a replace: the replace-on-change fields the change touches, e.g. `spec.volumeClaimTemplates`. */
    readonly replaceBecause?: string[];
    /** For a replace: which of `fields` touch them. */
    readonly replaceFields?: string[];
    /**
     * For a replace: the same paths as the provider names them in its `replaces` (what `pulumi preview --diff`
     * reports): array elements by position, keys with `.`, `[`, `]` or `"` quoted, e.g.
     * `metadata.annotations["a.b/c"]`, `spec.template.spec.containers[0].image`.
     */
    readonly replaceKeys?: string[];
    /** For a replace: the old object goes first (same explicit name), else the new one is created first. */
    readonly deleteBeforeReplace?: boolean;
    /** For a replace of a StatefulSet, PersistentVolumeClaim, PersistentVolume, Namespace or Secret. */
    readonly stateful?: true;
    /** For a replace of a `retainOnDelete` resource: the engine never deletes the old object. */
    readonly retainsOld?: true;
}

export interface RenderDiff {
    readonly added: ResourceRef[];
    readonly removed: ResourceRef[];
    readonly changed: ChangedResource[];
}

export interface DiffOptions {
    /** The Kubernetes provider's config that changes what replaces (defaults: all off, as in this project). */
    readonly providerFlags?: ProviderFlags;
}

/** One step of a field path: an object key, or an array element by position or by its `name`. */
type Segment = { readonly key: string } | { readonly item: number | string };
type Path = readonly Segment[];

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Paths of the leaves where two JSON values differ. Lists of named items compare by name, others by position. */
function changes(a: unknown, b: unknown, path: Path = []): Path[] {
    if (a === b) return [];
    if (Array.isArray(a) && Array.isArray(b)) {
        // Lists of named items (env, containers, ports) are compared by name; others by position.
        const named = (l: unknown[]) => l.every((x) => isObj(x) && typeof x.name === "string");
        if (named(a) && named(b) && a.length + b.length > 0) {
            const byName = (l: unknown[]) => new Map(l.map((x) => [(x as { name: string }).name, x]));
            const [ma, mb] = [byName(a), byName(b)];
            const names = [...new Set([...ma.keys(), ...mb.keys()])];
            return names.flatMap((n) => changes(ma.get(n), mb.get(n), [...path, { item: n }]));
        }
        const n = Math.max(a.length, b.length);
        return Array.from({ length: n }, (_, i) => changes(a[i], b[i], [...path, { item: i }])).flat();
    }
    if (isObj(a) && isObj(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        return keys.flatMap((k) => changes(a[k], b[k], [...path, { key: k }]));
    }
    return [path];
}

function formatPath(path: Path, prefix = ""): string {
    let out = prefix;
    for (const s of path) out += "key" in s ? (out ? `.${s.key}` : s.key) : `[${s.item}]`;
    return out || "(value)";
}

/** Leaf paths where two JSON values differ, e.g. `spec.replicas`, `spec.template.spec.containers[0].env`. */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
    return changes(a, b).map((p) => formatPath(p, prefix));
}

// --- replace classification -------------------------------------------------------------------------

/** A force-new path: keys, `[*]` for any array element. */
type Pattern = readonly ({ readonly key: string } | { readonly any: true })[];

function parsePattern(field: string): Pattern {
    return field.split(".").flatMap((part) => {
        const m = /^([^[\]]+)((?:\[\*\])*)$/.exec(part);
        if (!m) throw new Error(`bad replace-on-change field ${JSON.stringify(field)}`);
        return [{ key: m[1] }, ...Array.from({ length: m[2].length / 3 }, () => ({ any: true as const }))];
    });
}

function valueAt(root: unknown, path: Path): unknown {
    let v = root;
    for (const s of path) {
        if ("key" in s) v = isObj(v) ? v[s.key] : undefined;
        else if (!Array.isArray(v)) v = undefined;
        else v = typeof s.item === "number" ? v[s.item] : v.find((x) => isObj(x) && x.name === s.item);
        if (v === undefined) return undefined;
    }
    return v;
}

/** Whether a value holds the rest of a pattern (as a JSONPath over it would find it). */
function holds(v: unknown, rest: Pattern): boolean {
    if (rest.length === 0) return true;
    const [head, ...tail] = rest;
    if ("key" in head) return isObj(v) && Object.prototype.hasOwnProperty.call(v, head.key) && holds(v[head.key], tail);
    return Array.isArray(v) && v.some((x) => holds(x, tail));
}

/**
 * Whether a change at `path` is covered by a force-new pattern, as the provider decides it: the change is
 * at or under the pattern, or above it with a new value that contains the pattern (a whole container added
 * with an `image`). A deletion above the pattern does not count (the provider's JSONPath finds nothing in a
 * null), one at or under it does.
 */
function touches(path: Path, pattern: Pattern, newObj: unknown): boolean {
    const n = Math.min(path.length, pattern.length);
    for (let i = 0; i < n; i++) {
        const [p, s] = [pattern[i], path[i]];
        if ("key" in p ? !("key" in s) || s.key !== p.key : !("item" in s)) return false;
    }
    if (path.length >= pattern.length) return true;
    const v = valueAt(newObj, path);
    return v !== undefined && v !== null && holds(v, pattern.slice(path.length));
}

export interface Classification {
    readonly action: "update" | "replace";
    /** The force-new fields touched, in table order. */
    readonly replaceBecause: string[];
    /** The changed paths that touch them. */
    readonly replaceFields: string[];
    /** Those paths in the provider's notation (see ChangedResource.replaceKeys). */
    readonly replaceKeys: string[];
    readonly deleteBeforeReplace: boolean;
}

/**
 * A path in the provider's notation: named array items become their position (in the new object, else the
 * old one), keys holding `.`, `"`, `[` or `]` are written `["…"]` (provider.go `addPatchValueToDiff`).
 */
function providerKey(path: Path, oldObj: unknown, newObj: unknown): string {
    const positions = providerPositions(path, oldObj, newObj);
    let out = "";
    path.forEach((s, i) => {
        if ("key" in s) out = /[."[\]]/.test(s.key) ? `${out}["${s.key.replace(/"/g, '\\"')}"]` : out ? `${out}.${s.key}` : s.key;
        else out += `[${positions[i] ?? s.item}]`;
    });
    return out;
}

/** An `ignoreChanges` entry as a Pulumi property path: `a.b[0].c`, `a["x.y"]`, `*` / `[*]` for any key or element. */
type IgnorePath = readonly (string | number | "*")[];

function parseIgnorePath(p: string): IgnorePath {
    const out: (string | number)[] = [];
    const re = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\[\*\]|([^.[\]]+)/g;
    for (let m = re.exec(p); m; m = re.exec(p)) out.push(m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "*"));
    return out;
}

/**
 * Whether an ignoreChanges path covers a changed path: the engine keeps the old value there, so the
 * provider never sees the change. Named items are matched by their position, as the engine's paths are.
 */
function ignores(ig: IgnorePath, path: Path, before: unknown, after: unknown): boolean {
    if (ig.length > path.length) return false;
    const positions = providerPositions(path, before, after);
    return ig.every((seg, i) => {
        const s = path[i];
        if (seg === "*") return true;
        if ("key" in s) return s.key === seg;
        return positions[i] === seg;
    });
}

/** For each item step of a path, its position in the new object, else the old one. */
function providerPositions(path: Path, oldObj: unknown, newObj: unknown): (number | undefined)[] {
    const out: (number | undefined)[] = [];
    let [a, b] = [oldObj, newObj];
    for (const s of path) {
        if ("key" in s) {
            out.push(undefined);
            [a, b] = [isObj(a) ? a[s.key] : undefined, isObj(b) ? b[s.key] : undefined];
            continue;
        }
        const indexIn = (l: unknown) => (Array.isArray(l) ? (typeof s.item === "number" ? (s.item < l.length ? s.item : -1) : l.findIndex((x) => isObj(x) && x.name === s.item)) : -1);
        const [ia, ib] = [indexIn(a), indexIn(b)];
        const i = ib >= 0 ? ib : ia >= 0 ? ia : typeof s.item === "number" ? s.item : undefined;
        out.push(i);
        [a, b] = [ia >= 0 && Array.isArray(a) ? a[ia] : undefined, ib >= 0 && Array.isArray(b) ? b[ib] : undefined];
    }
    return out;
}

type K8sObject = Record<string, unknown> & { metadata?: unknown };

/** The namespace as the provider compares it: `default` when unset for a namespaced kind, none for a cluster-scoped one. */
function canonical(o: K8sObject, clusterScoped: boolean): K8sObject {
    const md = isObj(o.metadata) ? { ...o.metadata } : undefined;
    if (!md) return o;
    if (clusterScoped) delete md.namespace;
    else md.namespace = typeof md.namespace === "string" && md.namespace !== "" ? md.namespace : "default";
    return { ...o, metadata: md };
}

/**
 * Update or replace, for two versions of one Kubernetes object (inputs as the program declares them), and
 * the fields that force the replacement. The kind's rules come from the **new** object, as in the provider.
 */
export function classifyKubernetesChange(
    oldObj: K8sObject,
    newObj: K8sObject,
    flags: ProviderFlags = {},
    opts: { readonly patchResource?: boolean; readonly ignoreChanges?: readonly string[] } = {},
): Classification {
    const clusterScoped = typeof newObj.kind === "string" && CLUSTER_SCOPED_KINDS.has(newObj.kind);
    const [before, after] = [canonical(oldObj, clusterScoped), canonical(newObj, clusterScoped)];
    // A Patch resource (`…:PersistentVolumeClaimPatch`) replaces only on its identity (provider.go Diff, kinds.IsPatchResource).
    const fields = opts.patchResource ? [...IDENTITY_FIELDS] : forceNewFields(newObj, flags);
    const ignored = (opts.ignoreChanges ?? []).map(parseIgnorePath);
    const patterns = fields.map((f) => [f, parsePattern(f)] as const);
    const because = new Set<string>();
    const replaceFields: string[] = [];
    const replaceKeys: string[] = [];
    for (const path of changes(before, after)) {
        if (ignored.some((ig) => ignores(ig, path, before, after))) continue;
        let hit = false;
        for (const [field, pattern] of patterns) {
            if (touches(path, pattern, after)) {
                because.add(field);
                hit = true;
            }
        }
        // Removing the whole metadata replaces too (provider.go Diff: a DELETE of `metadata`).
        if (path.length === 1 && "key" in path[0] && path[0].key === "metadata" && after.metadata === undefined) {
            because.add("metadata");
            hit = true;
        }
        if (hit) {
            replaceFields.push(formatPath(path));
            replaceKeys.push(providerKey(path, before, after));
        }
    }
    const replaceBecause = [...fields, "metadata"].filter((f) => because.has(f));
    const md = (o: K8sObject) => (isObj(o.metadata) ? o.metadata : {});
    const newName = md(newObj).name;
    const deleteBeforeReplace =
        replaceBecause.length > 0 &&
        typeof newName === "string" &&
        newName !== "" &&
        newName === md(oldObj).name &&
        md(after).namespace === md(before).namespace;
    return { action: replaceBecause.length > 0 ? "replace" : "update", replaceBecause, replaceFields, replaceKeys, deleteBeforeReplace };
}

/** A rendered resource that is a Kubernetes object the provider diffs (not a Helm release or a YAML component). */
function isKubernetesObject(r: RenderedResource): boolean {
    return (
        r.type.startsWith("kubernetes:") &&
        !r.type.startsWith("kubernetes:helm") &&
        !r.type.startsWith("kubernetes:yaml") &&
        typeof r.inputs.kind === "string" &&
        typeof r.inputs.apiVersion === "string"
    );
}

const key = (r: ResourceRef) => `${r.type}::${r.name}`;

export function diffRenders(from: readonly RenderedResource[], to: readonly RenderedResource[], opts: DiffOptions = {}): RenderDiff {
    const before = new Map(from.map((r) => [key(r), r]));
    const after = new Map(to.map((r) => [key(r), r]));
    const added = to.filter((r) => !before.has(key(r))).map(({ type, name }) => ({ type, name }));
    const removed = from.filter((r) => !after.has(key(r))).map(({ type, name }) => ({ type, name }));
    const changed: ChangedResource[] = [];
    for (const r of to) {
        const old = before.get(key(r));
        if (!old) continue;
        // The engine keeps the old value under an ignoreChanges path: such a change is never made, so not shown.
        const ignoreChanges = ((r.options ?? {}) as { readonly ignoreChanges?: readonly string[] }).ignoreChanges ?? [];
        const ignored = ignoreChanges.map(parseIgnorePath);
        const inputChanges = changes(old.inputs, r.inputs).filter((p) => !ignored.some((ig) => ignores(ig, p, old.inputs, r.inputs)));
        const fields = [...inputChanges.map((p) => formatPath(p)), ...changedPaths(old.options ?? {}, r.options ?? {}, "(options)")];
        if (fields.length === 0) continue;
        if (!isKubernetesObject(r)) {
            changed.push({ type: r.type, name: r.name, fields, action: "unknown" });
            continue;
        }
        const patchResource = r.type.split(":").pop() === `${r.inputs.kind as string}Patch`;
        const c = classifyKubernetesChange(old.inputs, r.inputs, opts.providerFlags, { patchResource, ignoreChanges });
        if (c.action === "update") {
            changed.push({ type: r.type, name: r.name, fields, action: "update" });
            continue;
        }
        changed.push({
            type: r.type,
            name: r.name,
            fields,
            action: "replace",
            replaceBecause: c.replaceBecause,
            replaceFields: c.replaceFields,
            replaceKeys: c.replaceKeys,
            deleteBeforeReplace: c.deleteBeforeReplace,
            ...(STATEFUL_KINDS.has(r.inputs.kind as string) && !patchResource ? { stateful: true as const } : {}),
            ...(r.options?.retainOnDelete ? { retainsOld: true as const } : {}),
        });
    }
    return { added, removed, changed };
}

function replaceNote(r: ChangedResource): string {
    const how = r.deleteBeforeReplace
        ? r.retainsOld
            ? "the old object is kept (retainOnDelete) and the new one applied over it under the same name"
            : "deletes the old object, then creates the new one"
        : r.retainsOld
          ? "creates the new object; the old one is kept (retainOnDelete)"
          : "creates the new object, then deletes the old one";
    return `${r.stateful ? "STATEFUL " : ""}replace: ${how}; because ${(r.replaceBecause ?? []).join(", ")}`;
}

/**
 * The human form: `+ type name`, `- type name`, `~ type name` (update) or `+- type name` (replace) with
 * the fields below; a replace of a stateful object is marked `!!` and listed again above the summary.
 */
export function formatDiff(d: RenderDiff): string {
    const changedLines = (r: ChangedResource): string[] => {
        if (r.action === "replace") {
            const forcing = new Set(r.replaceFields ?? []);
            const width = Math.max(...r.fields.map((f) => f.length));
            return [
                `${r.stateful ? "!! " : ""}+- ${r.type} ${r.name}  ${replaceNote(r)}`,
                ...r.fields.map((f) => (forcing.has(f) ? `    ${f.padEnd(width)}  [forces replace]` : `    ${f}`)),
            ];
        }
        const head = r.action === "unknown" ? `~ ${r.type} ${r.name}  (update or replace: up to the ${r.type.split(":")[0]} provider, not known offline)` : `~ ${r.type} ${r.name}`;
        return [head, ...r.fields.map((f) => `    ${f}`)];
    };
    const lines = [
        ...d.added.map((r) => `+ ${r.type} ${r.name}`),
        ...d.removed.map((r) => `- ${r.type} ${r.name}`),
        ...d.changed.flatMap(changedLines),
    ];
    const stateful = d.changed.filter((r) => r.action === "replace" && r.stateful);
    if (stateful.length > 0) {
        lines.push(
            `!! ${stateful.length} stateful object${stateful.length === 1 ? "" : "s"} to replace (delete + create), check before applying:`,
            ...stateful.map((r) => `!!   ${r.type} ${r.name}: ${(r.replaceBecause ?? []).join(", ")}`),
        );
    }
    const count = (a: ChangeAction) => d.changed.filter((r) => r.action === a).length;
    const split = d.changed.length > 0 ? ` (${[`${count("update")} update`, `${count("replace")} replace`, ...(count("unknown") ? [`${count("unknown")} not known offline`] : [])].join(", ")})` : "";
    const summary = `${d.added.length} to add, ${d.removed.length} to remove, ${d.changed.length} to change${split}`;
    return [...lines, summary].join("\n");
}
