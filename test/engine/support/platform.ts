/**
 * What the engine tests share about the platform itself: the local stack's supplied secrets (so no
 * `random:` resource is declared and every secret value is known to the test), the offline render of the
 * same config, and comparisons between the engine's plan and the offline diff.
 */
import { diffRenders, type RenderDiff } from "../../../lib/diff";
import { renderStack, type RenderResult } from "../../../lib/render";
import { REPO_ROOT } from "../../../testbed/toolchain";
import type { KubeClient, KubeObject } from "../../../testbed/kube";
import type { ConfigValue, Step } from "../../../testbed/stack";

/** `path=value` sets for the offline render (renderStack) of the same config. */
export function asSets(values: Record<string, ConfigValue>): string[] {
  return Object.entries(values).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v.secret) : JSON.stringify(v)}`);
}

const renders = new Map<string, Promise<RenderResult>>();
/** The offline render of Pulumi.<base>.yaml with `values` on top (memoized). */
export function offlineRender(base: string, values: Record<string, ConfigValue>): Promise<RenderResult> {
  const sets = asSets(values);
  const key = JSON.stringify([base, sets]);
  let r = renders.get(key);
  if (!r) {
    r = renderStack({ root: REPO_ROOT, stack: base, sets });
    renders.set(key, r);
  }
  return r;
}

/** Kubernetes resources of a render, as `type::name` (what the engine's URNs end in). */
export function renderedKeys(r: RenderResult): string[] {
  return r.resources.filter((x) => x.type.startsWith("kubernetes:")).map((x) => `${x.type}::${x.name}`).sort();
}

/** Keys of the engine's steps with one of `ops` (custom resources only: components carry no object). */
export function stepKeys(steps: readonly Step[], ops: readonly string[]): string[] {
  return steps.filter((s) => ops.includes(s.op) && s.type.startsWith("kubernetes:")).map((s) => `${s.type}::${s.name}`).sort();
}

/** The offline diff's added/removed Kubernetes resources, as `type::name`. */
export function offlineAddedRemoved(d: RenderDiff): { added: string[]; removed: string[]; replaced: string[] } {
  const k8s = (xs: readonly { type: string; name: string }[]) => xs.filter((x) => x.type.startsWith("kubernetes:")).map((x) => `${x.type}::${x.name}`).sort();
  return { added: k8s(d.added), removed: k8s(d.removed), replaced: k8s(d.changed.filter((c) => c.action === "replace")) };
}

export function offlineDiff(from: RenderResult, to: RenderResult): RenderDiff {
  return diffRenders(from.resources, to.resources);
}

/** Kinds whose delete or replace loses data or credentials (the engine tests refuse them in any plan). */
export const PRECIOUS_KINDS = new Set(["Namespace", "StatefulSet", "PersistentVolumeClaim"]);

/** Steps that delete or replace a Namespace, StatefulSet, claim or credential Secret. */
export function destructiveSteps(steps: readonly Step[], credentialSecrets: ReadonlySet<string>): Step[] {
  return steps.filter((s) => {
    if (!["delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"].includes(s.op)) return false;
    const kind = s.object?.kind ?? s.type.split(":").pop() ?? "";
    if (PRECIOUS_KINDS.has(kind)) return true;
    return kind === "Secret" && s.object !== undefined && credentialSecrets.has(s.object.name);
  });
}

/** Secrets of a render that carry a credential: every Secret the platform writes holds one. */
export function credentialSecretNames(r: RenderResult): Set<string> {
  return new Set(r.kubernetes.filter((o) => o.kind === "Secret").map((o) => o.metadata.name ?? ""));
}

/** The secrets of `secrets` that the state text holds in plaintext or base64-encoded (to assert none). */
export function secretsInState(stateText: string, secrets: Record<string, string>): string[] {
  if (!stateText.includes("kubernetes:core/v1:Secret")) throw new Error("the state holds no Secret: was it read?");
  return Object.entries(secrets).flatMap(([key, value]) => [
    ...(stateText.includes(value) ? [`${key} (plaintext)`] : []),
    ...(stateText.includes(Buffer.from(value).toString("base64")) ? [`${key} (base64)`] : []),
  ]);
}

/** Every rendered object that the API server does not have (kind/namespace/name), to assert none. */
export async function missingInCluster(kube: KubeClient, r: RenderResult): Promise<string[]> {
  const missing: string[] = [];
  for (const o of r.kubernetes) {
    const got = await kube.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name ?? "");
    if (!got) missing.push(`${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`);
  }
  return missing;
}

export function asKube(o: RenderResult["kubernetes"][number]): KubeObject {
  return o as unknown as KubeObject;
}
