/**
 * MinIO for local stacks (artifactStore.mode = minio) as plain data: StatefulSet with a volume claim,
 * Service, and the one-shot Job that creates the private, versioned bucket and MLflow's own user.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import { containerSecurityContext, env, labels, meta, persistentStatefulSet, podSecurityContext, secretEnv, selectorLabels, telemetryEnv } from "./common";

export const MINIO_NAME = "minio";
export const MINIO_COMPONENT = "artifact-store";
export const MINIO_PORT = 9000;
export const MINIO_CLIENT_IMAGE = "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z";

/** In-cluster S3 endpoint of MinIO. */
export function minioEndpoint(namespace: string): string {
    return `http://${MINIO_NAME}.${namespace}.svc.cluster.local:${MINIO_PORT}`;
}

/** IAM-style policy MinIO applies to MLflow's user: object access on one bucket, nothing else. */
export function minioBucketPolicy(bucket: string): object {
    return {
        Version: "2012-10-17",
        Statement: [
            { Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: [`arn:aws:s3:::${bucket}`] },
            { Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], Resource: [`arn:aws:s3:::${bucket}/*`] },
        ],
    };
}

export function minioStatefulSet(p: { namespace: string; image: string; storageSize: string; storageClassName?: string; rootSecretName: Input<string> }): k8s.types.input.apps.v1.StatefulSet {
    const probe = (path: string, period: number): k8s.types.input.core.v1.Probe => ({ httpGet: { path, port: "s3" }, periodSeconds: period, timeoutSeconds: 5, failureThreshold: 6 });
    return persistentStatefulSet({
        name: MINIO_NAME,
        namespace: p.namespace,
        component: MINIO_COMPONENT,
        storageSize: p.storageSize,
        storageClassName: p.storageClassName,
        pod: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(1000),
            containers: [
                {
                    name: "minio",
                    image: p.image,
                    args: ["server", "/data", "--address", `:${MINIO_PORT}`, "--console-address", ":9001"],
                    env: [secretEnv("MINIO_ROOT_USER", p.rootSecretName, "username"), secretEnv("MINIO_ROOT_PASSWORD", p.rootSecretName, "password"), ...telemetryEnv()],
                    ports: [
                        { name: "s3", containerPort: MINIO_PORT, protocol: "TCP" },
                        { name: "console", containerPort: 9001, protocol: "TCP" },
                    ],
                    readinessProbe: probe("/minio/health/ready", 10),
                    livenessProbe: probe("/minio/health/live", 20),
                    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                    securityContext: containerSecurityContext(true),
                    volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "tmp", mountPath: "/tmp" }],
                },
            ],
            volumes: [{ name: "tmp", emptyDir: {} }],
        },
    });
}

export function minioService(namespace: string): k8s.types.input.core.v1.Service {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(MINIO_NAME, namespace, MINIO_COMPONENT),
        spec: { type: "ClusterIP", selector: selectorLabels(MINIO_COMPONENT, MINIO_NAME), ports: [{ name: "s3", port: MINIO_PORT, targetPort: "s3", protocol: "TCP" }] },
    };
}

/** Creates the bucket (private, versioned) and MLflow's user limited to it; idempotent. */
export function minioBucketJob(p: { namespace: string; bucket: string; rootSecretName: Input<string>; keysSecretName: Input<string> }): k8s.types.input.batch.v1.Job {
    const script = [
        "set -eu",
        `mc alias set local ${minioEndpoint(p.namespace)} "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"`,
        `mc mb --ignore-existing local/${p.bucket}`,
        `mc version enable local/${p.bucket}`,
        `mc anonymous set none local/${p.bucket}`,
        `cat > /tmp/policy.json <<'POLICY'\n${JSON.stringify(minioBucketPolicy(p.bucket))}\nPOLICY`,
        "mc admin policy create local mlflow-artifacts /tmp/policy.json",
        'mc admin user add local "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"',
        'mc admin policy attach local mlflow-artifacts --user "$AWS_ACCESS_KEY_ID" || true',
        `echo "bucket ${p.bucket} ready"`,
    ].join("\n");
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta("minio-bucket", p.namespace, MINIO_COMPONENT),
        spec: {
            backoffLimit: 6,
            activeDeadlineSeconds: 900,
            template: {
                metadata: { labels: labels(MINIO_COMPONENT, "minio-bucket") },
                spec: {
                    restartPolicy: "OnFailure",
                    automountServiceAccountToken: false,
                    securityContext: podSecurityContext(),
                    containers: [
                        {
                            name: "mc",
                            image: MINIO_CLIENT_IMAGE,
                            command: ["/bin/sh", "-c", script],
                            env: [
                                secretEnv("MINIO_ROOT_USER", p.rootSecretName, "username"),
                                secretEnv("MINIO_ROOT_PASSWORD", p.rootSecretName, "password"),
                                secretEnv("AWS_ACCESS_KEY_ID", p.keysSecretName, "AWS_ACCESS_KEY_ID"),
                                secretEnv("AWS_SECRET_ACCESS_KEY", p.keysSecretName, "AWS_SECRET_ACCESS_KEY"),
                                env("HOME", "/tmp"),
                                env("MC_CONFIG_DIR", "/tmp/.mc"),
                                ...telemetryEnv(),
                            ],
                            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                            securityContext: containerSecurityContext(),
                            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                        },
                    ],
                    volumes: [{ name: "tmp", emptyDir: {} }],
                },
            },
        },
    };
}
