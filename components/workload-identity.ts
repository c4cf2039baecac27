// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../config";
import { artifactAccessPolicy, irsaTrustPolicy, workloadAccess, type TrainingS3Paths, type WorkloadAccounts } from "../lib/iam-policies";

export interface WorkloadIdentityArgs {
    /** Namespace of the service accounts. */
    readonly namespace: string;
    /** The `cluster` config section: the cluster's IAM OIDC provider ARN and issuer URL (required for IRSA). */
    readonly cluster: Pick<ClusterConfig, "oidcProviderArn" | "oidcIssuerUrl">;
    /** The artifact bucket. */
    readonly bucketName: pulumi.Input<string>;
    /** The dataset and batch paths of the training ServiceAccount's Jobs; those outside the artifact bucket are granted to its role (lib/iam-policies.ts outsideBucketGrants). Defaults to none. */
    readonly trainingS3Paths?: pulumi.Input<TrainingS3Paths>;
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
        const { oidcProviderArn, oidcIssuerUrl } = args.cluster;
        // config.ts requires both with artifactAuth irsa.
        if (!oidcProviderArn || !oidcIssuerUrl) throw new Error("WorkloadIdentity: cluster.oidcProviderArn and cluster.oidcIssuerUrl are required");
        // The accounts are known before the grants (no resource is created in an apply).
        const accounts = Object.values(args.serviceAccounts).filter((sa): sa is string => sa !== undefined);
        const access = pulumi
            .all([args.bucketName, args.trainingS3Paths ?? {}, args.backupS3Prefix])
            .apply(([bucket, training, backups]) => workloadAccess(bucket, args.serviceAccounts, training, backups));
        accounts.forEach((sa) => {
            const of = access.apply((all) => {
                const a = all.find((x) => x.serviceAccount === sa);
                if (!a) throw new Error(`WorkloadIdentity: workloadAccess has no grants for ServiceAccount ${sa}`);
                return a;
            });
            const role = new iam.Role(
                `${name}-${sa}`,
                {
                    description: of.apply((a) => `mlflow-platform ${a.purpose}`),
                    assumeRolePolicy: JSON.stringify(irsaTrustPolicy(oidcProviderArn, oidcIssuerUrl, args.namespace, sa)),
                    maxSessionDuration: 3600,
                    tags: { "mlflow-platform/service-account": `${args.namespace}/${sa}` },
                },
                child,
            );
            new iam.RolePolicy(`${name}-${sa}`, { role: role.name, policy: of.apply((a) => JSON.stringify(artifactAccessPolicy(a.grants))) }, child);
            this.roleArns[sa] = role.arn;
        });
        this.registerOutputs({ roleArns: this.roleArns });
    }
}

/** The ServiceAccount annotation that binds a pod to its IRSA role. */
export function irsaAnnotation(roleArn: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
    return { "eks.amazonaws.com/role-arn": roleArn };
}
