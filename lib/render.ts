/**
 * The offline render: runs the program under Pulumi's mocks with a stack's configuration and returns every
 * resource, every Kubernetes object and the stack outputs, with secrets masked. What a reviewer without
 * cloud credentials reads, and what the diff, the policy run and the tests work on.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, parseRawValue, PlatformConfig } from "../config";
import { clusterChecks } from "./cluster-apis";
import { RecordingMocks, RecordedResource } from "./render-mocks";
import { loadStackConfig, SECRET_PLACEHOLDER, toRuntimeConfig } from "./stack-config";

export { SECRET_PLACEHOLDER } from "./stack-config";

export interface RenderedResource {
    readonly type: string;
    readonly name: string;
    readonly parent?: string;
    /** `pulumi:providers:<package>::<name>` of an explicit provider (a program composing the platform passes its own); undefined: the default one. */
    readonly provider?: string;
    /**
     * With `dependencies`: the `type::name` of every resource this one's registration waited for, as the SDK
     * sent them (its dependsOn and its inputs' resources; a component as itself; not its parent's).
     */
    readonly dependsOn?: readonly string[];
    readonly inputs: Record<string, unknown>;
    /**
     * Resource options that guard data or change what the engine diffs, present only when set: `protect`,
     * `retainOnDelete`, `ignoreChanges` (paths whose old value the engine keeps), and `aliasTypes`: the earlier
     * type tokens the resource (and so its children) is known by, so a rename moves state instead of replacing.
     */
    readonly options?: { readonly aliasTypes?: readonly string[]; readonly protect?: true; readonly retainOnDelete?: true; readonly ignoreChanges?: readonly string[] };
}

export interface KubernetesObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { name?: string; namespace?: string; [k: string]: unknown };
    readonly [k: string]: unknown;
}

export interface RenderResult {
    readonly stack: string;
    readonly config: PlatformConfig;
    readonly resources: RenderedResource[];
    readonly kubernetes: KubernetesObject[];
    readonly outputs: Record<string, unknown>;
}

export interface RenderOptions {
    /** Project root (with Pulumi.yaml and Pulumi.<stack>.yaml). */
    readonly root: string;
    readonly stack: string;
    /** `path=value` overrides, like `pulumi config set --path`. */
    readonly sets?: readonly string[];
    /** Overrides serving.registry.uri (and MLFLOW_TRACKING_URI) for this render. */
    readonly mlflowUri?: string;
    /** The program; defaults to the project's index. */
    readonly program?: () => Promise<Record<string, unknown> | void>;
    /**
     * `mask` (default): secret values read "[secret]" (every value of a Kubernetes Secret among them). `keep`:
     * resource inputs as the program registered them, each secret a Pulumi secret envelope with its value
     * (isSecretEnvelope): for a program that re-declares the same resources (the bench's static twin).
     * Outputs are masked either way.
     */
    readonly secrets?: "mask" | "keep";
    /** Each resource's `dependsOn`: what its registration waited for (for the bench's ordered twin). */
    readonly dependencies?: boolean;
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces Pulumi secret envelopes (as the mock monitor hands inputs over) with "[secret]". */
export function maskSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(maskSecrets);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SECRET_SIG_KEY] === SECRET_SIG) return SECRET_PLACEHOLDER;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) out[k] = maskSecrets(v);
        return out;
    }
    return value;
}

