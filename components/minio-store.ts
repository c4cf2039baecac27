import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { meta } from "../manifests/common";
import { kserveS3Annotations } from "../manifests/serving";
import { MINIO_COMPONENT, minioBucketJob, minioEndpoint, minioService, minioStatefulSet } from "../manifests/minio";
import { AWS_KEYS_SECRET } from "./static-artifact-credentials";

export interface MinioStoreArgs {
    /** Namespace of MinIO. */
    readonly namespace: string;
    /** MinIO image. */
    readonly image: string;
    /** Bucket to create. Defaults to `mlflow-artifacts`. */
    readonly bucketName?: string;
    /** Size of the data volume. Defaults to `20Gi`. */
    readonly storageSize?: string;
    /** StorageClass of the data volume. Defaults to the cluster default. */
    readonly storageClassName?: string;
}

/**
 * The artifact store of a local stack, with no AWS at all: MinIO as a StatefulSet with a retained volume,
 * generated root credentials, a private versioned bucket created by a Job, and MLflow's own key pair
 * (limited to that bucket) in the same `mlflow-aws-credentials` Secret the S3 stacks use.
 */
export class MinioStore extends pulumi.ComponentResource {
    public readonly bucketName: string;
    /** s3://<bucket> */
    public readonly rootUri: string;
    /** http://minio.<namespace>.svc.cluster.local:9000 */
    public readonly endpoint: string;
    /** Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of MLflow's MinIO user. */
    public readonly keysSecretName: pulumi.Output<string>;
    /** The bucket Job: workloads that write artifacts wait for it. */
    public readonly ready: batchv1.Job;

    constructor(name: string, args: MinioStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:storage:MinioStore", name, {}, opts);
        const child = { parent: this };
        this.bucketName = args.bucketName ?? "mlflow-artifacts";
        this.rootUri = `s3://${this.bucketName}`;
        this.endpoint = minioEndpoint(args.namespace);
        const secretText = (id: string, length: number) =>
            pulumi.secret(new random.RandomPassword(`${name}-${id}`, { length, special: false }, { ...child, additionalSecretOutputs: ["result"] }).result);

        const root = new corev1.Secret(
            `${name}-root`,
            { metadata: meta("minio-root", args.namespace, MINIO_COMPONENT), type: "Opaque", stringData: { username: secretText("root-user", 16), password: secretText("root-password", 40) } },
            child,
        );
        const keys = new corev1.Secret(
            `${name}-keys`,
            { metadata: { ...meta(AWS_KEYS_SECRET, args.namespace, "artifact-credentials"), annotations: kserveS3Annotations({ region: "us-east-1", s3Endpoint: this.endpoint }) }, type: "Opaque", stringData: { AWS_ACCESS_KEY_ID: secretText("access-key-id", 20), AWS_SECRET_ACCESS_KEY: secretText("secret-access-key", 40) } },
            child,
        );
        const service = new corev1.Service(name, minioService(args.namespace), child);
        const sts = new appsv1.StatefulSet(
            name,
            minioStatefulSet({ namespace: args.namespace, image: args.image, storageSize: args.storageSize ?? "20Gi", storageClassName: args.storageClassName, rootSecretName: root.metadata.name }),
            { ...child, retainOnDelete: true },
        );
        this.ready = new batchv1.Job(
            `${name}-bucket`,
            minioBucketJob({ namespace: args.namespace, bucket: this.bucketName, rootSecretName: root.metadata.name, keysSecretName: keys.metadata.name }),
            { ...child, dependsOn: [sts, service] },
        );
        this.keysSecretName = keys.metadata.name;
        this.registerOutputs({ bucketName: this.bucketName, endpoint: this.endpoint });
    }
}
