/**
 * What `pulumi up` waits for once it has applied the InferenceServices: each served model version loaded by
 * KServe (its storage initializer done, the predictor rolled out to the new version and ready), or KServe's
 * reason it is not, reported at once and naming the model, instead of an up that succeeds while the old version
 * keeps serving, or one that waits out a timeout.
 *
 * The decision is a plain function over what the API server holds (the InferenceService, the predictor
 * Deployment, its pods); the loop around it only reads. Only the pods of the wanted storage URI count (KServe's
 * own `modelStatus` looks at the newest pod, which for a moment after an update is still the old version's).
 */
import { kubeGet, type KubeConnection } from "./kube-api";

/** KServe's annotation on the predictor's pod template: the URI its storage initializer downloads. */
export const SOURCE_URI_ANNOTATION = "internal.serving.kserve.io/storage-initializer-sourceuri";
/** The label KServe puts on every pod of an InferenceService. */
export const ISVC_POD_LABEL = "serving.kserve.io/inferenceservice";
const INITIALIZER = "storage-initializer";
const RUNTIME_CONTAINER = "kserve-container";
/** Waiting reasons that do not resolve by waiting. */
const STUCK = new Set(["CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

type Obj = Record<string, unknown>;
interface ContainerStatus {
    name: string;
    state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode?: number; reason?: string; message?: string } };
    lastState?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
}
interface Condition { type: string; status: string; reason?: string; message?: string }

/** What the API server holds for one served model. */
export interface PredictorObservation {
    readonly isvc?: Obj;
    /** The predictor Deployment (Standard mode: `<name>-predictor`). */
    readonly deployment?: Obj;
    /** The InferenceService's pods (label serving.kserve.io/inferenceservice=<name>). */
    readonly pods: readonly Obj[];
}

export type Readiness = { readonly state: "ready" } | { readonly state: "failed"; readonly reason: string } | { readonly state: "pending"; readonly waitingFor: string };

const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Obj)[k] : undefined), o);
const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const oneLine = (s: string | undefined, max = 600) => (s ?? "").replace(/\s+/g, " ").trim().slice(-max);

/** Why a pod of the wanted version will not load it, if it will not. */
function podFailure(pod: Obj): string | undefined {
    const name = String(get(pod, "metadata", "name") ?? "");
    const statuses = (key: string) => (get(pod, "status", key) as ContainerStatus[] | undefined) ?? [];
    for (const cs of [...statuses("initContainerStatuses"), ...statuses("containerStatuses")]) {
        if (cs.name !== INITIALIZER && cs.name !== RUNTIME_CONTAINER) continue;
        const what = cs.name === INITIALIZER ? "the storage initializer" : "the serving runtime";
        const t = cs.state?.terminated;
        if (t && num(t.exitCode) !== 0) return `${what} of pod ${name} exited with ${num(t.exitCode)}${t.message ? `: ${oneLine(t.message)}` : ""}`;
        const w = cs.state?.waiting;
        if (w?.reason && STUCK.has(w.reason)) {
            const last = cs.lastState?.terminated;
            const detail = last ? ` (last exit ${num(last.exitCode)}${last.message ? `: ${oneLine(last.message)}` : ""})` : w.message ? ` (${oneLine(w.message)})` : "";
            return `${what} of pod ${name} is in ${w.reason}${detail}`;
        }
    }
    return undefined;
}

/** The InferenceService's condition `type`. */
function condition(isvc: Obj | undefined, type: string): Condition | undefined {
    return ((get(isvc, "status", "conditions") as Condition[] | undefined) ?? []).find((c) => c.type === type);
}

/**
 * Whether the model version at `storageUri` is loaded. Standard mode: the predictor Deployment runs the template
 * of that URI, fully rolled out and available, and KServe calls the InferenceService Ready; failed as soon as a
 * pod of that URI cannot load it (KServe's lastFailureInfo is quoted when it has one). Knative mode: KServe's
 * Ready with the latest revision ready, failed on KServe's FailedToLoad.
 */
