/**
 * The whole platform as one component: validated config in, every part a child, the parts wired as the
 * architecture has them (artifact store and database → tracking server ← access; training, batch, promotion,
 * backup and gc → tracking server; registry lookups → serving).
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, mlflowVersionOf, type PlatformConfig } from "../config";
import { clusterChecks, requireClusterApis } from "../lib/cluster-apis";
import { resolveKubeConnection, type KubeconfigSource } from "../lib/kube-api";
import { planMlflowUpgrade, UpgradeRefused, type SchemaRecord, type UpgradePlan } from "../lib/mlflow-version";
import { readSchemaRecord } from "../lib/schema-record";
import { awsRegion } from "../lib/load-config";
import type { ResolvedModel } from "../lib/registry/resolver";
import { allowedStoragePrefixes, lookupServedModels, registryUri } from "../lib/serving-lookup";
import { awaitServedModels } from "../lib/serving-readiness";
import { imageOverride, imagesToBuild, type ProjectImageName } from "../lib/stack-images";
import { BACKUP_SERVICE_ACCOUNT, backupPrefix } from "../manifests/backup";
import { batchPaths } from "../manifests/batch";
import type { AwsCredentialSource } from "../manifests/common";
import { SERVING_SERVICE_ACCOUNT, storageDirectoryUri } from "../manifests/serving";
import { Access, AUTH_DATABASE } from "./access";
import { ArtifactStore } from "./artifact-store";
import { BatchJobs } from "./batch-jobs";
import { DatabaseBackup } from "./database-backup";
import { DatabaseMigration } from "./database-migration";
import { GarbageCollection } from "./garbage-collection";
import { GC_CRONJOB } from "../manifests/gc";
import { TRACKING_SERVICE_NAME } from "../manifests/tracking-server";
import { MlflowUpgrade } from "./mlflow-upgrade";
import { InClusterDatabase } from "./in-cluster-database";
import { MinioStore } from "./minio-store";
import { ModelServing, type ServedModelOutput } from "./model-serving";
import { PlatformNamespace } from "./namespace";
import { imageRepositoryName, MLFLOW_IMAGE_LEGACY_TYPE, ProjectImage } from "./project-image";
import { PromotionJob } from "./promotion-job";
import { RdsDatabase } from "./rds-database";
import { StaticArtifactCredentials } from "./static-artifact-credentials";
import { TrackingServer, TRACKING_SERVICE_ACCOUNT } from "./tracking-server";
import { TrainingJobs, TRAINING_SERVICE_ACCOUNT } from "./training-jobs";
import { irsaAnnotation, WorkloadIdentity } from "./workload-identity";

/** Default location of the training CSV inside the artifact bucket. */
export const DEFAULT_DATASET_KEY = "datasets/california_housing.csv";
/** Service accounts of the three workloads that touch the artifact bucket. */
export const SERVICE_ACCOUNTS = { tracking: TRACKING_SERVICE_ACCOUNT, training: TRAINING_SERVICE_ACCOUNT, serving: SERVING_SERVICE_ACCOUNT } as const;

export interface MlflowPlatformArgs {
    /** The platform's configuration, validated: `parseConfig(raw, stack)` or `loadPlatformConfig()` (config.ts). */
    readonly config: PlatformConfig;
    /**
     * The cluster the pre-flight checks and the wait for served models read: the one the Kubernetes provider of
     * this component deploys to. Defaults to the stack's `kubernetes:kubeconfig` and `kubernetes:context` config
     * (the default provider's).
     */
    readonly kubeconfig?: KubeconfigSource;
    /**
     * What the cluster records about the tracking server's database (the MLflow version it was migrated to). Defaults
     * to reading it from the cluster (ConfigMap mlflow-schema) before anything is registered; offline (the render's
     * mocks), a fresh install.
     */
    readonly schemaRecord?: SchemaRecord;
}

