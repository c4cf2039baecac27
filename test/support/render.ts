/**
 * Renders of the project's stacks for tests, memoized per (stack, sets): the program runs once per
 * distinct configuration, whatever number of tests read the result.
 */
import * as path from "node:path";
import { renderStack, RenderResult, KubernetesObject, RenderedResource } from "../../lib/render";

export const ROOT = path.resolve(__dirname, "..", "..");
const cache = new Map<string, Promise<RenderResult>>();

export function render(stack: string, sets: readonly string[] = [], mlflowUri?: string): Promise<RenderResult> {
    const key = JSON.stringify([stack, sets, mlflowUri]);
    let result = cache.get(key);
    if (!result) {
        result = renderStack({ root: ROOT, stack, sets, mlflowUri });
        cache.set(key, result);
    }
    return result;
}

export function findObject(r: RenderResult, kind: string, name: string): KubernetesObject {
    const found = r.kubernetes.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} in the render (have: ${r.kubernetes.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")})`);
    return found;
}

export function resourcesOfType(r: RenderResult, type: string): RenderedResource[] {
    return r.resources.filter((x) => x.type === type);
}

/** Every string anywhere in a value, for "no plaintext secret" scans. */
export function allStrings(value: unknown, out: string[] = []): string[] {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach((v) => allStrings(v, out));
    else if (value && typeof value === "object") Object.values(value).forEach((v) => allStrings(v, out));
    return out;
}

/** Containers of a workload object (Deployment, StatefulSet, Job, CronJob). */
export function containersOf(o: KubernetesObject): Record<string, unknown>[] {
    const spec = o.spec as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking untyped rendered JSON
    const pod = o.kind === "CronJob" ? spec.jobTemplate.spec.template.spec : spec.template.spec;
    return [...(pod.initContainers ?? []), ...pod.containers];
}
