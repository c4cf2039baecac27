// A small stack that passes every rule, as the tests' starting point (each test breaks one thing) and as a
// readable example of compliant resources. Not loaded by the pack.
import { NormalizedResource, StackContext } from "./rules";

export const BUCKET = "mlflow-artifacts-prod";
export const DIGEST = `@sha256:${"ab12".repeat(16)}`;

export const secureContainer = (name: string, image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}${DIGEST}`) => ({
    name,
    image,
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
    resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
});

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: "mlflow", ...extra });

/** A fresh copy each call, so tests can mutate it. */
export function compliantStack(): NormalizedResource[] {
    const parent = "urn:pulumi:prod::mlflow-platform::mlflow-platform:storage:ArtifactStore::artifacts";
    return [
        { type: "mlflow-platform:storage:ArtifactStore", name: "artifacts", inputs: {} },
        { type: "aws:s3/bucket:Bucket", name: "artifacts", parent, inputs: { bucket: BUCKET, forceDestroy: false } },
        {
            type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            name: "artifacts",
            parent,
            inputs: { bucket: BUCKET, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
        },
        {
            type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            name: "artifacts",
            parent,
            inputs: { bucket: BUCKET, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
        },
        {
            type: "aws:s3/bucketVersioning:BucketVersioning",
            name: "artifacts",
            parent,
            inputs: { bucket: BUCKET, versioningConfiguration: { status: "Enabled" } },
        },
        {
            type: "aws:rds/instance:Instance",
            name: "mlflow-db",
            inputs: {
                engine: "postgres",
                password: "[secret]",
                storageEncrypted: true,
                publiclyAccessible: false,
                deletionProtection: true,
                backupRetentionPeriod: 7,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: "mlflow-db-final",
            },
        },
        {
            type: "aws:iam/role:Role",
            name: "mlflow-irsa",
            inputs: {
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: "arn:aws:iam::123456789012:oidc-provider/x" } }],
                }),
            },
        },
        {
            type: "kubernetes:core/v1:ServiceAccount",
            name: "mlflow",
            inputs: {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: meta("mlflow", { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mlflow-irsa" } }),
            },
        },
        {
            type: "kubernetes:core/v1:Secret",
            name: "mlflow-db",
            inputs: { apiVersion: "v1", kind: "Secret", metadata: meta("mlflow-db"), stringData: { DATABASE_URL: "[secret]" } },
        },
        {
            type: "kubernetes:apps/v1:Deployment",
            name: "mlflow",
            inputs: {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: meta("mlflow"),
                spec: {
                    replicas: 2,
                    template: {
                        metadata: { labels: { app: "mlflow" } },
                        spec: {
                            serviceAccountName: "mlflow",
                            securityContext: { runAsUser: 1000, fsGroup: 1000 },
                            containers: [{ ...secureContainer("mlflow"), securityContext: undefined, env: [{ name: "MLFLOW_S3_ENDPOINT_URL", value: "" }] }],
                        },
                    },
                },
            },
        },
        {
            type: "kubernetes:batch/v1:CronJob",
            name: "train-nightly",
            inputs: {
                apiVersion: "batch/v1",
                kind: "CronJob",
                metadata: meta("train-nightly"),
                spec: {
                    schedule: "0 2 * * *",
                    jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [secureContainer("trainer")] } } } },
                },
            },
        },
        {
            type: "kubernetes:batch/v1:Job",
            name: "mlflow-db-upgrade",
            inputs: {
                apiVersion: "batch/v1",
                kind: "Job",
                metadata: meta("mlflow-db-upgrade"),
                spec: { template: { spec: { restartPolicy: "Never", initContainers: [secureContainer("wait")], containers: [secureContainer("upgrade")] } } },
            },
        },
        {
            type: "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime",
            name: "mlflow-mlserver",
            inputs: {
                apiVersion: "serving.kserve.io/v1alpha1",
                kind: "ClusterServingRuntime",
                metadata: { name: "mlflow-mlserver" },
                spec: { supportedModelFormats: [{ name: "mlflow", version: "2" }], containers: [secureContainer("kserve-container")] },
            },
        },
        {
            type: "kubernetes:apiextensions.k8s.io:CustomResource",
            name: "california-housing",
            inputs: {
                apiVersion: "serving.kserve.io/v1beta1",
                kind: "InferenceService",
                metadata: meta("california-housing"),
                spec: {
                    predictor: {
                        minReplicas: 1,
                        model: { modelFormat: { name: "mlflow" }, runtime: "mlflow-mlserver", storageUri: `s3://${BUCKET}/1/models/m-7065bfbb/artifacts` },
                    },
                },
            },
        },
    ];
}

export const prodContext = (): Partial<StackContext> => ({ stack: "prod", artifactAuth: "irsa", artifactBucket: BUCKET });

/** The resource with this name and a type token ending in `:${kind}` (throws if absent). */
export function find(resources: NormalizedResource[], kind: string, name: string): NormalizedResource {
    const r = resources.find((x) => x.name === name && x.type.endsWith(`:${kind}`));
    if (!r) throw new Error(`fixture has no ${kind} ${name}`);
    return r;
}