/**
 * The MLflow platform for one environment (`mlflow-platform:index:MlflowPlatform`): the namespace, the artifact
 * store (S3 or MinIO) and how pods reach it (static keys or IRSA), the backend store (in-cluster PostgreSQL and/or
 * RDS, and the move between them), access (Ingress or Gateway with basic auth or single sign-on), the tracking
 * server, the training, batch and promotion templates, backups, garbage collection, and KServe serving of the
 * registered models config names. Create it with `MlflowPlatform.create`: the pre-flight checks (the cluster's
 * APIs) and the registry lookups of served models run first, so a failure changes nothing at all.
 *
 * Stacks deployed before this component existed had its parts at the top level: each part keeps them through an
 * alias (no replace, no delete).
 */
export class MlflowPlatform extends pulumi.ComponentResource {
    /** http://mlflow.<namespace>.svc.cluster.local:5000 */
    public readonly trackingUri: string;
    /** https://<host> when access is an Ingress or a Gateway. */
    public readonly externalUrl?: string;
    /** The artifact bucket. */
    public readonly bucketName: pulumi.Output<string>;
    /** s3://<bucket> */
    public readonly artifactRoot: pulumi.Output<string>;
    /** What each InferenceService serves (model, version, alias, storage URI). */
    public readonly servedModels: ServedModelOutput[];
    /** The stack outputs of the platform program (index.ts returns them). */
    public readonly outputs: Record<string, unknown>;

    /** Pre-flight checks and registry lookups, then the platform. */
    public static async create(name: string, args: MlflowPlatformArgs, opts?: pulumi.ComponentResourceOptions): Promise<MlflowPlatform> {
        const cfg = args.config;
        const kubeconfig = args.kubeconfig ?? providerKubeconfig();
        const region = artifactRegion(cfg);
        // Pre-flight checks first, before any resource is registered: a failure changes nothing at all.
        // The custom kinds the stack declares (KServe for served models, ServiceMonitor), then the registry lookups.
        await requireClusterApis(cfg, () => kubeconfig);
        // The MLflow version the database was migrated to, against the configured one: a downgrade is refused here.
        const upgrade = await upgradePlan(cfg, kubeconfig, args.schemaRecord);
        const served = await lookupServedModels(cfg, { region, s3Endpoint: cfg.artifactStore.mode === "minio" ? process.env.AWS_ENDPOINT_URL_S3 : undefined });
        return new MlflowPlatform(name, { config: cfg, kubeconfig, region, served, upgrade }, opts);
    }

