import { RegistryError, oneLine } from "./errors";
import { describeLookup, type LookupContext } from "./uri";

/** Credentials for the tracking server. Basic auth (username + password) wins over a token, as in MLflow. */
export interface RegistryAuth {
    username?: string;
    password?: string;
    token?: string;
}

export interface RegistryClientOptions {
    /** http(s)://host[:port][/static-prefix] of the tracking server. */
    trackingUri: string;
    auth?: RegistryAuth;
    /** Per attempt, including reading the body. Default 10000. */
    timeoutMs?: number;
    /** Extra attempts after connection errors, timeouts, 429 and 5xx. Default 3. */
    retries?: number;
    /** First backoff delay; doubles per retry. Default 250. */
    backoffMs?: number;
    fetchImpl?: typeof fetch;
}

/** A model version as MLflow's REST API returns it; unset fields are omitted by MLflow. */
export interface ModelVersion {
    name: string;
    version: string;
    creation_timestamp?: number;
    last_updated_timestamp?: number;
    user_id?: string;
    current_stage?: string;
    description?: string;
    /** In MLflow 3: `models:/m-<id>` (a logged model), not a storage path. */
    source?: string;
    run_id?: string;
    status?: string;
    status_message?: string;
    tags?: Array<{ key: string; value?: string }>;
    run_link?: string;
    aliases?: string[];
    model_id?: string;
}

/** One metric of a run as MLflow's REST API returns it (the latest value of the key). NaN/Infinity arrive as strings. */
export interface RunMetric {
    key: string;
    value: number | string;
    timestamp?: number;
    step?: number;
}

/** A run as runs/get returns it; only the parts the platform reads are typed. */
export interface Run {
    info?: { run_id?: string; experiment_id?: string; status?: string; lifecycle_stage?: string };
    data?: {
        metrics?: RunMetric[];
        params?: Array<{ key: string; value?: string }>;
        tags?: Array<{ key: string; value?: string }>;
    };
}

/** runs/get answered 404 RESOURCE_DOES_NOT_EXIST: the run of a model version is gone (code HTTP_ERROR, status 404). */
export class RunNotFoundError extends RegistryError {
    constructor(message: string) {
        super("HTTP_ERROR", message, { status: 404 });
        this.name = "RunNotFoundError";
    }
}

/** Context of one call, for error messages: the lookup, the operation, and the run when it is a runs/ call. */
type CallContext = LookupContext & { op?: string; runId?: string };

/** MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD / MLFLOW_TRACKING_TOKEN, each falling back to `fallback`. */
export function authFromEnv(env: NodeJS.ProcessEnv = process.env, fallback: RegistryAuth = {}): RegistryAuth {
    const pick = (v: string | undefined, f: string | undefined): string | undefined => (v ? v : f ? f : undefined);
    const auth: RegistryAuth = {};
    const username = pick(env.MLFLOW_TRACKING_USERNAME, fallback.username);
    const password = pick(env.MLFLOW_TRACKING_PASSWORD, fallback.password);
    const token = pick(env.MLFLOW_TRACKING_TOKEN, fallback.token);
    if (username !== undefined) auth.username = username;
    if (password !== undefined) auth.password = password;
    if (token !== undefined) auth.token = token;
    return auth;
}

