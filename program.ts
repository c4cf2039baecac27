/**
 * The composition root: validated config → components → stack outputs. Decisions live in config.ts,
 * manifests/ and lib/; the components only create resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, OidcConfig, PlatformConfig } from "./config";
import { MinioStore } from "./components/minio-store";
import { ModelServing } from "./components/model-serving";
import { allowedStoragePrefixes, lookupServedModels, registryUri } from "./lib/serving-lookup";
import { ArtifactStore } from "./components/artifact-store";
import { InClusterDatabase } from "./components/in-cluster-database";
import { imageRepositoryName, MLFLOW_IMAGE_LEGACY_TYPE, ProjectImage } from "./components/project-image";
import { imageOverride, imagesToBuild, type ProjectImageName } from "./lib/stack-images";
import { PlatformNamespace } from "./components/namespace";
import { StaticArtifactCredentials } from "./components/static-artifact-credentials";
import { TrackingServer, TRACKING_SERVICE_ACCOUNT } from "./components/tracking-server";
import { TrainingJobs, TRAINING_SERVICE_ACCOUNT } from "./components/training-jobs";
import { PromotionJob } from "./components/promotion-job";
import { BatchJobs } from "./components/batch-jobs";
import { GarbageCollection } from "./components/garbage-collection";
import { DatabaseBackup } from "./components/database-backup";
import { Access, AccessOidcArgs, AUTH_DATABASE } from "./components/access";
import { DatabaseMigration } from "./components/database-migration";
import { RdsDatabase } from "./components/rds-database";
import { irsaAnnotation, WorkloadIdentity } from "./components/workload-identity";
import { awsRegion, loadPlatformConfig } from "./lib/load-config";
import { clusterChecks, requireClusterApis } from "./lib/cluster-apis";
import { resolveKubeConnection, type KubeconfigSource } from "./lib/kube-api";
import { awaitServedModels } from "./lib/serving-readiness";
import { storageDirectoryUri } from "./manifests/serving";
import { AwsCredentialSource } from "./manifests/common";
import { BACKUP_SERVICE_ACCOUNT, backupPrefix } from "./manifests/backup";
import { batchPaths } from "./manifests/batch";

/** Default location of the training CSV inside the artifact bucket. */
export const DEFAULT_DATASET_KEY = "datasets/california_housing.csv";
/** Service accounts of the three workloads that touch the artifact bucket. */
export const SERVICE_ACCOUNTS = { tracking: TRACKING_SERVICE_ACCOUNT, training: TRAINING_SERVICE_ACCOUNT, serving: "mlflow-serving" } as const;

/** Whether the in-cluster database is backed up by the CronJob (RDS backs itself up). */
function backsUpInCluster(cfg: PlatformConfig): boolean {
    return cfg.backup.enabled && cfg.database.mode === "inCluster";
}

