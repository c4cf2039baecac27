import { RegistryError } from "./errors";

/** What a served model points at: an alias, a pinned version, or a pinned storage location. */
export type ModelRef =
    | { kind: "alias"; name: string; alias: string }
    | { kind: "version"; name: string; version: string }
    | { kind: "storageUri"; uri: string };

/** Who is being resolved, for error messages. */
export interface LookupContext {
    name?: string;
    alias?: string;
    version?: string;
    /** Registry URI as `scheme://host:port[/prefix]`. */
    registry?: string;
}

/** `model "X" alias "production" → version 2 (registry http://host:5000)`; parts that are unknown are left out. */
export function describeLookup(ctx: LookupContext): string {
    const parts: string[] = [];
    if (ctx.name !== undefined) parts.push(`model "${ctx.name}"`);
    if (ctx.alias !== undefined) parts.push(`alias "${ctx.alias}"`);
    if (ctx.version !== undefined) parts.push(ctx.alias !== undefined ? `→ version ${ctx.version}` : `version ${ctx.version}`);
    if (ctx.registry !== undefined) parts.push(`(registry ${ctx.registry})`);
    return parts.join(" ");
}

const MODEL_URI_FORMS = "expected models:/<name>@<alias>, models:/<name>/<version> or s3://<bucket>/<path>";

/**
 * Parses `models:/<name>@<alias>`, `models:/<name>/<version>` (version: a positive integer) or a pinned
 * `s3://` storage URI. Anything else (stages, `latest`, `models:/m-<id>`, `runs:/`, …) is an INVALID_URI error.
 */
export function parseModelUri(uri: string): ModelRef {
    const raw = uri.trim();
    if (raw.startsWith("s3://")) {
        parseS3Uri(raw); // validates
        return { kind: "storageUri", uri: stripTrailingSlash(raw) };
    }
    if (!raw.startsWith("models:/") || raw.startsWith("models://")) {
        throw new RegistryError("INVALID_URI", `Invalid model URI "${uri}": ${MODEL_URI_FORMS}`);
    }
    const path = raw.slice("models:/".length);
    const slash = path.indexOf("/");
    if (slash >= 0) {
        const name = path.slice(0, slash);
        const version = path.slice(slash + 1);
        checkName(uri, name);
        if (!/^[1-9]\d*$/.test(version)) {
            throw new RegistryError(
                "INVALID_URI",
                `Invalid model URI "${uri}": version "${version}" is not a positive integer (stages and "latest" are not ` +
                    `supported; use models:/${name}@<alias>); ${MODEL_URI_FORMS}`,
            );
        }
        return { kind: "version", name, version };
    }
    const at = path.lastIndexOf("@");
    if (at < 0) {
        throw new RegistryError(
            "INVALID_URI",
            `Invalid model URI "${uri}": no alias or version (a models:/<id> logged-model URI cannot be served); ${MODEL_URI_FORMS}`,
        );
    }
    const name = path.slice(0, at);
    const alias = path.slice(at + 1);
    checkName(uri, name);
    if (!/^[\w-]+$/.test(alias)) {
        throw new RegistryError(
            "INVALID_URI",
            `Invalid model URI "${uri}": alias "${alias}" may only contain letters, digits, "_" and "-"; ${MODEL_URI_FORMS}`,
        );
    }
    return { kind: "alias", name, alias };
}

function checkName(uri: string, name: string): void {
    if (name.trim() === "" || name.includes(":")) {
        throw new RegistryError("INVALID_URI", `Invalid model URI "${uri}": bad registered model name "${name}"; ${MODEL_URI_FORMS}`);
    }
}

/** Formats a ModelRef back into its URI. */
export function formatModelRef(ref: ModelRef): string {
    switch (ref.kind) {
        case "alias":
            return `models:/${ref.name}@${ref.alias}`;
        case "version":
            return `models:/${ref.name}/${ref.version}`;
        case "storageUri":
            return ref.uri;
    }
}

export interface S3Location {
    bucket: string;
    /** Object key prefix without leading or trailing slash ("" for the bucket root). */
    key: string;
}

