/** Machine-readable reason of a registry/resolution failure. */
export type RegistryErrorCode =
    | "INVALID_URI" // a models:/ URI, tracking URI or s3:// URI that cannot be parsed
    | "INVALID_TARGET" // a served model with none or several of alias / version / storageUri
    | "ALIAS_NOT_FOUND"
    | "VERSION_NOT_FOUND"
    | "MODEL_NOT_FOUND"
    | "UNREACHABLE" // connection refused, DNS failure, timeout
    | "UNAUTHORIZED" // HTTP 401
    | "FORBIDDEN" // HTTP 403 other than the host check (missing permission)
    | "HOST_REJECTED" // HTTP 403 from MLflow's --allowed-hosts check
    | "SERVER_ERROR" // 429 / 5xx after the retries
    | "HTTP_ERROR" // any other non-2xx answer
    | "BAD_RESPONSE" // 2xx that is not the JSON MLflow sends
    | "NO_ARTIFACTS_DESTINATION" // mlflow-artifacts:/ without artifactsDestination
    | "NOT_S3"
    | "OUTSIDE_BUCKET"
    | "ARTIFACT_MISSING"
    | "ARTIFACT_CHECK_FAILED";

/** One-line error of the registry client, resolver or artifact check. */
export class RegistryError extends Error {
    readonly code: RegistryErrorCode;
    /** HTTP status when the registry answered. */
    readonly status?: number;

    constructor(code: RegistryErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
        super(oneLine(message), options?.cause === undefined ? undefined : { cause: options.cause });
        this.name = "RegistryError";
        this.code = code;
        if (options?.status !== undefined) this.status = options.status;
    }
}

export function isRegistryError(e: unknown, code?: RegistryErrorCode): e is RegistryError {
    return e instanceof RegistryError && (code === undefined || e.code === code);
}

/** Collapses whitespace so that a message (including server text) stays on one line. */
export function oneLine(text: string, max = 600): string {
    const s = text.replace(/\s+/g, " ").trim();
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