/** Creates the whole platform for one stack and returns its outputs. */
export async function platform(cfg: PlatformConfig): Promise<Record<string, unknown>> {
    const local = cfg.artifactStore.mode === "minio";
    // MinIO needs a region for request signing only; S3 stacks need the real one.
    const region = local ? "us-east-1" : awsRegion(cfg);
    if (!region) throw new ConfigError([{ key: "aws:region", message: "aws:region is required for an S3 artifact store: pulumi config set aws:region eu-west-1 (or set mlflow-platform:cluster.region)" }]);

    // Pre-flight checks first, before any resource is registered: a failure changes nothing at all.
    // The custom kinds the stack declares (KServe for served models, ServiceMonitor), then the registry lookups.
    await requireClusterApis(cfg, providerKubeconfig);
    const served = await lookupServedModels(cfg, { region, s3Endpoint: local ? process.env.AWS_ENDPOINT_URL_S3 : undefined });

    const ns = new PlatformNamespace("namespace", { name: cfg.namespace });
    const inNamespace = { dependsOn: [ns] };
    const artifacts = local ? minioArtifacts(cfg, inNamespace) : s3Artifacts(cfg, region, inNamespace);
    const { aws, identity } = artifacts;
    const datasetS3Path = artifacts.datasetS3Path;
    const roleAnnotation = (sa: string) => (identity ? irsaAnnotation(identity.roleArns[sa]) : undefined);

    // Backend store: the in-cluster PostgreSQL stays (retained) next to RDS until database.retireInCluster.
    const inCluster =
        cfg.database.mode === "inCluster" || !cfg.database.retireInCluster
            ? new InClusterDatabase(
                  "postgres",
                  {
                      namespace: cfg.namespace,
                      image: cfg.database.inCluster.image,
                      storageSize: cfg.database.inCluster.storageSize,
                      storageClassName: cfg.database.inCluster.storageClassName,
                      resources: cfg.database.inCluster.resources,
                      database: cfg.database.name,
                      username: cfg.database.username,
                      password: cfg.database.inCluster.password,
                  },
                  inNamespace,
              )
            : undefined;
    // RDS stays declared after a rollback to inCluster (database.keepRds): it is protected and holds data.
    const rds =
        cfg.database.mode === "rds" || cfg.database.keepRds
            ? new RdsDatabase(
                  "rds",
                  {
                      namespace: cfg.namespace,
                      identifier: `mlflow-${cfg.stack}`,
                      vpcId: cfg.database.rds.vpcId as string,
                      subnetIds: cfg.database.rds.subnetIds,
                      allowedCidrBlocks: cfg.database.rds.allowedCidrBlocks,
                      allowedSecurityGroupIds: cfg.database.rds.allowedSecurityGroupIds,
                      instanceClass: cfg.database.rds.instanceClass,
                      allocatedStorage: cfg.database.rds.allocatedStorage,
                      maxAllocatedStorage: cfg.database.rds.maxAllocatedStorage,
                      engineVersion: cfg.database.rds.engineVersion,
                      multiAz: cfg.database.rds.multiAz,
                      backupRetentionDays: cfg.database.rds.backupRetentionDays,
                      deletionProtection: cfg.database.rds.deletionProtection,
                      database: cfg.database.name,
                      username: cfg.database.username,
                      password: cfg.database.rds.password,
                  },
                  inNamespace,
              )
            : undefined;
    const backend = cfg.database.mode === "rds" ? rds : inCluster;
    if (!backend) throw new Error("no backend store: database.mode is inCluster but the in-cluster database is retired");
    const migration =
        cfg.database.mode === "rds" && rds && inCluster && cfg.database.migrateFromInCluster
            ? new DatabaseMigration(
                  "db-migration",
                  {
                      namespace: cfg.namespace,
                      sourceSecretName: inCluster.backendStoreSecretName,
                      targetSecretName: rds.backendStoreSecretName,
                      image: cfg.database.inCluster.image,
                      authDatabase: cfg.access.auth === "basic" ? AUTH_DATABASE : undefined,
                  },
                  { dependsOn: [ns, inCluster, rds] },
              )
            : undefined;

    // Every image the stack runs, built or named (the Access component's sign-in sidecar is one of them).
    const images = stackImages(cfg);
    const imageRef = images.mlflow as pulumi.Input<string>;

    // Access: Ingress or Gateway + basic auth or single sign-on (future state), or cluster-local.
    const access =
        cfg.access.mode !== "clusterLocal"
            ? new Access(
                  "access",
                  {
                      namespace: cfg.namespace,
                      // config.ts requires the host (and the Gateway's name and namespace) for the mode.
                      host: (cfg.access.mode === "gateway" ? cfg.access.gateway.host : cfg.access.ingress.host) as string,
                      gateway:
                          cfg.access.mode === "gateway"
                              ? {
                                    name: cfg.access.gateway.name as string,
                                    namespace: cfg.access.gateway.namespace as string,
                                    sectionName: cfg.access.gateway.sectionName,
                                    proxyNamespace: cfg.access.gateway.proxyNamespace,
                                }
                              : undefined,
                      className: cfg.access.ingress.className,
                      tlsSecretName: cfg.access.ingress.tlsSecretName,
                      clusterIssuer: cfg.access.ingress.clusterIssuer,
                      annotations: cfg.access.ingress.annotations,
                      defaultPermission: cfg.access.defaultPermission,
                      backendStoreSecretName: backend.backendStoreSecretName,
                      authDatabaseUri: backend.uri(AUTH_DATABASE),
                      postgresImage: cfg.database.inCluster.image,
                      ingressControllerNamespace: cfg.cluster.ingressControllerNamespace,
                      prometheusNamespace: cfg.observability.serviceMonitor ? cfg.observability.prometheusNamespace : undefined,
                      adminPassword: cfg.access.adminPassword,
                      flaskSecretKey: cfg.access.flaskSecretKey,
                      oidc: cfg.access.auth === "oidc" ? oidcArgs(cfg.access.oidc, inUse(images["oauth2-proxy"], "access.oidc.proxyImage")) : undefined,
                  },
                  { dependsOn: [ns, backend, ...(migration ? [migration] : [])] },
              )
            : undefined;

    const tracking = new TrackingServer(
        "tracking-server",
        {
            namespace: cfg.namespace,
            image: imageRef,
            replicas: cfg.trackingServer.replicas,
            telemetry: cfg.telemetry.enabled,
            workers: cfg.trackingServer.workers,
            resources: cfg.trackingServer.resources,
            backendStoreSecretName: backend.backendStoreSecretName,
            artifactRoot: pulumi.interpolate`${artifacts.rootUri}/`,
            aws,
            serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.tracking),
            extraAllowedHosts: [...cfg.trackingServer.extraAllowedHosts, ...(access?.allowedHosts ?? [])],
            corsOrigins: access?.corsOrigins,
            auth: access?.authSecretName ? { secretName: access.authSecretName } : undefined,
            sso: access?.sso,
            podAnnotations: access ? { "mlflow-platform/auth-config": access.configChecksum } : undefined,
            metrics: cfg.observability.metrics,
            autoscaling: cfg.trackingServer.autoscaling.enabled ? cfg.trackingServer.autoscaling : undefined,
            serviceMonitor: cfg.observability.serviceMonitor
                ? { interval: cfg.observability.scrapeInterval, basicAuthSecretName: access?.trackingCredentialsSecretName }
                : undefined,
            // The schema migration (and so the Deployment) waits for a verified copy and the auth database.
            waitFor: [...(migration ? [migration.job] : []), ...(access?.ready ?? []), ...artifacts.waitFor],
        },
        { dependsOn: [ns, backend] },
    );

    const training = new TrainingJobs(
        "training",
        {
            namespace: cfg.namespace,
            image: images.trainer,
            trackingUri: tracking.trackingUri,
            experiment: cfg.training.experiment,
            telemetry: cfg.telemetry.enabled,
            registeredModel: cfg.training.registeredModel,
            datasetS3Path,
            dvcRemote: cfg.training.dataset.dvcRemote,
            dvcHash: cfg.training.dataset.dvcHash,
            profiles: cfg.training.profiles,
            resources: cfg.training.resources,
            activeDeadlineSeconds: cfg.training.activeDeadlineSeconds,
            ttlSecondsAfterFinished: cfg.training.ttlSecondsAfterFinished,
            backoffLimit: cfg.training.backoffLimit,
            aws,
            serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.training),
            trackingCredentialsSecretName: access?.trackingCredentialsSecretName,
        },
        inNamespace,
    );

    // Batch inference templates: models:/<model>@<alias> over a CSV in S3 (as the training ServiceAccount).
    const batch =
        cfg.batch.profiles.length > 0
            ? new BatchJobs(
                  "batch",
                  {
                      namespace: cfg.namespace,
                      image: inUse(images.trainer, "training.image"),
                      trackingUri: tracking.trackingUri,
                      registeredModel: cfg.batch.registeredModel,
                      telemetry: cfg.telemetry.enabled,
                      alias: cfg.batch.alias,
                      profiles: cfg.batch.profiles,
                      artifactRoot: artifacts.rootUri,
                      resources: cfg.batch.resources,
                      activeDeadlineSeconds: cfg.batch.activeDeadlineSeconds,
                      ttlSecondsAfterFinished: cfg.batch.ttlSecondsAfterFinished,
                      backoffLimit: cfg.batch.backoffLimit,
                      aws,
                      trackingCredentialsSecretName: access?.trackingCredentialsSecretName,
                  },
                  { dependsOn: [ns, training, ...artifacts.waitFor] },
              )
            : undefined;

    // The promotion template: the gate of `npm run promote`, in the cluster (runs as the training ServiceAccount).
    const promotion = cfg.promotion.template
        ? new PromotionJob(
              "promotion",
              {
                  namespace: cfg.namespace,
                  image: inUse(images.trainer, "training.image"),
                  trackingUri: tracking.trackingUri,
                  registeredModel: cfg.training.registeredModel,
                  telemetry: cfg.telemetry.enabled,
                  alias: cfg.promotion.alias,
                  metric: cfg.promotion.metric,
                  maxRegression: cfg.promotion.maxRegression,
                  resources: cfg.promotion.resources,
                  trackingCredentialsSecretName: access?.trackingCredentialsSecretName,
              },
              { dependsOn: [ns, training] },
          )
        : undefined;

    // Backups of the in-cluster database to <artifact root>/backups/ (RDS backs itself up).
    const backup =
        backsUpInCluster(cfg) && inCluster
            ? new DatabaseBackup(
                  "db-backup",
                  {
                      namespace: cfg.namespace,
                      schedule: cfg.backup.schedule,
                      postgresImage: cfg.database.inCluster.image,
                      uploaderImage: imageRef,
                      host: inCluster.host,
                      username: cfg.database.username,
                      passwordSecretName: inCluster.passwordSecretName,
                      database: cfg.database.name,
                      authDatabase: cfg.access.auth === "basic" ? AUTH_DATABASE : undefined,
                      artifactRoot: artifacts.rootUri,
                      aws,
                      serviceAccountAnnotations: roleAnnotation(BACKUP_SERVICE_ACCOUNT),
                      kmsKeyArn: local ? undefined : cfg.artifactStore.kmsKeyArn,
                      serverSideEncryption: local ? "none" : undefined, // MinIO without KMS refuses SSE
                  },
                  { dependsOn: [ns, inCluster, ...artifacts.waitFor, ...(access?.ready ?? [])] },
              )
            : undefined;

    // Garbage collection of deleted runs (mlflow gc), as the tracking server: its database and bucket.
    const gc = cfg.gc.enabled
        ? new GarbageCollection(
              "gc",
              {
                  namespace: cfg.namespace,
                  image: imageRef,
                  backendStoreSecretName: backend.backendStoreSecretName,
                  aws,
                  resources: cfg.gc.resources,
                  telemetry: cfg.telemetry.enabled,
                  schedule: cfg.gc.schedule,
                  olderThan: cfg.gc.olderThan,
                  backoffLimit: cfg.gc.backoffLimit,
              },
              { dependsOn: [ns, tracking] },
          )
        : undefined;

    const serving = new ModelServing(
        "serving",
        {
            namespace: cfg.namespace,
            models: cfg.serving.models,
            resolved: served,
            runtime: cfg.serving.runtime,
            installRuntime: cfg.serving.installRuntime,
            runtimeImage: images.serving,
            telemetry: cfg.telemetry.enabled,
            aws,
            serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.serving),
            deploymentMode: cfg.serving.deploymentMode,
            storageInitializerImage: images["storage-initializer"],
            storageInitializerResources: cfg.serving.storageInitializer.resources,
            storagePrefixes: allowedStoragePrefixes(cfg),
        },
        { dependsOn: [ns, ...artifacts.waitFor] },
    );

    // After `up` applied the InferenceServices: each model version loaded, or the up fails naming the model.
    const servedModelsLoaded = cfg.serving.models.length > 0 && cfg.serving.readyTimeoutSeconds > 0 ? modelsLoaded(cfg, serving) : undefined;

    return {
        stack: cfg.stack,
        namespace: cfg.namespace,
        trackingUri: tracking.trackingUri,
        externalUrl: access?.externalUrl,
        artifactStore: cfg.artifactStore.mode,
        bucketName: artifacts.bucketName,
        artifactRoot: artifacts.rootUri,
        s3Endpoint: aws.s3Endpoint,
        databaseMode: cfg.database.mode,
        rdsAddress: rds?.address,
        artifactAuth: cfg.artifactAuth,
        irsaRoleArns: identity?.roleArns,
        accessMode: cfg.access.mode,
        // The credentials of mlflow-tracking-credentials: the basic-auth admin, or the single sign-on machine user.
        ...(cfg.access.auth === "oidc"
            ? { machineUsername: access?.clientUsername, machinePassword: access?.clientPassword }
            : { adminUsername: access?.clientUsername, adminPassword: access?.clientPassword }),
        imageRef,
        trainerImage: images.trainer,
        servingRuntimeImage: images.serving,
        ssoProxyImage: images["oauth2-proxy"],
        storageInitializerImage: images["storage-initializer"],
        trainingTemplates: training.templates,
        batchTemplates: batch?.templates,
        promotionTemplate: promotion ? { cronJob: promotion.cronJob, launch: promotion.launch } : undefined,
        gcCommand: gc?.command,
        backup: backup ? { cronJob: backup.cronJobName, launch: backup.launch, prefix: backup.prefix } : undefined,
        servedModels: serving.models,
        servedModelsLoaded,
        registryUri: cfg.serving.models.length > 0 ? registryUri(cfg) : undefined,
        portForward: `kubectl port-forward --namespace ${cfg.namespace} svc/${tracking.serviceName} 5000:5000`,
    };
}