    private constructor(
        name: string,
        args: { config: PlatformConfig; kubeconfig: KubeconfigSource; region: string; served: ResolvedModel[]; upgrade: UpgradePlan },
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("mlflow-platform:index:MlflowPlatform", name, {}, opts);
        const cfg = args.config;
        // Every part was a top-level resource before this component: the alias keeps it (and its children).
        const part = (extra: pulumi.CustomResourceOptions = {}): pulumi.ComponentResourceOptions => ({
            ...extra,
            parent: this,
            aliases: [{ parent: pulumi.rootStackResource }, ...(extra.aliases ?? [])],
        });
        const local = cfg.artifactStore.mode === "minio";

        const ns = new PlatformNamespace("namespace", { name: cfg.namespace }, part());
        const inNamespace = part({ dependsOn: [ns] });
        const artifacts = local ? this.minioArtifacts(cfg, inNamespace) : this.s3Artifacts(cfg, args.region, part, inNamespace);
        const { aws, identity } = artifacts;
        const roleAnnotation = (sa: string) => (identity ? irsaAnnotation(identity.roleArns[sa]) : undefined);

        // Backend store: the in-cluster PostgreSQL stays (retained) next to RDS until database.retireInCluster;
        // RDS stays declared after a rollback to inCluster (database.keepRds): it is protected and holds data.
        const db = cfg.database;
        const inCluster = db.mode === "inCluster" || !db.retireInCluster ? new InClusterDatabase("postgres", { namespace: cfg.namespace, config: db }, inNamespace) : undefined;
        const rds = db.mode === "rds" || db.keepRds ? new RdsDatabase("rds", { namespace: cfg.namespace, identifier: `mlflow-${cfg.stack}`, config: db }, inNamespace) : undefined;
        const backend = db.mode === "rds" ? rds : inCluster;
        if (!backend) throw new Error("no backend store: database.mode is inCluster but the in-cluster database is retired");
        const authDatabase = cfg.access.auth === "basic" ? AUTH_DATABASE : undefined;
        const move =
            db.mode === "rds" && rds && inCluster && db.migrateFromInCluster
                ? new DatabaseMigration(
                      "db-migration",
                      { namespace: cfg.namespace, sourceSecretName: inCluster.backendStoreSecretName, targetSecretName: rds.backendStoreSecretName, image: db.inCluster.image, authDatabase },
                      part({ dependsOn: [ns, inCluster, rds] }),
                  )
                : undefined;

        // Every image the stack runs, built or named.
        const images = this.stackImages(cfg, part);
        const trackingImage = inUse(images.mlflow, "image.ref");

        // Access: Ingress or Gateway + basic auth or single sign-on (future state), or cluster-local.
        const access =
            cfg.access.mode !== "clusterLocal"
                ? new Access(
                      "access",
                      {
                          namespace: cfg.namespace,
                          config: cfg.access,
                          backendStoreSecretName: backend.backendStoreSecretName,
                          authDatabaseUri: backend.uri(AUTH_DATABASE),
                          postgresImage: db.inCluster.image,
                          ingressControllerNamespace: cfg.cluster.ingressControllerNamespace,
                          prometheusNamespace: cfg.observability.serviceMonitor ? cfg.observability.prometheusNamespace : undefined,
                          proxyImage: images["oauth2-proxy"],
                      },
                      part({ dependsOn: [ns, backend, ...(move ? [move] : [])] }),
                  )
                : undefined;

        // Backups of the in-cluster database to <artifact root>/backups/ (RDS backs itself up).
        const backup =
            backsUpInCluster(cfg) && inCluster
                ? new DatabaseBackup(
                      "db-backup",
                      {
                          namespace: cfg.namespace,
                          config: cfg.backup,
                          database: { host: inCluster.host, username: inCluster.username, passwordSecretName: inCluster.passwordSecretName, database: inCluster.database, image: inCluster.image },
                          authDatabase,
                          uploaderImage: trackingImage,
                          artifactRoot: artifacts.rootUri,
                          aws,
                          serviceAccountAnnotations: roleAnnotation(BACKUP_SERVICE_ACCOUNT),
                          kmsKeyArn: local ? undefined : cfg.artifactStore.kmsKeyArn,
                          serverSideEncryption: local ? "none" : undefined, // MinIO without KMS refuses SSE
                      },
                      part({ dependsOn: [ns, inCluster, ...artifacts.waitFor, ...(access?.ready ?? [])] }),
                  )
                : undefined;


        // An MLflow version upgrade: the writers stop and the database is backed up before the schema migrates.
        const plan = args.upgrade;
        const upgrade =
            plan.kind === "upgrade"
                ? new MlflowUpgrade(
                      "mlflow-upgrade",
                      {
                          namespace: cfg.namespace,
                          from: plan.from,
                          to: plan.to,
                          image: trackingImage,
                          backup: db.mode === "rds" && rds ? { kind: "snapshot", dbInstanceIdentifier: rds.instance.identifier } : { kind: "dump", pod: requireBackup(backup, plan).podSpec },
                          cronJobs: cfg.gc.enabled ? [GC_CRONJOB] : [],
                          telemetry: cfg.telemetry.enabled,
                      },
                      part({ dependsOn: [ns, backend, ...(backup ? [backup] : []), ...(access?.ready ?? [])] }),
                  )
                : undefined;

        const tracking = new TrackingServer(
            "tracking-server",
            {
                namespace: cfg.namespace,
                config: cfg.trackingServer,
                observability: cfg.observability,
                image: trackingImage,
                telemetry: cfg.telemetry.enabled,
                backendStoreSecretName: backend.backendStoreSecretName,
                artifactRoot: pulumi.interpolate`${artifacts.rootUri}/`,
                aws,
                serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.tracking),
                access: access?.forTrackingServer,
                // The schema migration (and so the Deployment) waits for a verified copy and the artifact store.
                waitFor: [...(move ? [move.job] : []), ...artifacts.waitFor],
                mlflowVersion: plan.to,
                upgrade: upgrade ? { ready: upgrade.ready, migration: { from: upgrade.from, to: upgrade.to, backup: upgrade.backupLocation } } : undefined,
            },
            part({ dependsOn: [ns, backend] }),
        );
        upgrade?.resume([tracking.deployment, tracking.schemaRecord]);

