import { parseS3Uri } from "./registry/uri";
/**
 * IAM and S3 bucket policy documents as plain data, so their intent is unit-tested directly.
 */

export interface PolicyStatement {
    readonly Sid?: string;
    readonly Effect: "Allow" | "Deny";
    readonly Principal?: "*" | Readonly<Record<string, string | readonly string[]>>;
    readonly Action: string | readonly string[];
    /** Absent in trust policies, which apply to the role itself. */
    readonly Resource?: string | readonly string[];
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[] | boolean>>>>;
}

export interface PolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly PolicyStatement[];
}

/**
 * What a workload may do with artifacts under a bucket prefix: read and write (and delete); only read; or
 * read and put new objects without deleting any (the database backups: a backup pod cannot erase backups).
 */
export type BucketAccess = "readWrite" | "readOnly" | "readPut";

const READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"] as const;
const PUT_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"] as const;
const ACTIONS: Readonly<Record<BucketAccess, readonly string[]>> = {
    readOnly: READ_ACTIONS,
    readPut: [...READ_ACTIONS, ...PUT_ACTIONS],
    readWrite: [...READ_ACTIONS, ...PUT_ACTIONS, "s3:DeleteObject"],
};
const SID: Readonly<Record<BucketAccess, string>> = { readOnly: "Read", readPut: "ReadPut", readWrite: "ReadWrite" };

/** The bucket ARN of a bucket name, e.g. arn:aws:s3:::mlflow-artifacts-dev. */
export function bucketArn(bucket: string, partition = "aws"): string {
    return `arn:${partition}:s3:::${bucket}`;
}

/** One grant of access to a bucket, optionally narrowed to a key prefix. */
export interface BucketGrant {
    readonly bucket: string;
    readonly access: BucketAccess;
    /** Key prefix without a leading slash, e.g. "datasets/"; unset: the whole bucket. */
    readonly prefix?: string;
}

/**
 * Least-privilege policy for MLflow's use of artifact buckets: list the bucket (narrowed to the prefix),
 * read objects, and with readWrite also write and delete them (MLflow deletes artifacts of deleted runs
 * through `mlflow gc`). Nothing on bucket configuration, ACLs or policies.
 */
export function artifactAccessPolicy(grants: readonly BucketGrant[], partition = "aws"): PolicyDocument {
    if (grants.length === 0) throw new Error("artifactAccessPolicy needs at least one bucket grant");
    const statements: PolicyStatement[] = [];
    grants.forEach((g, i) => {
        const arn = bucketArn(g.bucket, partition);
        const prefix = (g.prefix ?? "").replace(/^\/+/, "");
        statements.push({
            Sid: `List${i}`,
            Effect: "Allow",
            Action: ["s3:ListBucket", "s3:GetBucketLocation"],
            Resource: arn,
            ...(prefix ? { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
        });
        statements.push({
            Sid: `${SID[g.access]}${i}`,
            Effect: "Allow",
            Action: [...ACTIONS[g.access]],
            Resource: `${arn}/${prefix}*`,
        });
    });
    return { Version: "2012-10-17", Statement: statements };
}

/** Bucket policy that refuses every request not made over TLS. */
export function tlsOnlyBucketPolicy(bucket: string, partition = "aws"): PolicyDocument {
    const arn = bucketArn(bucket, partition);
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [arn, `${arn}/*`],
                Condition: { Bool: { "aws:SecureTransport": false } },
            },
        ],
    };
}

/**
 * Trust policy of an IRSA role: only the given Kubernetes service account, through the cluster's OIDC
 * provider, with the STS audience.
 */
