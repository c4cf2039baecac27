/**
 * The deploy-time registry lookup of served models: alias/version → storage URI, then the MLmodel check.
 * Runs at the top of the program, before any resource is registered, in preview and up alike: a failure
 * stops the program with nothing created, changed or removed.
 */
import type { PlatformConfig } from "../config";
import { artifactS3Client, authFromEnv, MlflowRegistryClient, ResolvedModel, resolveModels, verifyArtifact } from "./registry";

/** The bucket a stack's artifacts live in, when the config names it (generated names are unknown at lookup time). */
export function configuredBucket(cfg: PlatformConfig): string | undefined {
    return cfg.artifactStore.mode === "minio" ? cfg.artifactStore.minio.bucketName : cfg.artifactStore.bucketName;
}

/** s3:// prefixes a served model's storageUri may point into. */
export function allowedStoragePrefixes(cfg: PlatformConfig): string[] {
    const bucket = configuredBucket(cfg);
    return [...(bucket ? [`s3://${bucket}`] : []), ...cfg.serving.allowedStoragePrefixes];
}

/** The registry's URI: MLFLOW_TRACKING_URI wins over serving.registry.uri. */
export function registryUri(cfg: PlatformConfig, env: NodeJS.ProcessEnv = process.env): string {
    return env.MLFLOW_TRACKING_URI || cfg.serving.registry.uri;
}

export interface LookupOptions {
    readonly env?: NodeJS.ProcessEnv;
    /** S3 endpoint of the artifact check (MinIO; tests). Defaults to AWS_ENDPOINT_URL_S3. */
    readonly s3Endpoint?: string;
    readonly region?: string;
}

/** Resolves every served model (bounded concurrency), then checks each one's MLmodel exists. */
export async function lookupServedModels(cfg: PlatformConfig, opts: LookupOptions = {}): Promise<ResolvedModel[]> {
    const models = cfg.serving.models;
    if (models.length === 0) return [];
    const env = opts.env ?? process.env;
    const reg = cfg.serving.registry;
    const client = new MlflowRegistryClient({
        trackingUri: registryUri(cfg, env),
        auth: authFromEnv(env, { username: reg.username, password: reg.password }),
        timeoutMs: reg.timeoutSeconds * 1000,
    });
    const bucket = configuredBucket(cfg);
    const resolved = await resolveModels(
        client,
        models.map((m) => ({ servedName: m.name, registeredModel: m.registeredModel, alias: m.alias, version: m.version, storageUri: m.storageUri })),
        { artifactsDestination: reg.artifactsDestination ?? (bucket ? `s3://${bucket}` : undefined), allowedPrefixes: allowedStoragePrefixes(cfg) },
        reg.concurrency,
    );
    if (cfg.serving.verifyArtifacts) {
        const s3 = artifactS3Client({ endpoint: opts.s3Endpoint, region: opts.region, env });
        for (let i = 0; i < resolved.length; i += reg.concurrency) {
            await Promise.all(
                resolved.slice(i, i + reg.concurrency).map((r, j) => {
                    const m = models[i + j];
                    const ref = m.alias ? `alias "${m.alias}" → version ${r.version}` : m.version ? `version ${m.version}` : "pinned storageUri";
                    return verifyArtifact(r.storageUri, { client: s3, label: `served model "${m.name}" (${m.registeredModel} ${ref})` });
                }),
            );
        }
    }
    return resolved;
}
