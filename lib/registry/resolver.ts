import type { MlflowRegistryClient, ModelVersion } from "./client";
import { RegistryError } from "./errors";
import { toStorageUri, validateAllowedPrefixes } from "./uri";

/** One served model: exactly one of alias, version, storageUri. */
export interface ResolveTarget {
    servedName: string;
    registeredModel: string;
    alias?: string;
    version?: string;
    storageUri?: string;
}

export interface ResolvedModel {
    /** Registered model name. */
    name: string;
    version?: string;
    alias?: string;
    runId?: string;
    /** The version's `source` (in MLflow 3: `models:/m-<id>`). */
    source?: string;
    /** s3:// location KServe loads, without a trailing slash. */
    storageUri: string;
}

export interface ResolveOptions {
    artifactsDestination?: string;
    /** e.g. ["s3://bucket"]; empty: any s3:// URI. */
    allowedPrefixes: string[];
}

type Client = Pick<MlflowRegistryClient, "getModelVersionByAlias" | "getModelVersion" | "getDownloadUri" | "registry">;

/**
 * alias → version → download URI → s3:// storage URI (or a pinned version / storageUri). Throws a one-line
 * RegistryError naming model, alias/version and the registry.
 */
export async function resolveModel(client: Client, target: ResolveTarget, opts: ResolveOptions): Promise<ResolvedModel> {
    validateAllowedPrefixes(opts.allowedPrefixes);
    const name = target.registeredModel;
    const set = (["alias", "version", "storageUri"] as const).filter((k) => target[k] !== undefined && target[k] !== "");
    if (set.length !== 1) {
        throw new RegistryError(
            "INVALID_TARGET",
            `Served model "${target.servedName}" (registered model "${name}") must set exactly one of alias, version, storageUri; ` +
                (set.length === 0 ? "none is set" : `got ${set.join(" and ")}`),
        );
    }
    if (!name && set[0] !== "storageUri") {
        throw new RegistryError("INVALID_TARGET", `Served model "${target.servedName}" has no registeredModel`);
    }

    if (target.storageUri !== undefined && target.storageUri !== "") {
        const storageUri = toStorageUri(target.storageUri, opts, { name: name || target.servedName });
        return { name: name || target.servedName, storageUri };
    }

    let mv: ModelVersion;
    let downloadUri: string;
    if (target.alias) {
        mv = await client.getModelVersionByAlias(name, target.alias);
        downloadUri = await client.getDownloadUri(name, mv.version, { name, alias: target.alias, version: mv.version });
    } else {
        const version = String(target.version);
        if (!/^[1-9]\d*$/.test(version)) {
            throw new RegistryError(
                "INVALID_TARGET",
                `Served model "${target.servedName}": version "${version}" of registered model "${name}" is not a positive integer`,
            );
        }
        [mv, downloadUri] = await Promise.all([client.getModelVersion(name, version), client.getDownloadUri(name, version)]);
    }

    const ctx = { name, version: mv.version, registry: client.registry, ...(target.alias ? { alias: target.alias } : {}) };
    const storageUri = toStorageUri(downloadUri, opts, ctx);
    const out: ResolvedModel = { name, version: mv.version, storageUri };
    if (target.alias) out.alias = target.alias;
    if (mv.run_id) out.runId = mv.run_id;
    if (mv.source) out.source = mv.source;
    return out;
}

/**
 * Resolves many targets with at most `concurrency` in flight; results keep the input order. On a failure no
 * further lookups start and the first failure (in input order) is thrown.
 */
export async function resolveModels(
    client: Client,
    targets: readonly ResolveTarget[],
    opts: ResolveOptions,
    concurrency = 8,
): Promise<ResolvedModel[]> {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    const results: ResolvedModel[] = new Array(targets.length);
    const errors = new Map<number, unknown>();
    let next = 0;
    const worker = async (): Promise<void> => {
        while (errors.size === 0 && next < targets.length) {
            const i = next++;
            try {
                results[i] = await resolveModel(client, targets[i]!, opts);
            } catch (e) {
                errors.set(i, e);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
    if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
    return results;
}