/** The Authorization header MLflow's own client would send: basic when username and password are both set. */
export function authorizationHeader(auth: RegistryAuth | undefined): string | undefined {
    if (auth?.username && auth.password) {
        return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`;
    }
    if (auth?.token) return `Bearer ${auth.token}`;
    return undefined;
}

const PORT_FORWARD_HINT = "kubectl port-forward svc/mlflow -n mlflow 5000:5000 and use http://localhost:5000";

type Attempt =
    | { kind: "response"; status: number; body: string; retryAfter: string | null }
    | { kind: "network"; reason: string; timedOut: boolean; cause: unknown };

interface MlflowErrorBody {
    error_code?: string;
    message?: string;
}

/** Minimal MLflow model-registry REST client (no SDK; Node's global fetch). */
export class MlflowRegistryClient {
    /** Base URL without a trailing slash. */
    readonly trackingUri: string;
    /** `scheme://host:port[/prefix]`, always with the port: used in every error message. */
    readonly registry: string;
    /** `host:port` the client connects to. */
    readonly hostPort: string;
    private readonly hostHeader: string;
    private readonly auth: RegistryAuth;
    private readonly timeoutMs: number;
    private readonly retries: number;
    private readonly backoffMs: number;
    private readonly fetchImpl: typeof fetch;

    constructor(opts: RegistryClientOptions) {
        let url: URL;
        try {
            url = new URL(opts.trackingUri.trim());
        } catch {
            throw new RegistryError("INVALID_URI", `Invalid MLflow tracking URI "${opts.trackingUri}": expected http(s)://host:port`);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") {
            throw new RegistryError(
                "INVALID_URI",
                `Invalid MLflow tracking URI "${opts.trackingUri}": only http:// and https:// tracking servers are supported`,
            );
        }
        if (url.username || url.password) {
            throw new RegistryError(
                "INVALID_URI",
                `Invalid MLflow tracking URI: credentials in the URI are not supported; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`,
            );
        }
        const port = url.port || (url.protocol === "https:" ? "443" : "80");
        const prefix = url.pathname.replace(/\/+$/, "");
        this.hostPort = `${url.hostname}:${port}`;
        this.hostHeader = url.host;
        this.registry = `${url.protocol}//${this.hostPort}${prefix}`;
        this.trackingUri = `${url.origin}${prefix}`;
        this.auth = opts.auth ?? {};
        this.timeoutMs = positive(opts.timeoutMs, 10_000, "timeoutMs");
        this.retries = nonNegativeInt(opts.retries, 3, "retries");
        this.backoffMs = nonNegativeInt(opts.backoffMs, 250, "backoffMs");
        this.fetchImpl = opts.fetchImpl ?? fetch;
    }

    /** GET registered-models/alias: the version an alias points to (ALIAS_NOT_FOUND when unset). */
    async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
        const res = await this.call<{ model_version?: ModelVersion }>(
            "GET",
            "/api/2.0/mlflow/registered-models/alias",
            { name, alias },
            { name, alias },
        );
        return this.modelVersionOf(res, { name, alias });
    }

    /** GET model-versions/get. */
    async getModelVersion(name: string, version: string): Promise<ModelVersion> {
        const res = await this.call<{ model_version?: ModelVersion }>(
            "GET",
            "/api/2.0/mlflow/model-versions/get",
            { name, version },
            { name, version },
        );
        return this.modelVersionOf(res, { name, version });
    }

    /** GET model-versions/get-download-uri → `artifact_uri` (the storage location, also in MLflow 3). */
    async getDownloadUri(name: string, version: string, ctx: LookupContext = { name, version }): Promise<string> {
        const res = await this.call<{ artifact_uri?: string }>(
            "GET",
            "/api/2.0/mlflow/model-versions/get-download-uri",
            { name, version },
            ctx,
        );
        if (typeof res.artifact_uri !== "string" || res.artifact_uri === "") {
            throw new RegistryError(
                "BAD_RESPONSE",
                `${this.who(ctx)}: MLflow returned no artifact_uri for the download URI; the version has no stored artifacts`,
            );
        }
        return res.artifact_uri;
    }

    /** POST registered-models/alias: points `alias` at `version`. */
    async setAlias(name: string, alias: string, version: string): Promise<void> {
        await this.call<unknown>("POST", "/api/2.0/mlflow/registered-models/alias", { name, alias, version }, {
            name,
            alias,
            version,
            op: "setting",
        });
    }

    /** GET runs/get: the run of a model version (its metrics are the latest value per key). */
    async getRun(runId: string, ctx: LookupContext = {}): Promise<Run> {
        const res = await this.call<{ run?: Run }>("GET", "/api/2.0/mlflow/runs/get", { run_id: runId }, { ...ctx, runId, op: "reading the run of" });
        if (!res.run || typeof res.run !== "object") {
            throw new RegistryError("BAD_RESPONSE", `${this.who(ctx)}: MLflow answered runs/get for run ${runId} without a run`);
        }
        return res.run;
    }

    /** POST model-versions/set-tag: sets one tag on a model version. */
    async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
        await this.call<unknown>("POST", "/api/2.0/mlflow/model-versions/set-tag", { name, version, key, value }, {
            name,
            version,
            op: `tagging (${key})`,
        });
    }

    private who(ctx: CallContext): string {
        return describeLookup({ ...ctx, registry: this.registry });
    }

    private modelVersionOf(res: { model_version?: ModelVersion }, ctx: LookupContext): ModelVersion {
        const mv = res.model_version;
        if (!mv || typeof mv.version !== "string" || typeof mv.name !== "string") {
            throw new RegistryError("BAD_RESPONSE", `${this.who(ctx)}: MLflow answered without a model_version (name, version)`);
        }
        return mv;
    }

    private async call<T>(
        method: "GET" | "POST",
        path: string,
        params: Record<string, string>,
        ctx: CallContext,
    ): Promise<T> {
        const url = new URL(this.trackingUri + path);
        const headers: Record<string, string> = { Accept: "application/json" };
        const authz = authorizationHeader(this.auth);
        if (authz) headers.Authorization = authz;
        let body: string | undefined;
        if (method === "GET") {
            for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
        } else {
            headers["Content-Type"] = "application/json";
            body = JSON.stringify(params);
        }

        let attempts = 0;
        for (;;) {
            attempts++;
            const attempt = await this.once(url, method, headers, body);
            const retryable = attempt.kind === "network" || attempt.status === 429 || attempt.status >= 500;
            if (retryable && attempts <= this.retries) {
                await sleep(this.delay(attempts, attempt.kind === "response" ? attempt.retryAfter : null));
                continue;
            }
            if (attempt.kind === "network") throw this.unreachable(attempt, attempts, ctx);
            if (attempt.status >= 200 && attempt.status < 300) {
                try {
                    return (attempt.body.trim() === "" ? {} : JSON.parse(attempt.body)) as T;
                } catch (e) {
                    throw new RegistryError(
                        "BAD_RESPONSE",
                        `${this.who(ctx)}: ${url.pathname} answered HTTP ${attempt.status} with non-JSON "${snippet(attempt.body)}"; ` +
                            `check that the tracking URI points at the MLflow server itself`,
                        { status: attempt.status, cause: e },
                    );
                }
            }
            throw this.translate(attempt.status, attempt.body, attempts, url, ctx);
        }
    }

    private async once(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<Attempt> {
        const ac = new AbortController();
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            ac.abort();
        }, this.timeoutMs);
        try {
            const init: RequestInit = { method, headers, signal: ac.signal, redirect: "follow" };
            if (body !== undefined) init.body = body;
            const res = await this.fetchImpl(url, init);
            const text = await res.text();
            return { kind: "response", status: res.status, body: text, retryAfter: res.headers.get("retry-after") };
        } catch (e) {
            const reason = timedOut ? `timed out after ${this.timeoutMs} ms` : networkReason(e, this.hostPort);
            return { kind: "network", reason, timedOut, cause: e };
        } finally {
            clearTimeout(timer);
        }
    }

    private delay(attempt: number, retryAfter: string | null): number {
        const exp = Math.min(this.backoffMs * 2 ** (attempt - 1), 30_000);
        const ra = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
        return Math.max(exp, Math.min(ra, 30_000));
    }

    private unreachable(a: Extract<Attempt, { kind: "network" }>, attempts: number, ctx: CallContext) {
        return new RegistryError(
            "UNREACHABLE",
            `MLflow registry ${this.hostPort} is unreachable (${a.reason}; ${attempts} attempt${attempts > 1 ? "s" : ""}) while ` +
                `${ctx.op ?? "looking up"} ${this.who(ctx)}: check the tracking URI (MLFLOW_TRACKING_URI / serving.registry.uri), ` +
                `or open a tunnel: ${PORT_FORWARD_HINT}`,
            { cause: a.cause },
        );
    }

    private translate(status: number, text: string, attempts: number, url: URL, ctx: CallContext): RegistryError {
        const who = this.who(ctx);
        const err = parseErrorBody(text);
        const detail = err?.message ? `${err.error_code ?? "error"}: ${snippet(err.message)}` : snippet(text);
        const http = `HTTP ${status}${detail ? ` ${detail}` : ""}`;

        if (status === 400 && err?.error_code === "INVALID_PARAMETER_VALUE" && /alias .* not found/i.test(err.message ?? "")) {
            return new RegistryError(
                "ALIAS_NOT_FOUND",
                `Alias "${ctx.alias}" not found on registered model "${ctx.name}" at ${this.registry} (${http}); fix the alias ` +
                    `(serving.models[].alias) or point it at a version: npm run promote -- --model ${ctx.name} --version <n> --alias ${ctx.alias}`,
                { status },
            );
        }
        if (status === 404 && err?.error_code === "RESOURCE_DOES_NOT_EXIST" && ctx.runId !== undefined) {
            // a missing run: RunNotFoundError (the promote CLI reads it as "no metric")
            return new RunNotFoundError(`Run ${ctx.runId} of ${who} not found at ${this.registry} (${http}); the run was deleted`);
        }
        if (status === 404 && err?.error_code === "RESOURCE_DOES_NOT_EXIST") {
            if (/registered model/i.test(err.message ?? "") || ctx.version === undefined) {
                return new RegistryError(
                    "MODEL_NOT_FOUND",
                    `Registered model "${ctx.name}" not found at ${this.registry} (${http}) while ${ctx.op ?? "looking up"} ${who}; ` +
                        `check serving.models[].registeredModel against the MLflow UI's model list`,
                    { status },
                );
            }
            return new RegistryError(
                "VERSION_NOT_FOUND",
                `Version ${ctx.version} of registered model "${ctx.name}" not found at ${this.registry} (${http}); ` +
                    `pin an existing version (see the model's versions in the MLflow UI)`,
                { status },
            );
        }
        if (status === 401) {
            const a = this.auth;
            const fix =
                a.username && a.password
                    ? `the registry rejected user "${a.username}": check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password)`
                    : a.token
                        ? `the registry rejected the bearer token: check MLFLOW_TRACKING_TOKEN, or use MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`
                        : a.username || a.password
                            ? `only one of username/password is set: set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password)`
                            : `no credentials were sent: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password, or MLFLOW_TRACKING_TOKEN)`;
            return new RegistryError("UNAUTHORIZED", `${who}: authentication failed (HTTP 401); ${fix}`, { status });
        }
        if (status === 403 && /invalid host header/i.test(text)) {
            return new RegistryError(
                "HOST_REJECTED",
                `${who}: the tracking server rejected the Host header "${this.hostHeader}" (HTTP 403 ${snippet(text)}); ` +
                    `add "${this.hostHeader}" to the tracking server's --allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS)`,
                { status },
            );
        }
        if (status === 403) {
            const user = this.auth.username && this.auth.password ? `user "${this.auth.username}"` : "this identity";
            return new RegistryError(
                "FORBIDDEN",
                `${who}: ${user} is not allowed to do this (${http}); grant READ on the registered model ` +
                    `(EDIT or MANAGE to set aliases) in MLflow's permissions`,
                { status },
            );
        }
        if (status === 429 || status >= 500) {
            return new RegistryError(
                "SERVER_ERROR",
                `${who}: the tracking server failed (${http}) after ${attempts} attempt${attempts > 1 ? "s" : ""}; check the MLflow server's logs and its database`,
                { status },
            );
        }
        if (status === 404) {
            return new RegistryError(
                "HTTP_ERROR",
                `${who}: no MLflow REST API at ${url.pathname} (${http}); check the tracking URI, including the server's --static-prefix`,
                { status },
            );
        }
        return new RegistryError("HTTP_ERROR", `${who}: the tracking server answered ${http}`, { status });
    }
}