/**
 * Every image the stack runs: the one config names, else the one it builds (the tracking-server image keeps
 * its first type token as an alias, so existing stacks keep their ECR repository). Undefined: not in use.
 */
function stackImages(cfg: PlatformConfig): Record<ProjectImageName, pulumi.Input<string> | undefined> {
    const build = new Set(imagesToBuild(cfg));
    const pick = (image: ProjectImageName): pulumi.Input<string> | undefined => {
        if (!build.has(image)) return imageOverride(cfg, image);
        const repositoryName = image === "mlflow" ? (cfg.image.repositoryName ?? imageRepositoryName(cfg.stack, image)) : imageRepositoryName(cfg.stack, image);
        const opts = image === "mlflow" ? { aliases: [{ type: MLFLOW_IMAGE_LEGACY_TYPE }] } : {};
        return new ProjectImage(`${image}-image`, { image, repositoryName, platform: cfg.image.platform }, opts).ref;
    };
    return { mlflow: pick("mlflow"), trainer: pick("trainer"), serving: pick("serving"), "oauth2-proxy": pick("oauth2-proxy"), "storage-initializer": pick("storage-initializer") };
}

/** An image a declared workload runs: built or named, which config.ts checks (a gap here is a bug, not bad input). */
function inUse(image: pulumi.Input<string> | undefined, key: string): pulumi.Input<string> {
    if (image === undefined) throw new Error(`no image for a workload that runs one: config.ts should have asked for ${key}`);
    return image;
}