/** Whether `value` is a Pulumi secret envelope as the mock monitor hands inputs over (`{ <sig>: <secret sig>, value }`). */
export function isSecretEnvelope(value: unknown): value is { readonly value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** A Pulumi secret envelope's value; anything else as it is. */
function unwrapSecret(value: unknown): unknown {
    return isSecretEnvelope(value) ? value.value : value;
}

/**
 * Kubernetes Secrets: every data/stringData value is masked whatever the program marked, and the keys stay
 * visible. Runs on the raw inputs: the provider's SDK hands the whole data/stringData over as one secret,
 * which maskSecrets would turn into a bare "[secret]" without its keys.
 */
function maskKubernetesSecret(obj: Record<string, unknown>): Record<string, unknown> {
    if (obj.kind !== "Secret") return obj;
    const out = { ...obj };
    for (const field of ["data", "stringData"]) {
        const data = unwrapSecret(obj[field]);
        if (data === undefined || data === null) continue;
        out[field] = typeof data === "object" && !Array.isArray(data) ? Object.fromEntries(Object.keys(data).map((k) => [k, SECRET_PLACEHOLDER])) : SECRET_PLACEHOLDER;
    }
    return out;
}

/** Resolves program outputs, writing "[secret]" for secret Outputs. */
export async function unwrapOutputs(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        // Output's promise() and isSecret are internal but stable; the public apply() would lose secretness.
        const o = value as unknown as { isSecret: Promise<boolean>; promise(): Promise<unknown> };
        if (await o.isSecret) return SECRET_PLACEHOLDER;
        return unwrapOutputs(await o.promise());
    }
    if (value instanceof Promise) return unwrapOutputs(await value);
    if (Array.isArray(value)) return Promise.all(value.map(unwrapOutputs));
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = await unwrapOutputs(v);
        return out;
    }
    return value;
}

/** Waits until every registration the program started has been answered. */
async function settle(): Promise<void> {
    // Internal settings store: the same wait `pulumi.runtime.disconnect()` does, without closing the monitor.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { settings: { rpcDone: Promise<unknown> } } };
    let done: Promise<unknown> | undefined;
    while (done !== state.getStore().settings.rpcDone) {
        done = state.getStore().settings.rpcDone;
        await done;
    }
}

type RegisterRequest = {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider?(): string;
    getDependenciesList?(): string[];
    getProtect?(): boolean;
    getRetainondelete?(): boolean;
    getIgnorechangesList?(): string[];
    getAliasesList?(): { getSpec?(): { getType?(): string } | undefined }[];
};
type RegisterCallback = (err: unknown, resp?: { getUrn(): string }) => void;

/** Sorts Kubernetes objects by kind, namespace, name. */
export function sortKubernetes(objects: KubernetesObject[]): KubernetesObject[] {
    const key = (o: KubernetesObject) => [o.kind, o.metadata?.namespace ?? "", o.metadata?.name ?? ""];
    return [...objects].sort((a, b) => {
        const [ka, kb] = [key(a), key(b)];
        for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
        return 0;
    });
}

let renderQueue: Promise<unknown> = Promise.resolve();

/**
 * Renders one stack. Throws ConfigError for invalid config and whatever the program throws (a registry
 * lookup's RegistryError among them). Renders are serialized: Pulumi's runtime state is process-global.
 */
export function renderStack(opts: RenderOptions): Promise<RenderResult> {
    const run = renderQueue.then(() => renderOnce(opts));
    renderQueue = run.catch(() => undefined);
    return run;
}