function parseErrorBody(text: string): MlflowErrorBody | undefined {
    try {
        const v: unknown = JSON.parse(text);
        if (v && typeof v === "object" && ("error_code" in v || "message" in v)) return v as MlflowErrorBody;
    } catch {
        // plain-text body (401 from basic auth, 403 from the host check, proxies)
    }
    return undefined;
}

function snippet(text: string): string {
    return oneLine(text, 200);
}

/** Reason of a failed fetch: undici wraps the socket error in `cause` (sometimes an AggregateError). */
function networkReason(e: unknown, hostPort: string): string {
    const cause = (e as { cause?: unknown })?.cause ?? e;
    const inner = (cause as { errors?: unknown[] })?.errors?.[0] ?? cause;
    const code = (inner as { code?: string })?.code ?? (cause as { code?: string })?.code;
    switch (code) {
        case "ECONNREFUSED":
            return `connection refused by ${hostPort}`;
        case "ENOTFOUND":
        case "EAI_AGAIN":
            return `cannot resolve host ${hostPort.replace(/:\d+$/, "")} (${code})`;
        case "ECONNRESET":
        case "UND_ERR_SOCKET":
            return `connection to ${hostPort} reset`;
        case "ETIMEDOUT":
        case "UND_ERR_CONNECT_TIMEOUT":
            return `connecting to ${hostPort} timed out`;
        default: {
            const msg = (inner as { message?: string })?.message ?? String(e);
            return code ? `${code}: ${oneLine(msg, 150)}` : oneLine(msg, 150);
        }
    }
}

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

function positive(v: number | undefined, dflt: number, key: string): number {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${key} must be a positive number, got ${v}`);
    return v;
}

function nonNegativeInt(v: number | undefined, dflt: number, key: string): number {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${key} must be a non-negative integer, got ${v}`);
    return v;
}