/** Where artifacts live and how pods reach them. */
interface ArtifactBackend {
    readonly bucketName: pulumi.Input<string>;
    readonly rootUri: pulumi.Input<string>;
    readonly datasetS3Path: pulumi.Input<string>;
    readonly aws: AwsCredentialSource;
    readonly identity?: WorkloadIdentity;
    /** Resources that must exist before anything writes artifacts. */
    readonly waitFor: pulumi.Resource[];
}

/** S3 bucket plus static keys (current state) or IRSA roles (future state). */
function s3Artifacts(cfg: PlatformConfig, region: string, inNamespace: pulumi.CustomResourceOptions): ArtifactBackend {
    const store = new ArtifactStore("artifacts", {
        bucketName: cfg.artifactStore.bucketName,
        bucketPrefix: `mlflow-artifacts-${cfg.stack}-`,
        forceDestroy: cfg.artifactStore.forceDestroy,
        noncurrentVersionDays: cfg.artifactStore.noncurrentVersionDays,
        abortIncompleteUploadDays: cfg.artifactStore.abortIncompleteUploadDays,
        kmsKeyArn: cfg.artifactStore.kmsKeyArn,
        backupRetentionDays: cfg.backup.retentionDays,
    });
    const datasetS3Path = cfg.training.dataset.s3Path ?? pulumi.interpolate`${store.rootUri}/${DEFAULT_DATASET_KEY}`;
    // Where training and the batch profiles read and write: outside the bucket, the training credentials get those grants too.
    const batch = cfg.batch.profiles.map((p) => batchPaths(store.rootUri, p));
    const trainingS3Paths = pulumi
        .all([datasetS3Path, pulumi.output(batch)])
        .apply(([dataset, b]) => ({ dataset, batchInputs: b.map((x) => x.input), batchOutputs: b.map((x) => x.output) }));
    const backup = backsUpInCluster(cfg);
    if (cfg.artifactAuth === "irsa") {
        const identity = new WorkloadIdentity("workload-identity", {
            namespace: cfg.namespace,
            oidcProviderArn: cfg.cluster.oidcProviderArn as string,
            oidcIssuerUrl: cfg.cluster.oidcIssuerUrl as string,
            bucketName: store.bucketName,
            trainingS3Paths,
            serviceAccounts: backup ? { ...SERVICE_ACCOUNTS, backup: BACKUP_SERVICE_ACCOUNT } : SERVICE_ACCOUNTS,
            backupS3Prefix: backup ? backupPrefix(store.rootUri) : undefined,
        });
        return { bucketName: store.bucketName, rootUri: store.rootUri, datasetS3Path, aws: { region }, identity, waitFor: [] };
    }
    const credentials = new StaticArtifactCredentials(
        "artifact-credentials",
        {
            namespace: cfg.namespace,
            bucketName: store.bucketName,
            trainingS3Paths,
            accessKeyId: cfg.staticKeys.accessKeyId,
            secretAccessKey: cfg.staticKeys.secretAccessKey,
            region,
        },
        inNamespace,
    );
    return { bucketName: store.bucketName, rootUri: store.rootUri, datasetS3Path, aws: { keysSecretName: credentials.secretName, region }, waitFor: [] };
}

