// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as iam from "@pulumi/aws/iam";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { StaticKeysConfig } from "../config";
import { artifactAccessPolicy, outsideBucketGrants, type TrainingS3Paths } from "../lib/iam-policies";
import { meta } from "../manifests/common";
import { kserveS3Annotations } from "../manifests/serving";

export const AWS_KEYS_SECRET = "mlflow-aws-credentials";

export interface StaticArtifactCredentialsArgs {
    /** Namespace of the keys Secret. */
    readonly namespace: string;
    /** The artifact bucket the key may use. */
    readonly bucketName: pulumi.Input<string>;
    /** The dataset and batch paths of the training Jobs; those outside the artifact bucket are granted to the key's user (lib/iam-policies.ts outsideBucketGrants). Defaults to none. */
    readonly trainingS3Paths?: pulumi.Input<TrainingS3Paths>;
    /** The `staticKeys` config section: a key (id and secret) to use instead of creating an IAM user; unset: a new IAM user and access key. */
    readonly config: StaticKeysConfig;
    /** AWS region of the bucket: KServe's storage initializer reads it from the Secret's annotations. Defaults to none. */
    readonly region?: pulumi.Input<string>;
}

/**
 * Static AWS keys for artifact access (the current state): an IAM user allowed only MLflow's object
 * operations on the artifact bucket (and reads of the dataset and batch inputs, puts under the batch outputs,
 * where those are outside it), its access key as secret outputs, and the Kubernetes Secret
 * `mlflow-aws-credentials` with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. With keys given in config, no
 * IAM resources are created.
 */
export class StaticArtifactCredentials extends pulumi.ComponentResource {
    public readonly secretName: pulumi.Output<string>;
    public readonly accessKeyId: pulumi.Output<string>;
    public readonly secretAccessKey: pulumi.Output<string>;
    /** Name of the IAM user, when one was created. */
    public readonly userName?: pulumi.Output<string>;

    constructor(name: string, args: StaticArtifactCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:identity:StaticArtifactCredentials", name, {}, opts);
        const child = { parent: this };
        const { accessKeyId, secretAccessKey } = args.config;
        if (accessKeyId !== undefined && secretAccessKey !== undefined) {
            this.accessKeyId = pulumi.secret(pulumi.output(accessKeyId));
            this.secretAccessKey = pulumi.secret(pulumi.output(secretAccessKey));
        } else {
            const user = new iam.User(name, { path: "/mlflow-platform/", tags: { "mlflow-platform/purpose": "mlflow-artifacts" } }, child);
            new iam.UserPolicy(
                name,
                {
                    user: user.name,
                    policy: pulumi
                        .all([args.bucketName, args.trainingS3Paths ?? {}])
                        .apply(([b, paths]) => JSON.stringify(artifactAccessPolicy([{ bucket: b, access: "readWrite" }, ...outsideBucketGrants(b, paths)]))),
                },
                child,
            );
            const key = new iam.AccessKey(name, { user: user.name }, { ...child, additionalSecretOutputs: ["secret"] });
            this.userName = user.name;
            this.accessKeyId = pulumi.secret(key.id);
            this.secretAccessKey = pulumi.secret(key.secret);
        }
        const secret = new corev1.Secret(
            name,
            {
                // KServe reads serving.kserve.io/s3-* from the keys Secret (from the ServiceAccount only under IRSA).
                metadata: { ...meta(AWS_KEYS_SECRET, args.namespace, "artifact-credentials"), annotations: kserveS3Annotations({ region: args.region }) },
                type: "Opaque",
                stringData: { AWS_ACCESS_KEY_ID: this.accessKeyId, AWS_SECRET_ACCESS_KEY: this.secretAccessKey },
            },
            child,
        );
        this.secretName = secret.metadata.name;
        this.registerOutputs({ secretName: this.secretName, accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey });
    }
}
