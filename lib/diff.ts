/**
 * Offline diff of two renders: resources added, removed and changed (with the changed field paths),
 * matched by type and name as Pulumi matches them. Secrets are "[secret]" on both sides, so they compare
 * by presence only.
 */
import type { RenderedResource } from "./render";

export interface ResourceRef {
    readonly type: string;
    readonly name: string;
}
export interface ChangedResource extends ResourceRef {
    readonly fields: string[];
}
export interface RenderDiff {
    readonly added: ResourceRef[];
    readonly removed: ResourceRef[];
    readonly changed: ChangedResource[];
}

/** Leaf paths where two JSON values differ, e.g. `spec.replicas`, `spec.template.spec.containers[0].env`. */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
    if (a === b) return [];
    const isObj = (v: unknown) => v !== null && typeof v === "object";
    if (Array.isArray(a) && Array.isArray(b)) {
        // Lists of named items (env, containers, ports) are compared by name; others by position.
        const named = (l: unknown[]) => l.every((x) => isObj(x) && typeof (x as { name?: unknown }).name === "string");
        if (named(a) && named(b) && a.length + b.length > 0) {
            const byName = (l: unknown[]) => new Map(l.map((x) => [(x as { name: string }).name, x]));
            const [ma, mb] = [byName(a), byName(b)];
            const names = [...new Set([...ma.keys(), ...mb.keys()])];
            return names.flatMap((n) => changedPaths(ma.get(n), mb.get(n), `${prefix}[${n}]`));
        }
        const n = Math.max(a.length, b.length);
        return Array.from({ length: n }, (_, i) => changedPaths(a[i], b[i], `${prefix}[${i}]`)).flat();
    }
    if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
        const ka = a as Record<string, unknown>;
        const kb = b as Record<string, unknown>;
        const keys = [...new Set([...Object.keys(ka), ...Object.keys(kb)])].sort();
        return keys.flatMap((k) => changedPaths(ka[k], kb[k], prefix ? `${prefix}.${k}` : k));
    }
    return [prefix || "(value)"];
}

const key = (r: ResourceRef) => `${r.type}::${r.name}`;

export function diffRenders(from: readonly RenderedResource[], to: readonly RenderedResource[]): RenderDiff {
    const before = new Map(from.map((r) => [key(r), r]));
    const after = new Map(to.map((r) => [key(r), r]));
    const added = to.filter((r) => !before.has(key(r))).map(({ type, name }) => ({ type, name }));
    const removed = from.filter((r) => !after.has(key(r))).map(({ type, name }) => ({ type, name }));
    const changed: ChangedResource[] = [];
    for (const r of to) {
        const old = before.get(key(r));
        if (!old) continue;
        const fields = [...changedPaths(old.inputs, r.inputs), ...changedPaths(old.options ?? {}, r.options ?? {}, "(options)")];
        if (fields.length > 0) changed.push({ type: r.type, name: r.name, fields });
    }
    return { added, removed, changed };
}

/** The human form: `+ type name`, `- type name`, `~ type name` with the fields below. */
export function formatDiff(d: RenderDiff): string {
    const lines = [
        ...d.added.map((r) => `+ ${r.type} ${r.name}`),
        ...d.removed.map((r) => `- ${r.type} ${r.name}`),
        ...d.changed.flatMap((r) => [`~ ${r.type} ${r.name}`, ...r.fields.map((f) => `    ${f}`)]),
    ];
    const summary = `${d.added.length} to add, ${d.removed.length} to remove, ${d.changed.length} to change`;
    return [...lines, summary].join("\n");
}