export function irsaTrustPolicy(oidcProviderArn: string, oidcIssuerUrl: string, namespace: string, serviceAccount: string): PolicyDocument {
    const issuer = oidcIssuerUrl.replace(/^https:\/\//, "").replace(/\/$/, "");
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
                        [`${issuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

/** The AWS access one Kubernetes service account gets through IRSA. */
export interface WorkloadAccess {
    readonly serviceAccount: string;
    /** What the role is for, for its description. */
    readonly purpose: string;
    readonly grants: readonly BucketGrant[];
}

/** The service accounts that get an IRSA role; `backup` only while the in-cluster database is backed up. */
export interface WorkloadAccounts {
    readonly tracking: string;
    readonly training: string;
    readonly serving: string;
    readonly backup?: string;
}

/** The S3 paths the training ServiceAccount's Jobs use besides artifacts: the dataset, batch inputs and outputs. */
export interface TrainingS3Paths {
    /** s3:// path of the training data (a file). */
    readonly dataset?: string;
    /** s3:// paths of the batch profiles' input CSVs (files). */
    readonly batchInputs?: readonly string[];
    /** s3:// prefixes the batch profiles write their runs under. */
    readonly batchOutputs?: readonly string[];
}

/** The directory of an object key: `a/b/c.csv` → `a/b/`; a key without a directory names itself. */
function keyDirectory(key: string): string {
    return key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : key;
}

/**
 * Grants for the training ServiceAccount's paths outside the artifact bucket (inside it, the bucket-wide grant
 * covers them): read the dataset's and each batch input's directory; read and put (no delete) under each batch
 * output prefix. One grant per bucket, access and prefix.
 */
export function outsideBucketGrants(artifactBucket: string, paths: TrainingS3Paths): BucketGrant[] {
    const wanted: BucketGrant[] = [];
    const read = (uri: string) => {
        const { bucket, key } = parseS3Uri(uri);
        wanted.push({ bucket, access: "readOnly", prefix: keyDirectory(key) });
    };
    if (paths.dataset) read(paths.dataset);
    for (const input of paths.batchInputs ?? []) read(input);
    for (const output of paths.batchOutputs ?? []) {
        const { bucket, key } = parseS3Uri(output);
        wanted.push({ bucket, access: "readPut", prefix: key === "" ? "" : `${key}/` });
    }
    const seen = new Set<string>();
    return wanted.filter((g) => {
        const id = `${g.bucket}|${g.access}|${g.prefix}`;
        if (g.bucket === artifactBucket || seen.has(id)) return false;
        seen.add(id);
        return true;
    });
}

/**
 * Least privilege per workload: the tracking server reads and writes artifacts; training reads and writes
 * artifacts, reads the dataset's and the batch inputs' directories and puts under the batch outputs (outside the
 * bucket: outsideBucketGrants); serving only reads; the database backup reads and puts objects under the backups
 * prefix only (s3://bucket/prefix/), and deletes nothing (the lifecycle rule expires them).
 */
export function workloadAccess(artifactBucket: string, accounts: WorkloadAccounts, training: TrainingS3Paths = {}, backupS3Prefix?: string): WorkloadAccess[] {
    const trainingGrants: BucketGrant[] = [{ bucket: artifactBucket, access: "readWrite" }, ...outsideBucketGrants(artifactBucket, training)];
    const out: WorkloadAccess[] = [
        { serviceAccount: accounts.tracking, purpose: "MLflow tracking server: artifact read/write", grants: [{ bucket: artifactBucket, access: "readWrite" }] },
        { serviceAccount: accounts.training, purpose: "training jobs: artifact read/write, dataset read", grants: trainingGrants },
        { serviceAccount: accounts.serving, purpose: "KServe predictors: artifact read-only", grants: [{ bucket: artifactBucket, access: "readOnly" }] },
    ];
    if ((accounts.backup === undefined) !== (backupS3Prefix === undefined)) {
        throw new Error("workloadAccess: the backup ServiceAccount and the backups prefix come together");
    }
    if (accounts.backup !== undefined && backupS3Prefix !== undefined) {
        const { bucket, key } = parseS3Uri(backupS3Prefix);
        const prefix = key.replace(/\/*$/, "/");
        if (prefix === "/") throw new Error(`workloadAccess: backups prefix ${backupS3Prefix} names no key prefix (the role would reach the whole bucket)`);
        out.push({ serviceAccount: accounts.backup, purpose: "database backups: read and put under the backups prefix, no delete", grants: [{ bucket, access: "readPut", prefix }] });
    }
    return out;
}