        const training = new TrainingJobs(
            "training",
            {
                namespace: cfg.namespace,
                config: cfg.training,
                image: images.trainer,
                tracking: tracking.connection,
                telemetry: cfg.telemetry.enabled,
                datasetS3Path: artifacts.datasetS3Path,
                aws,
                serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.training),
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
                          config: cfg.batch,
                          image: inUse(images.trainer, "training.image"),
                          tracking: tracking.connection,
                          telemetry: cfg.telemetry.enabled,
                          artifactRoot: artifacts.rootUri,
                          aws,
                      },
                      part({ dependsOn: [ns, training, ...artifacts.waitFor] }),
                  )
                : undefined;

        // The promotion template: the gate of `npm run promote`, in the cluster (runs as the training ServiceAccount).
        const promotion = cfg.promotion.template
            ? new PromotionJob(
                  "promotion",
                  {
                      namespace: cfg.namespace,
                      config: cfg.promotion,
                      registeredModel: cfg.training.registeredModel,
                      image: inUse(images.trainer, "training.image"),
                      tracking: tracking.connection,
                      telemetry: cfg.telemetry.enabled,
                  },
                  part({ dependsOn: [ns, training] }),
              )
            : undefined;

        // Garbage collection of deleted runs (mlflow gc), as the tracking server: its database and bucket.
        const gc = cfg.gc.enabled
            ? new GarbageCollection(
                  "gc",
                  { namespace: cfg.namespace, config: cfg.gc, image: trackingImage, backendStoreSecretName: backend.backendStoreSecretName, aws, telemetry: cfg.telemetry.enabled },
                  part({ dependsOn: [ns, tracking] }),
              )
            : undefined;

        const serving = new ModelServing(
            "serving",
            {
                namespace: cfg.namespace,
                config: cfg.serving,
                resolved: args.served,
                runtimeImage: images.serving,
                storageInitializerImage: images["storage-initializer"],
                telemetry: cfg.telemetry.enabled,
                aws,
                serviceAccountAnnotations: roleAnnotation(SERVICE_ACCOUNTS.serving),
                storagePrefixes: allowedStoragePrefixes(cfg),
            },
            part({ dependsOn: [ns, ...artifacts.waitFor] }),
        );

        // After `up` applied the InferenceServices: each model version loaded, or the up fails naming the model.
        const servedModelsLoaded = cfg.serving.models.length > 0 && cfg.serving.readyTimeoutSeconds > 0 ? modelsLoaded(cfg, serving, args.kubeconfig) : undefined;

        this.trackingUri = tracking.trackingUri;
        this.externalUrl = access?.externalUrl;
        this.bucketName = pulumi.output(artifacts.bucketName);
        this.artifactRoot = pulumi.output(artifacts.rootUri);
        this.servedModels = serving.models;
        this.outputs = {
            stack: cfg.stack,
            namespace: cfg.namespace,
            trackingUri: tracking.trackingUri,
            externalUrl: access?.externalUrl,
            artifactStore: cfg.artifactStore.mode,
            bucketName: artifacts.bucketName,
            artifactRoot: artifacts.rootUri,
            s3Endpoint: aws.s3Endpoint,
            databaseMode: db.mode,
            rdsAddress: rds?.address,
            artifactAuth: cfg.artifactAuth,
            irsaRoleArns: identity?.roleArns,
            accessMode: cfg.access.mode,
            // The credentials of mlflow-tracking-credentials: the basic-auth admin, or the single sign-on machine user.
            ...(cfg.access.auth === "oidc"
                ? { machineUsername: access?.clientUsername, machinePassword: access?.clientPassword }
                : { adminUsername: access?.clientUsername, adminPassword: access?.clientPassword }),
            imageRef: trackingImage,
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
        this.registerOutputs({ trackingUri: this.trackingUri, externalUrl: this.externalUrl, bucketName: this.bucketName, artifactRoot: this.artifactRoot, servedModels: this.servedModels });
    }

    /**
     * Every image the stack runs: the one config names, else the one it builds (the tracking-server image keeps
     * its first type token as an alias, so existing stacks keep their ECR repository). Undefined: not in use.
     */
    private stackImages(cfg: PlatformConfig, part: (o?: pulumi.CustomResourceOptions) => pulumi.ComponentResourceOptions): Record<ProjectImageName, pulumi.Input<string> | undefined> {
        const build = new Set(imagesToBuild(cfg));
        const pick = (image: ProjectImageName): pulumi.Input<string> | undefined => {
            if (!build.has(image)) return imageOverride(cfg, image);
            const repositoryName = image === "mlflow" ? (cfg.image.repositoryName ?? imageRepositoryName(cfg.stack, image)) : imageRepositoryName(cfg.stack, image);
            // The first type token of the mlflow image was a top-level resource too: alias both moves at once.
            const opts = image === "mlflow" ? part({ aliases: [{ type: MLFLOW_IMAGE_LEGACY_TYPE, parent: pulumi.rootStackResource }] }) : part();
            return new ProjectImage(`${image}-image`, { image, repositoryName, platform: cfg.image.platform }, opts).ref;
        };
        return { mlflow: pick("mlflow"), trainer: pick("trainer"), serving: pick("serving"), "oauth2-proxy": pick("oauth2-proxy"), "storage-initializer": pick("storage-initializer") };
    }

    /** S3 bucket plus static keys (current state) or IRSA roles (future state). */
    private s3Artifacts(
        cfg: PlatformConfig,
        region: string,
        part: (o?: pulumi.CustomResourceOptions) => pulumi.ComponentResourceOptions,
        inNamespace: pulumi.ComponentResourceOptions,
    ): ArtifactBackend {
        const store = new ArtifactStore("artifacts", { config: cfg.artifactStore, bucketPrefix: `mlflow-artifacts-${cfg.stack}-`, backupRetentionDays: cfg.backup.retentionDays }, part());
        const datasetS3Path = cfg.training.dataset.s3Path ?? pulumi.interpolate`${store.rootUri}/${DEFAULT_DATASET_KEY}`;
        // Where training and the batch profiles read and write: outside the bucket, the training credentials get those grants too.
        const batch = cfg.batch.profiles.map((p) => batchPaths(store.rootUri, p));
        const trainingS3Paths = pulumi
            .all([datasetS3Path, pulumi.output(batch)])
            .apply(([dataset, b]) => ({ dataset, batchInputs: b.map((x) => x.input), batchOutputs: b.map((x) => x.output) }));
        const backup = backsUpInCluster(cfg);
        if (cfg.artifactAuth === "irsa") {
            const identity = new WorkloadIdentity(
                "workload-identity",
                {
                    namespace: cfg.namespace,
                    cluster: cfg.cluster,
                    bucketName: store.bucketName,
                    trainingS3Paths,
                    serviceAccounts: backup ? { ...SERVICE_ACCOUNTS, backup: BACKUP_SERVICE_ACCOUNT } : SERVICE_ACCOUNTS,
                    backupS3Prefix: backup ? backupPrefix(store.rootUri) : undefined,
                },
                part(),
            );
            return { bucketName: store.bucketName, rootUri: store.rootUri, datasetS3Path, aws: { region }, identity, waitFor: [] };
        }
        const credentials = new StaticArtifactCredentials(
            "artifact-credentials",
            { namespace: cfg.namespace, config: cfg.staticKeys, bucketName: store.bucketName, trainingS3Paths, region },
            inNamespace,
        );
        return { bucketName: store.bucketName, rootUri: store.rootUri, datasetS3Path, aws: { keysSecretName: credentials.secretName, region }, waitFor: [] };
    }

    /** MinIO in the cluster (local stacks): no AWS resource, no AWS credentials. */
    private minioArtifacts(cfg: PlatformConfig, inNamespace: pulumi.ComponentResourceOptions): ArtifactBackend {
        const minio = new MinioStore("minio", { namespace: cfg.namespace, config: cfg.artifactStore.minio }, inNamespace);
        return {
            bucketName: minio.bucketName,
            rootUri: minio.rootUri,
            datasetS3Path: cfg.training.dataset.s3Path ?? `${minio.rootUri}/${DEFAULT_DATASET_KEY}`,
            aws: { keysSecretName: minio.keysSecretName, region: "us-east-1", s3Endpoint: minio.endpoint },
            waitFor: [minio.ready],
        };
    }
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