/** MinIO in the cluster (local stacks): no AWS resource, no AWS credentials. */
function minioArtifacts(cfg: PlatformConfig, inNamespace: pulumi.CustomResourceOptions): ArtifactBackend {
    const m = cfg.artifactStore.minio;
    const minio = new MinioStore(
        "minio",
        {
            namespace: cfg.namespace,
            image: m.image,
            bucketName: m.bucketName,
            storageSize: m.storageSize,
            storageClassName: m.storageClassName,
            rootUser: m.rootUser,
            rootPassword: m.rootPassword,
            accessKeyId: m.accessKeyId,
            secretAccessKey: m.secretAccessKey,
        },
        inNamespace,
    );
    return {
        bucketName: minio.bucketName,
        rootUri: minio.rootUri,
        datasetS3Path: cfg.training.dataset.s3Path ?? `${minio.rootUri}/${DEFAULT_DATASET_KEY}`,
        aws: { keysSecretName: minio.keysSecretName, region: "us-east-1", s3Endpoint: minio.endpoint },
        waitFor: [minio.ready],
    };
}

/** The kubeconfig the Kubernetes provider uses: the pre-flight checks and the load wait read the same cluster. */
function providerKubeconfig(): KubeconfigSource {
    return {
        kubeconfig: pulumi.runtime.getConfig("kubernetes:kubeconfig"),
        context: pulumi.runtime.getConfig("kubernetes:context"),
        cluster: pulumi.runtime.getConfig("kubernetes:cluster"),
    };
}

