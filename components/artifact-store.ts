// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as s3 from "@pulumi/aws/s3";
import * as pulumi from "@pulumi/pulumi";
import type { ArtifactStoreConfig } from "../config";
import { tlsOnlyBucketPolicy } from "../lib/iam-policies";
import { BACKUP_PREFIX } from "../manifests/backup";

export interface ArtifactStoreArgs {
    /**
     * The `artifactStore` config section: the bucket's name (unset: generated from bucketPrefix), forceDestroy
     * (false: the bucket holds every model), days a replaced version and an unfinished upload are kept, the KMS key
     * of default encryption (unset: SSE-S3).
     */
    readonly config: Pick<ArtifactStoreConfig, "bucketName" | "forceDestroy" | "noncurrentVersionDays" | "abortIncompleteUploadDays" | "kmsKeyArn">;
    /** Prefix of the generated name when the config names no bucket. Defaults to `mlflow-artifacts-`. */
    readonly bucketPrefix?: pulumi.Input<string>;
    /** Days a database backup (under `backups/`, see DatabaseBackup) is kept before it expires (backup.retentionDays). Defaults to 30. */
    readonly backupRetentionDays?: pulumi.Input<number>;
}

/**
 * The S3 bucket that holds MLflow's artifacts (models, datasets, logged files): versioned, encrypted,
 * private, owner-enforced, TLS-only, with lifecycle rules for old versions, abandoned uploads and old database
 * backups.
 * The bucket is retained when the stack is destroyed: losing it loses every model.
 */
export class ArtifactStore extends pulumi.ComponentResource {
    /** The bucket's name. */
    public readonly bucketName: pulumi.Output<string>;
    /** The bucket's ARN. */
    public readonly bucketArn: pulumi.Output<string>;
    /** s3://<bucket> */
    public readonly rootUri: pulumi.Output<string>;

    constructor(name: string, args: ArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:storage:ArtifactStore", name, {}, opts);
        const child = { parent: this };
        const c = args.config;

        const bucket = new s3.Bucket(
            name,
            {
                bucket: c.bucketName,
                bucketPrefix: c.bucketName === undefined ? (args.bucketPrefix ?? "mlflow-artifacts-") : undefined,
                forceDestroy: c.forceDestroy,
                tags: { "mlflow-platform/purpose": "mlflow-artifacts" },
            },
            { ...child, retainOnDelete: true },
        );
        const ownership = new s3.BucketOwnershipControls(name, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, child);
        const publicAccess = new s3.BucketPublicAccessBlock(
            name,
            { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            child,
        );
        new s3.BucketVersioning(name, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, child);
        new s3.BucketServerSideEncryptionConfiguration(
            name,
            {
                bucket: bucket.id,
                rules: [
                    {
                        applyServerSideEncryptionByDefault: c.kmsKeyArn
                            ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: c.kmsKeyArn }
                            : { sseAlgorithm: "AES256" },
                        bucketKeyEnabled: c.kmsKeyArn ? true : undefined,
                    },
                ],
            },
            child,
        );
        new s3.BucketLifecycleConfiguration(
            name,
            {
                bucket: bucket.id,
                rules: [
                    {
                        id: "expire-noncurrent-versions",
                        status: "Enabled",
                        filter: {},
                        noncurrentVersionExpiration: { noncurrentDays: c.noncurrentVersionDays },
                    },
                    {
                        id: "abort-incomplete-multipart-uploads",
                        status: "Enabled",
                        filter: {},
                        abortIncompleteMultipartUpload: { daysAfterInitiation: c.abortIncompleteUploadDays },
                    },
                    {
                        // A backup expires after the retention (a delete marker, the bucket being versioned); its data,
                        // then noncurrent, goes a day later: where two rules overlap S3 applies the shorter expiration.
                        id: "expire-database-backups",
                        status: "Enabled",
                        filter: { prefix: BACKUP_PREFIX },
                        expiration: { days: args.backupRetentionDays ?? 30 },
                        noncurrentVersionExpiration: { noncurrentDays: 1 },
                    },
                ],
            },
            child,
        );
        new s3.BucketPolicy(
            name,
            { bucket: bucket.id, policy: bucket.bucket.apply((b) => JSON.stringify(tlsOnlyBucketPolicy(b))) },
            // The policy is public-access-checked by S3: write it after the block is in place.
            { ...child, dependsOn: [publicAccess, ownership] },
        );

        this.bucketName = bucket.bucket;
        this.bucketArn = bucket.arn;
        this.rootUri = pulumi.interpolate`s3://${bucket.bucket}`;
        this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, rootUri: this.rootUri });
    }
}