/** The region of the artifact store: MinIO needs one for request signing only; S3 stacks need the real one. */
function artifactRegion(cfg: PlatformConfig): string {
    if (cfg.artifactStore.mode === "minio") return "us-east-1";
    const region = awsRegion(cfg);
    if (!region) throw new ConfigError([{ key: "aws:region", message: "aws:region is required for an S3 artifact store: pulumi config set aws:region eu-west-1 (or set mlflow-platform:cluster.region)" }]);
    return region;
}

/**
 * The MLflow upgrade this run does: the cluster's record (ConfigMap mlflow-schema) against image.mlflowVersion. A
 * refusal is a ConfigError naming image.mlflowVersion. Offline (the render, mocks): nothing is recorded, a fresh install.
 */
async function upgradePlan(cfg: PlatformConfig, kubeconfig: KubeconfigSource, given?: SchemaRecord): Promise<UpgradePlan> {
    const to = mlflowVersionOf(cfg);
    const record = given ?? (clusterChecks.enabled ? await readSchemaRecord(kubeconfig, cfg.namespace, TRACKING_SERVICE_NAME) : { trackingDeployed: false });
    let plan: UpgradePlan;
    try {
        plan = planMlflowUpgrade(record, to);
    } catch (e) {
        if (e instanceof UpgradeRefused) throw new ConfigError([{ key: `mlflow-platform:${e.key}`, message: `mlflow-platform:${e.key} ${e.message}` }]);
        throw e;
    }
    if (plan.kind === "upgrade" && cfg.database.mode === "inCluster" && !cfg.backup.enabled)
        throw new ConfigError([
            {
                key: "mlflow-platform:backup.enabled",
                message: `mlflow-platform:backup.enabled must be true for the MLflow upgrade from ${plan.from} to ${plan.to} (got false): the upgrade takes a verified backup of the in-cluster database before the schema migrates, as the backup's ServiceAccount. Nothing was changed.`,
            },
        ]);
    if (plan.kind === "unrecorded")
        void pulumi.log.warn(
            `the MLflow version of the tracking server's database is not recorded (a stack deployed before mlflow-platform recorded it): this up records ${to}. If the running server is older, this up migrates its schema without the upgrade's stop and backup steps: cancel, and first run one up with image.mlflowVersion (or image.ref) at the running version (docs/runbooks.md, "Upgrade MLflow").`,
        );
    return plan;
}