export function predictorReadiness(obs: PredictorObservation, want: { storageUri: string; mode: "Standard" | "Knative" }): Readiness {
    const { isvc, deployment } = obs;
    if (!isvc) return { state: "pending", waitingFor: "the InferenceService" };
    const kserveFailure = get(isvc, "status", "modelStatus", "lastFailureInfo", "message") as string | undefined;
    const failedToLoad = get(isvc, "status", "modelStatus", "states", "targetModelState") === "FailedToLoad";
    const ready = condition(isvc, "Ready");
    if (want.mode === "Knative") {
        if (failedToLoad) return { state: "failed", reason: `KServe reports FailedToLoad: ${oneLine(kserveFailure) || "no reason given"}` };
        const created = get(isvc, "status", "components", "predictor", "latestCreatedRevision");
        const readyRev = get(isvc, "status", "components", "predictor", "latestReadyRevision");
        if (ready?.status === "True" && created !== undefined && created === readyRev) return { state: "ready" };
        return { state: "pending", waitingFor: `KServe's Ready (${ready ? `${ready.status}${ready.reason ? `: ${ready.reason}` : ""}` : "not set yet"})` };
    }
    const ofVersion = obs.pods.filter((p) => (get(p, "metadata", "annotations") as Record<string, string> | undefined)?.[SOURCE_URI_ANNOTATION] === want.storageUri);
    for (const pod of ofVersion) {
        const why = podFailure(pod);
        if (why) return { state: "failed", reason: kserveFailure && failedToLoad ? `${why}; KServe: ${oneLine(kserveFailure)}` : why };
    }
    if (!deployment) return { state: "pending", waitingFor: "KServe to create the predictor Deployment" };
    const template = get(deployment, "spec", "template", "metadata", "annotations") as Record<string, string> | undefined;
    if (template?.[SOURCE_URI_ANNOTATION] !== want.storageUri)
        return { state: "pending", waitingFor: `KServe to roll the predictor to ${want.storageUri} (it runs ${template?.[SOURCE_URI_ANNOTATION] ?? "no storage URI"})` };
    const replicas = num(get(deployment, "spec", "replicas"));
    const s = (k: string) => num(get(deployment, "status", k));
    if (s("observedGeneration") < num(get(deployment, "metadata", "generation"))) return { state: "pending", waitingFor: "the Deployment controller to see the new template" };
    if (s("updatedReplicas") < replicas || s("replicas") > replicas || s("availableReplicas") < replicas)
        return { state: "pending", waitingFor: `the rollout: ${s("updatedReplicas")} of ${replicas} pods updated, ${s("availableReplicas")} available, ${s("replicas")} in all` };
    if (ready?.status !== "True") return { state: "pending", waitingFor: `KServe's Ready (${ready ? `${ready.status}${ready.reason ? `: ${ready.reason}` : ""}` : "not set yet"})` };
    return { state: "ready" };
}

/** One served model to wait for. */
export interface ServedPredictor {
    readonly name: string;
    readonly namespace: string;
    /** The storage URI the InferenceService was given. */
    readonly storageUri: string;
    readonly mode: "Standard" | "Knative";
    /** How the error names it, e.g. `served model "ch" (CaliforniaHousingRegressor alias "production" → version 7)`. */
    readonly label: string;
}

/** What the API server holds for one model (three GETs). */
export async function observePredictor(conn: KubeConnection, m: ServedPredictor): Promise<PredictorObservation> {
    const ns = encodeURIComponent(m.namespace);
    const json = async (p: string): Promise<Obj | undefined> => {
        const r = await kubeGet(conn, p);
        if (r.status === 404) return undefined;
        if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 200)}`);
        return JSON.parse(r.body) as Obj;
    };
    const [isvc, deployment, pods] = await Promise.all([
        json(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices/${encodeURIComponent(m.name)}`),
        m.mode === "Standard" ? json(`/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(`${m.name}-predictor`)}`) : Promise.resolve(undefined),
        json(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`${ISVC_POD_LABEL}=${m.name}`)}`),
    ]);
    return { isvc, deployment, pods: ((pods?.items as Obj[] | undefined) ?? []) };
}

/**
 * Waits until every model is loaded; throws at the first failure, or after `timeoutMs`, naming the model, its
 * URI and KServe's reason (or what it still waits for), and how to go back.
 */
export async function awaitServedModels(
    conn: KubeConnection,
    models: readonly ServedPredictor[],
    opts: { timeoutMs: number; pollMs?: number; observe?: (m: ServedPredictor) => Promise<PredictorObservation>; log?: (line: string) => void },
): Promise<void> {
    const observe = opts.observe ?? ((m: ServedPredictor) => observePredictor(conn, m));
    const deadline = Date.now() + opts.timeoutMs;
    const pending = new Map(models.map((m) => [m.name, m]));
    const last = new Map<string, string>();
    for (;;) {
        for (const m of [...pending.values()]) {
            let r: Readiness;
            try {
                r = predictorReadiness(await observe(m), m);
            } catch (e) {
                r = { state: "pending", waitingFor: `the API server (${e instanceof Error ? e.message : String(e)})` };
            }
            if (r.state === "ready") {
                pending.delete(m.name);
                opts.log?.(`${m.label} is loaded from ${m.storageUri}`);
            } else if (r.state === "failed") {
                throw new Error(
                    `${m.label}: KServe could not load ${m.storageUri}: ${r.reason}. The InferenceService ${m.namespace}/${m.name} was applied; ` +
                        `the previous version keeps serving while its pods run. Fix the model, or point serving.models back at a version that loads (e.g. move the alias back), and run pulumi up again.`,
                );
            } else {
                last.set(m.name, r.waitingFor);
            }
        }
        if (pending.size === 0) return;
        if (Date.now() > deadline) {
            const waiting = [...pending.values()].map((m) => `${m.label} (${m.storageUri}): still waiting for ${last.get(m.name) ?? "a first answer"}`);
            throw new Error(`served models not loaded after ${Math.round(opts.timeoutMs / 1000)} s (serving.readyTimeoutSeconds): ${waiting.join("; ")}`);
        }
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
    }
}
