import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { MinioConfig } from "../config";
import { suppliedOrGenerated } from "../lib/secret-value";
import { meta } from "../manifests/common";
import { statefulStore } from "./stateful-store";
import { kserveS3Annotations } from "../manifests/serving";
import { MINIO_COMPONENT, MINIO_NAME, minioBucketJob, minioEndpoint, minioService, minioStatefulSet } from "../manifests/minio";
import { AWS_KEYS_SECRET } from "./static-artifact-credentials";

export interface MinioStoreArgs {
    /** Namespace of MinIO. */
    readonly namespace: string;
    /**
     * The `artifactStore.minio` config section: image, bucket, storage, and the credentials (root user and password,
     * MLflow's key pair; each unset one generated: RandomPassword `<name>-root-user` (16 characters),
     * `-root-password` (40), `-access-key-id` (20), `-secret-access-key` (40)).
     */
    readonly config: MinioConfig;
}

/**
 * The artifact store of a local stack, with no AWS at all: MinIO as a StatefulSet with a retained volume,
 * root credentials (supplied or generated), a private versioned bucket created by a Job, and MLflow's own key pair
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
        const c = args.config;
        this.bucketName = c.bucketName;
        this.rootUri = `s3://${this.bucketName}`;
        this.endpoint = minioEndpoint(args.namespace);
        // Each credential is supplied (a config secret) or generated; a Pulumi secret either way.
        const secretText = (id: string, length: number, supplied: pulumi.Input<string> | undefined) => suppliedOrGenerated(supplied, { name: `${name}-${id}`, length, parent: this });

        const root = new corev1.Secret(
            `${name}-root`,
            { metadata: meta("minio-root", args.namespace, MINIO_COMPONENT), type: "Opaque", stringData: { username: secretText("root-user", 16, c.rootUser), password: secretText("root-password", 40, c.rootPassword) } },
            child,
        );
        const keys = new corev1.Secret(
            `${name}-keys`,
            { metadata: { ...meta(AWS_KEYS_SECRET, args.namespace, "artifact-credentials"), annotations: kserveS3Annotations({ region: "us-east-1", s3Endpoint: this.endpoint }) }, type: "Opaque", stringData: { AWS_ACCESS_KEY_ID: secretText("access-key-id", 20, c.accessKeyId), AWS_SECRET_ACCESS_KEY: secretText("secret-access-key", 40, c.secretAccessKey) } },
            child,
        );
        const service = new corev1.Service(name, minioService(args.namespace), child);
        const storageSize = c.storageSize;
        const { statefulSet: sts } = statefulStore(
            name,
            minioStatefulSet({ namespace: args.namespace, image: c.image, storageSize, storageClassName: c.storageClassName, rootSecretName: root.metadata.name }),
            { statefulSetName: MINIO_NAME, namespace: args.namespace, storageSize },
            child,
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