/** The backup component an in-cluster upgrade's dump runs as (upgradePlan refused the stack without one). */
function requireBackup(backup: DatabaseBackup | undefined, plan: { from: string; to: string }): DatabaseBackup {
    if (!backup) throw new Error(`the MLflow upgrade from ${plan.from} to ${plan.to} has no backup to take: upgradePlan should have refused backup.enabled false`);
    return backup;
}

/** Whether the in-cluster database is backed up by the CronJob (RDS backs itself up). */
function backsUpInCluster(cfg: PlatformConfig): boolean {
    return cfg.backup.enabled && cfg.database.mode === "inCluster";
}

/** An image a declared workload runs: built or named, which config.ts checks (a gap here is a bug, not bad input). */
function inUse(image: pulumi.Input<string> | undefined, key: string): pulumi.Input<string> {
    if (image === undefined) throw new Error(`no image for a workload that runs one: config.ts should have asked for ${key}`);
    return image;
}

/** The kubeconfig the default Kubernetes provider uses: the pre-flight checks and the load wait read the same cluster. */
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
function modelsLoaded(cfg: PlatformConfig, serving: ModelServing, kubeconfig: KubeconfigSource): pulumi.Output<boolean | undefined> {
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
        await awaitServedModels(resolveKubeConnection(kubeconfig), models, {
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
