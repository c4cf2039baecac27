// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";
import { artifactAccessPolicy, irsaTrustPolicy, workloadAccess, type TrainingS3Paths, type WorkloadAccounts } from "../lib/iam-policies";

/** The batch profiles' S3 input files and output prefixes (manifests/batch.ts batchPaths), as inputs. */
export type BatchS3PathsInput = pulumi.Input<readonly { readonly input: pulumi.Input<string>; readonly output: pulumi.Input<string> }[]>;

/** The training ServiceAccount's S3 paths besides artifacts, resolved (for lib/iam-policies.ts). */
export function trainingS3Paths(dataset: pulumi.Input<string> | undefined, batch: BatchS3PathsInput | undefined): pulumi.Output<TrainingS3Paths> {
    return pulumi.all([dataset, pulumi.output(batch ?? [])]).apply(([d, b]) => ({ dataset: d, batchInputs: b.map((x) => x.input), batchOutputs: b.map((x) => x.output) }));
}

export interface WorkloadIdentityArgs {
    /** Namespace of the service accounts. */
    readonly namespace: string;
    /** IAM OIDC provider of the cluster. */
    readonly oidcProviderArn: string;
    /** OIDC issuer URL of the cluster. */
    readonly oidcIssuerUrl: string;
    /** The artifact bucket. */
    readonly bucketName: pulumi.Input<string>;
    /** s3:// path of the training data; outside the artifact bucket, the training role reads its directory. Defaults to none. */
    readonly datasetS3Path?: pulumi.Input<string>;
    /** s3:// inputs and output prefixes of the batch profiles; outside the artifact bucket, the training role reads the inputs' directories and puts under the outputs. Defaults to none. */
    readonly batchS3Paths?: BatchS3PathsInput;
    /** Service account names of the workloads; `backup` only with backupS3Prefix. */
    readonly serviceAccounts: WorkloadAccounts;
    /** s3://bucket/prefix of the database backups, the backup role's only reach. Defaults to none (no backup role). */
    readonly backupS3Prefix?: pulumi.Input<string>;
}

/**
 * IRSA (the future state's artifact auth): one IAM role per workload, assumable only by
 * `system:serviceaccount:<namespace>:<sa>` with audience sts.amazonaws.com, each with least privilege on
 * the bucket (lib/iam-policies.ts workloadAccess). The service accounts carry `eks.amazonaws.com/role-arn`;
 * no pod gets static keys.
 */
export class WorkloadIdentity extends pulumi.ComponentResource {
    /** Service account name → role ARN. */
    public readonly roleArns: Record<string, pulumi.Output<string>> = {};

    constructor(name: string, args: WorkloadIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:identity:WorkloadIdentity", name, {}, opts);
        const child = { parent: this };
        const { tracking, training, serving, backup } = args.serviceAccounts;
        // The same order as workloadAccess's answer, known before it (no resource is created in an apply).
        const accounts = [tracking, training, serving, ...(backup !== undefined ? [backup] : [])];
        const access = pulumi
            .all([args.bucketName, trainingS3Paths(args.datasetS3Path, args.batchS3Paths), args.backupS3Prefix])
            .apply(([bucket, training, backups]) => workloadAccess(bucket, args.serviceAccounts, training, backups));
        accounts.forEach((sa, i) => {
            const role = new iam.Role(
                `${name}-${sa}`,
                {
                    description: access.apply((a) => `mlflow-platform ${a[i].purpose}`),
                    assumeRolePolicy: JSON.stringify(irsaTrustPolicy(args.oidcProviderArn, args.oidcIssuerUrl, args.namespace, sa)),
                    maxSessionDuration: 3600,
                    tags: { "mlflow-platform/service-account": `${args.namespace}/${sa}` },
                },
                child,
            );
            new iam.RolePolicy(`${name}-${sa}`, { role: role.name, policy: access.apply((a) => JSON.stringify(artifactAccessPolicy(a[i].grants))) }, child);
            this.roleArns[sa] = role.arn;
        });
        this.registerOutputs({ roleArns: this.roleArns });
    }
}

/** The ServiceAccount annotation that binds a pod to its IRSA role. */
export function irsaAnnotation(roleArn: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
    return { "eks.amazonaws.com/role-arn": roleArn };
}
