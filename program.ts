/**
 * The composition root: validated config → components → stack outputs. Decisions live in config.ts,
 * manifests/ and lib/; the components only create resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { ArtifactStore } from "./components/artifact-store";
import { InClusterDatabase } from "./components/in-cluster-database";
import { MlflowImage } from "./components/mlflow-image";
import { PlatformNamespace } from "./components/namespace";
import { StaticArtifactCredentials } from "./components/static-artifact-credentials";
import { TrackingServer } from "./components/tracking-server";
import { TrainingJobs } from "./components/training-jobs";
import { awsRegion, loadPlatformConfig } from "./lib/load-config";
import { AwsCredentialSource } from "./manifests/common";

/** Default location of the training CSV inside the artifact bucket. */
export const DEFAULT_DATASET_KEY = "datasets/california_housing.csv";

/** Creates the whole platform for one stack and returns its outputs. */
export async function platform(cfg: PlatformConfig): Promise<Record<string, unknown>> {
    const unsupported = [
        cfg.database.mode === "rds" && "database.mode=rds",
        cfg.artifactAuth === "irsa" && "artifactAuth=irsa",
        cfg.access.mode === "ingress" && "access.mode=ingress",
        cfg.artifactStore.mode === "minio" && "artifactStore.mode=minio",
    ].filter(Boolean);
    if (unsupported.length > 0) throw new Error(`not implemented yet: ${unsupported.join(", ")}`);

    const region = awsRegion(cfg);
    if (!region) throw new Error("mlflow-platform needs an AWS region: set aws:region (pulumi config set aws:region eu-west-1) or mlflow-platform:cluster.region");

    const ns = new PlatformNamespace("namespace", { name: cfg.namespace });
    const inNamespace = { dependsOn: [ns] };

    const store = new ArtifactStore("artifacts", {
        bucketName: cfg.artifactStore.bucketName,
        bucketPrefix: `mlflow-artifacts-${cfg.stack}-`,
        forceDestroy: cfg.artifactStore.forceDestroy,
        noncurrentVersionDays: cfg.artifactStore.noncurrentVersionDays,
        abortIncompleteUploadDays: cfg.artifactStore.abortIncompleteUploadDays,
        kmsKeyArn: cfg.artifactStore.kmsKeyArn,
    });

    const credentials = new StaticArtifactCredentials(
        "artifact-credentials",
        { namespace: cfg.namespace, bucketName: store.bucketName, accessKeyId: cfg.staticKeys.accessKeyId, secretAccessKey: cfg.staticKeys.secretAccessKey },
        inNamespace,
    );
    const aws: AwsCredentialSource = { keysSecretName: credentials.secretName, region };

    const database = new InClusterDatabase(
        "postgres",
        {
            namespace: cfg.namespace,
            image: cfg.database.inCluster.image,
            storageSize: cfg.database.inCluster.storageSize,
            storageClassName: cfg.database.inCluster.storageClassName,
            resources: cfg.database.inCluster.resources,
            database: cfg.database.name,
            username: cfg.database.username,
        },
        inNamespace,
    );

    const imageRef: pulumi.Input<string> = cfg.image.ref ?? new MlflowImage("mlflow-image", { repositoryName: cfg.image.repositoryName, platform: cfg.image.platform }).ref;

    const tracking = new TrackingServer(
        "tracking-server",
        {
            namespace: cfg.namespace,
            image: imageRef,
            replicas: cfg.trackingServer.replicas,
            workers: cfg.trackingServer.workers,
            resources: cfg.trackingServer.resources,
            backendStoreSecretName: database.backendStoreSecretName,
            artifactRoot: pulumi.interpolate`${store.rootUri}/`,
            aws,
            extraAllowedHosts: cfg.trackingServer.extraAllowedHosts,
        },
        { dependsOn: [ns, database] },
    );

    const training = new TrainingJobs(
        "training",
        {
            namespace: cfg.namespace,
            image: cfg.training.image,
            trackingUri: tracking.trackingUri,
            experiment: cfg.training.experiment,
            registeredModel: cfg.training.registeredModel,
            datasetS3Path: cfg.training.dataset.s3Path ?? pulumi.interpolate`${store.rootUri}/${DEFAULT_DATASET_KEY}`,
            dvcRemote: cfg.training.dataset.dvcRemote,
            dvcHash: cfg.training.dataset.dvcHash,
            profiles: cfg.training.profiles,
            resources: cfg.training.resources,
            activeDeadlineSeconds: cfg.training.activeDeadlineSeconds,
            ttlSecondsAfterFinished: cfg.training.ttlSecondsAfterFinished,
            backoffLimit: cfg.training.backoffLimit,
            aws,
        },
        inNamespace,
    );

    return {
        stack: cfg.stack,
        namespace: cfg.namespace,
        trackingUri: tracking.trackingUri,
        bucketName: store.bucketName,
        artifactRoot: store.rootUri,
        databaseMode: cfg.database.mode,
        artifactAuth: cfg.artifactAuth,
        accessMode: cfg.access.mode,
        imageRef,
        trainingTemplates: training.templates,
        portForward: `kubectl port-forward --namespace ${cfg.namespace} svc/${tracking.serviceName} 5000:5000`,
    };
}

/** The Pulumi entry point: reads the stack's config and builds the platform. */
export async function main(): Promise<Record<string, unknown>> {
    return platform(loadPlatformConfig());
}
