/**
 * Validates Kubernetes objects against the published schemas of the npm package kubernetes-models.
 * Custom resources (KServe) are not in it: they are checked by their own schema (test/unit/kserve-schema.ts).
 */
import type { KubernetesObject } from "../../lib/render";

type Validatable = { validate(): void };
type ModelClass = new (data: unknown) => Validatable;

/** The kubernetes-models module path of an apiVersion/kind, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
export function modelPath(apiVersion: string, kind: string): string {
    return `kubernetes-models/${apiVersion}/${kind}`;
}

export function isBuiltIn(obj: KubernetesObject): boolean {
    try {
        require.resolve(modelPath(obj.apiVersion, obj.kind));
        return true;
    } catch {
        return false;
    }
}

/** Throws with the object's kind/name and the schema's complaint when invalid. */
export function validateKubernetesObject(obj: KubernetesObject): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modelPath(obj.apiVersion, obj.kind)) as Record<string, ModelClass>;
    const Model = mod[obj.kind];
    if (!Model) throw new Error(`kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
    try {
        new Model(obj).validate();
    } catch (err) {
        throw new Error(`${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? "?"} is invalid: ${(err as Error).message}`);
    }
}