async function renderOnce(opts: RenderOptions): Promise<RenderResult> {
    const sets = [...(opts.sets ?? [])];
    if (opts.mlflowUri) sets.push(`serving.registry.uri=${opts.mlflowUri}`);
    const stackConfig = loadStackConfig(opts.root, opts.stack, sets);
    const project = stackConfig.project;

    // Validate first, so a bad key is a clean ConfigError before any resource is registered.
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(toRuntimeConfig(stackConfig))) {
        if (k.startsWith(`${project}:`)) raw[k.slice(project.length + 1)] = parseRawValue(v);
    }
    const config = parseConfig(raw, opts.stack);
    const region = typeof stackConfig.values["aws:region"] === "string" ? (stackConfig.values["aws:region"] as string) : undefined;

    const mocks = new RecordingMocks(region);
    await pulumi.runtime.setMocks(mocks, project, opts.stack, false);
    pulumi.runtime.setAllConfig(toRuntimeConfig(stackConfig), [...stackConfig.secretKeys]);

    // Record each registration's parent: the mock's newResource is not told it.
    const parents = new Map<string, string>();
    const providers = new Map<string, string>();
    const guards = new Map<string, NonNullable<RenderedResource["options"]>>();
    const urns = new Map<string, string>();
    const dependencies = new Map<string, string[]>();
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: RegisterCallback): void };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        const id = `${req.getType()}::${req.getName()}`;
        if (req.getParent()) parents.set(id, req.getParent());
        // A provider reference is `<urn>::<id>` (the URN's type is prefixed by its parents' types, `a$b$type`); the
        // default providers' names start with "default".
        const [, , providerType, providerName] = (req.getProvider?.() ?? "").split("::");
        if (providerType && providerName && !providerName.startsWith("default")) providers.set(id, `${providerType.split("$").pop()}::${providerName}`);
        const ignoreChanges = req.getIgnorechangesList?.() ?? [];
        // The project's own aliases (provider SDKs add theirs to every resource of a renamed type).
        const aliasTypes = req.getType().startsWith("mlflow-platform:") ? (req.getAliasesList?.() ?? []).map((a) => a.getSpec?.()?.getType?.() ?? "").filter((t) => t !== "") : [];
        const guard = {
            ...(aliasTypes.length > 0 ? { aliasTypes } : {}),
            ...(req.getProtect?.() ? { protect: true as const } : {}),
            ...(req.getRetainondelete?.() ? { retainOnDelete: true as const } : {}),
            ...(ignoreChanges.length > 0 ? { ignoreChanges } : {}),
        };
        if (Object.keys(guard).length > 0) guards.set(id, guard);
        if (opts.dependencies) dependencies.set(id, req.getDependenciesList?.() ?? []);
        register(req, (err, resp) => {
            if (resp) urns.set(resp.getUrn(), id);
            cb(err, resp);
        });
    };

    const previousUri = process.env.MLFLOW_TRACKING_URI;
    if (opts.mlflowUri) process.env.MLFLOW_TRACKING_URI = opts.mlflowUri;
    let programOutputs: unknown;
    // No cluster offline: the KServe pre-flight check is the engine's (and the engine tests').
    const checks = clusterChecks.enabled;
    clusterChecks.enabled = false;
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = opts.program ?? (require("../index") as () => Promise<Record<string, unknown>>);
        await pulumi.runtime.runInPulumiStack(async () => {
            programOutputs = await program();
            return undefined;
        });
        await settle();
    } finally {
        clusterChecks.enabled = checks;
        if (opts.mlflowUri) {
            if (previousUri === undefined) delete process.env.MLFLOW_TRACKING_URI;
            else process.env.MLFLOW_TRACKING_URI = previousUri;
        }
    }

    const resources: RenderedResource[] = mocks.resources
        .filter((r: RecordedResource) => r.type !== "pulumi:pulumi:Stack")
        .map((r) => {
            const parentUrn = parents.get(`${r.type}::${r.name}`);
            const parent = parentUrn ? urns.get(parentUrn) : undefined;
            const keep = opts.secrets === "keep";
            const raw = r.type.startsWith("kubernetes:") && !keep ? maskKubernetesSecret(r.inputs) : r.inputs;
            const inputs = keep ? raw : (maskSecrets(raw) as Record<string, unknown>);
            const options = guards.get(`${r.type}::${r.name}`);
            const provider = providers.get(`${r.type}::${r.name}`);
            const deps = dependencies.get(`${r.type}::${r.name}`);
            const dependsOn = deps ? [...new Set(deps.map((u) => urns.get(u)).filter((d): d is string => d !== undefined))] : undefined;
            return {
                type: r.type,
                name: r.name,
                ...(parent && !parent.startsWith("pulumi:pulumi:Stack") ? { parent } : {}),
                ...(provider ? { provider } : {}),
                ...(dependsOn ? { dependsOn } : {}),
                inputs,
                ...(options ? { options } : {}),
            };
        });
    const kubernetes = sortKubernetes(
        resources
            .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm") && typeof r.inputs.kind === "string")
            .map((r) => r.inputs as KubernetesObject),
    );
    const outputs = ((await unwrapOutputs(programOutputs ?? {})) ?? {}) as Record<string, unknown>;
    return { stack: opts.stack, config, resources, kubernetes, outputs };
}