/** Splits `s3://bucket/key` (throws INVALID_URI when the bucket name is missing or malformed). */
export function parseS3Uri(uri: string): S3Location {
    const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(uri);
    const bucket = m?.[1] ?? "";
    if (!m || !/^[a-z0-9][a-z0-9.\-_]{1,62}$/i.test(bucket)) {
        throw new RegistryError("INVALID_URI", `Invalid S3 URI "${uri}": expected s3://<bucket>/<path> with a valid bucket name (3-63 of a-z 0-9 . -)`);
    }
    return { bucket, key: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

export function stripTrailingSlash(uri: string): string {
    if (/^[a-z][a-z0-9+.-]*:\/*$/i.test(uri)) return uri; // a bare scheme such as "s3://"
    return uri.replace(/\/+$/, "");
}

export interface StorageUriOptions {
    /** Where a proxied server (`mlflow server --artifacts-destination`) stores `mlflow-artifacts:/` paths. */
    artifactsDestination?: string;
    /** s3:// prefixes the result must be inside (e.g. `s3://bucket`). Empty: any s3:// URI. */
    allowedPrefixes: string[];
}

/** Checks the allowlist entries themselves: each must be an s3:// URI. */
export function validateAllowedPrefixes(prefixes: readonly string[]): void {
    for (const p of prefixes) {
        if (!p.startsWith("s3://")) {
            throw new RegistryError("INVALID_URI", `Invalid allowed prefix "${p}": expected s3://<bucket>[/<path>]`);
        }
        if (p !== "s3://") parseS3Uri(p);
    }
}

/** True when `uri` equals a prefix or lies below it on a "/" boundary (s3://bucket does not allow s3://bucket-2). */
export function isAllowedUri(uri: string, prefixes: readonly string[]): boolean {
    if (prefixes.length === 0) return true;
    return prefixes.some((p) => {
        if (p === "s3://") return true;
        const base = stripTrailingSlash(p);
        return uri === base || uri.startsWith(`${base}/`);
    });
}

const NOT_S3_HINTS: Array<[RegExp, string]> = [
    [/^models:/, "MLflow returned a models:/ reference instead of a storage location (an old MLflow server, or a version registered from another registry); register the model from an s3:// artifact store"],
    [/^runs:/, "the version was registered from a runs:/ URI that the server did not resolve; re-register it with mlflow.register_model on an s3:// artifact store"],
    [/^(file:|\/)/, "the tracking server stores artifacts on its local disk; start it with --default-artifact-root s3://… or --artifacts-destination s3://…"],
    [/^https?:/, "KServe needs an s3:// location, not an HTTP URL"],
];

/**
 * Maps an MLflow download URI to the s3:// location KServe reads: `mlflow-artifacts:/<path>` (and
 * `mlflow-artifacts://host/<path>`) → `<artifactsDestination>/<path>`; the result must be s3://, inside the
 * allowed prefixes, and has no trailing slash.
 */
export function toStorageUri(downloadUri: string, opts: StorageUriOptions, ctx: LookupContext = {}): string {
    const who = describeLookup(ctx);
    const lead = who ? `${who}: ` : "";
    let uri = downloadUri.trim();
    const proxied = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(uri);
    if (proxied) {
        const dest = opts.artifactsDestination?.trim();
        if (!dest) {
            throw new RegistryError(
                "NO_ARTIFACTS_DESTINATION",
                `${lead}download URI ${downloadUri} is proxied artifact storage; set the tracking server's --artifacts-destination ` +
                    `(serving.registry.artifactsDestination, or --artifacts-destination s3://…) so it can be mapped to s3://`,
            );
        }
        const rel = (proxied[1] ?? "").replace(/\/+$/, "");
        uri = rel === "" ? stripTrailingSlash(dest) : `${stripTrailingSlash(dest)}/${rel}`;
    }
    if (!uri.startsWith("s3://")) {
        const hint = NOT_S3_HINTS.find(([re]) => re.test(uri))?.[1] ?? "KServe can only read s3:// locations";
        throw new RegistryError("NOT_S3", `${lead}storage location ${uri} is not an s3:// URI: ${hint}`);
    }
    uri = stripTrailingSlash(uri);
    parseS3Uri(uri);
    if (!isAllowedUri(uri, opts.allowedPrefixes)) {
        throw new RegistryError(
            "OUTSIDE_BUCKET",
            `${lead}storage location ${uri} is outside the allowed artifact location(s) ${opts.allowedPrefixes.join(", ")}; ` +
                `copy the model into the artifact bucket and register it from there, or extend the allowlist`,
        );
    }
    return uri;
}