/**
 * Once `up` has applied every InferenceService (their ids resolve), waits until KServe has loaded each model
 * version (lib/serving-readiness.ts); a failed load rejects this output, which fails the up with KServe's
 * reason. Not in a preview (nothing was applied), nor in the offline render (no cluster).
 */
function modelsLoaded(cfg: PlatformConfig, serving: ModelServing): pulumi.Output<boolean | undefined> {
    const ids = Object.values(serving.inferenceServices).map((r) => r.id);
    return pulumi.all(ids).apply(async () => {
        if (pulumi.runtime.isDryRun() || !clusterChecks.enabled) return undefined;
        const models = cfg.serving.models.map((m, i) => ({
            name: m.name,
            namespace: cfg.namespace,
            storageUri: storageDirectoryUri(serving.models[i].storageUri),
            mode: cfg.serving.deploymentMode,
            label: `served model "${m.name}" (${servedRef(serving.models[i])})`,
        }));
        await awaitServedModels(resolveKubeConnection(providerKubeconfig()), models, {
            timeoutMs: cfg.serving.readyTimeoutSeconds * 1000,
            log: (line) => void pulumi.log.info(line),
        });
        return true;
    });
}

/** `CaliforniaHousingRegressor alias "production" → version 7`, `… version 7`, or `… pinned storageUri`. */
function servedRef(m: { registeredModel: string; alias?: string; version?: string }): string {
    if (m.alias) return `${m.registeredModel} alias "${m.alias}" → version ${m.version ?? "?"}`;
    return m.version ? `${m.registeredModel} version ${m.version}` : `${m.registeredModel}, pinned storageUri`;
}

/** The Pulumi entry point: reads the stack's config and builds the platform. */
export async function main(): Promise<Record<string, unknown>> {
    return platform(loadPlatformConfig());
}

/** access.oidc as the Access component's args (config.ts has required issuerUrl, clientId and clientSecret with auth oidc). */
function oidcArgs(o: OidcConfig, proxyImage: pulumi.Input<string>): AccessOidcArgs {
    return {
        issuerUrl: o.issuerUrl as string,
        clientId: o.clientId as string,
        clientSecret: o.clientSecret as string,
        cookieSecret: o.cookieSecret,
        machinePassword: o.machinePassword,
        allowedEmailDomains: o.allowedEmailDomains,
        allowedEmails: o.allowedEmails,
        allowedGroups: o.allowedGroups,
        groupsClaim: o.groupsClaim,
        scope: o.scope,
        proxyImage,
    };
}
