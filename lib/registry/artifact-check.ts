import type { S3Client } from "@aws-sdk/client-s3";

/** The S3 SDK, loaded on first use: a program that serves no model never pays its load time. */
function sdk(): typeof import("@aws-sdk/client-s3") {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
}
import { RegistryError, oneLine } from "./errors";
import { parseS3Uri } from "./uri";

export interface VerifyArtifactOptions {
    /** S3 endpoint (moto, MinIO, …); default AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL. Path-style when set. */
    endpoint?: string;
    /** Default AWS_REGION, AWS_DEFAULT_REGION, then us-east-1. */
    region?: string;
    /** Reuse one client for many checks (endpoint/region are then ignored). */
    client?: S3Client;
    /** Prefix for messages, e.g. `model "X" alias "production" → version 2`. */
    label?: string;
    env?: NodeJS.ProcessEnv;
}

/** An S3 client with the default credential chain, honouring AWS_ENDPOINT_URL_S3 (path-style when an endpoint is set). */
export function artifactS3Client(opts: Omit<VerifyArtifactOptions, "client" | "label"> = {}): S3Client {
    const env = opts.env ?? process.env;
    const endpoint = opts.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
    const region = opts.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
    return new (sdk().S3Client)({
        region,
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        followRegionRedirects: true,
        maxAttempts: 3,
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
    });
}

/**
 * HeadObject `<storageUri>/MLmodel`: the file KServe's MLflow runtime needs. A missing object is
 * ARTIFACT_MISSING ("KServe would start and crash: no model at <uri>/MLmodel"); other failures are
 * ARTIFACT_CHECK_FAILED.
 */
export async function verifyArtifact(storageUri: string, opts: VerifyArtifactOptions = {}): Promise<void> {
    const uri = storageUri.replace(/\/+$/, "");
    const { bucket, key } = parseS3Uri(uri);
    const objectKey = key === "" ? "MLmodel" : `${key}/MLmodel`;
    const target = `${uri}/MLmodel`;
    const lead = opts.label ? `${opts.label}: ` : "";
    const client = opts.client ?? artifactS3Client(opts);
    try {
        await client.send(new (sdk().HeadObjectCommand)({ Bucket: bucket, Key: objectKey }));
    } catch (e) {
        const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        const status = err.$metadata?.httpStatusCode;
        if (status === 404 || err.name === "NotFound" || err.name === "NoSuchKey" || err.name === "NoSuchBucket") {
            throw new RegistryError(
                "ARTIFACT_MISSING",
                `${lead}KServe would start and crash: no model at ${target}; check that the model version's artifacts were uploaded ` +
                    `(or set serving.verifyArtifacts=false to skip this check)`,
                { cause: e, ...(status !== undefined ? { status } : {}) },
            );
        }
        const why =
            status === 403
                ? "access denied (HTTP 403): the deploying identity needs s3:GetObject and s3:ListBucket on the bucket " +
                    "(without ListBucket, S3 also answers 403 for a missing object)"
                : err.name === "CredentialsProviderError"
                    ? "no AWS credentials found (default credential chain): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                    : oneLine(`${err.name ?? "Error"}: ${err.message ?? String(e)}`, 200);
        throw new RegistryError(
            "ARTIFACT_CHECK_FAILED",
            `${lead}cannot check ${target}: ${why} (set serving.verifyArtifacts=false to skip this check)`,
            { cause: e, ...(status !== undefined ? { status } : {}) },
        );
    } finally {
        if (!opts.client) client.destroy();
    }
}
