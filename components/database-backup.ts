import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { BackupConfig, Resources } from "../config";
import type { AwsCredentialSource } from "../manifests/common";
import { type BackupPodSpec, BACKUP_NAME, BACKUP_SERVICE_ACCOUNT, backupCronJob, backupDatabases, backupEncryption, backupLaunchCommand, backupPrefix, backupServiceAccount } from "../manifests/backup";

export interface DatabaseBackupArgs {
    /** Namespace of the CronJob (plain: it is part of the launch command). */
    readonly namespace: string;
    /** The `backup` config section: the cron schedule, in UTC (checked here). */
    readonly config: Pick<BackupConfig, "schedule">;
    /** The server to dump: the InClusterDatabase. */
    readonly database: BackupSource;
    /** Image with Python and boto3 that uploads the dumps (images/mlflow). Defaults to none: required. */
    readonly uploaderImage: pulumi.Input<string>;
    /** The basic-auth app's database, dumped after MLflow's (plain). Defaults to none (auth off). */
    readonly authDatabase?: string;
    /** s3://bucket[/prefix] of the artifact store; dumps go to `<root>/backups/<db>/<UTC stamp>.dump`. Defaults to none: required. */
    readonly artifactRoot: pulumi.Input<string>;
    /** The pods' artifact credentials: the keys Secret, or none for IRSA (the ServiceAccount's role). Defaults to none: required. */
    readonly aws: AwsCredentialSource;
    /** Server-side encryption of the upload (plain). Defaults to `aws:kms` when kmsKeyArn is set, else `AES256`; `none` only for MinIO without KMS. */
    readonly serverSideEncryption?: "AES256" | "aws:kms" | "none";
    /** KMS key of SSE-KMS uploads (the bucket's default key). Defaults to none. */
    readonly kmsKeyArn?: pulumi.Input<string>;
    /** Annotations of the pods' ServiceAccount `mlflow-db-backup`: IRSA's role-arn, whose role puts under `<root>/backups/`. Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Requests and limits of each container. Defaults to 100m/256Mi requested, 1 CPU/1Gi limit. */
    readonly resources?: Resources;
    /** Seconds before a backup Job is stopped (plain). Defaults to 3600. */
    readonly activeDeadlineSeconds?: number;
    /** Retries of a failed backup pod before the Job fails (plain). Defaults to 2. */
    readonly backoffLimit?: number;
    /** sizeLimit of the emptyDir holding the dumps (plain). Defaults to `20Gi`. */
    readonly workDirSize?: string;
}

/** The PostgreSQL server a backup dumps (what InClusterDatabase exposes). */
export interface BackupSource {
    /** Host of the server. */
    readonly host: pulumi.Input<string>;
    /** Port of the server. Defaults to 5432. */
    readonly port?: number;
    /** The user the dumps connect as. */
    readonly username: pulumi.Input<string>;
    /** Secret with the user's password under `password`. */
    readonly passwordSecretName: pulumi.Input<string>;
    /** MLflow's database (plain: it names the key prefix). */
    readonly database: string;
    /** Image with pg_dump/pg_restore of the server's major version: the StatefulSet's. */
    readonly image: string;
}

const DEFAULT_RESOURCES: Resources = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } };

/**
 * Scheduled backups of the in-cluster PostgreSQL: the CronJob `mlflow-db-backup` (manifests/backup.ts) that dumps
 * MLflow's database (and the basic-auth one) with pg_dump, verifies each dump, and uploads it, encrypted, to
 * `<artifact root>/backups/<db>/`, as its own ServiceAccount `mlflow-db-backup` (under IRSA, a role that only reads
 * and puts under that prefix). The bucket's lifecycle rule (ArtifactStore.backupRetentionDays) expires them.
 * Restore with scripts/restore-database.sh.
 */
export class DatabaseBackup extends pulumi.ComponentResource {
    /** The CronJob's name. */
    public readonly cronJobName: string;
    /** `kubectl create job --from=cronjob/…`: a backup now. */
    public readonly launch: string;
    /** s3://…/backups: each database's dumps are under `<prefix>/<db>/`. */
    public readonly prefix: pulumi.Output<string>;
    public readonly cronJob: batchv1.CronJob;
    /** The pod of one backup as the CronJob runs it (the pre-upgrade backup runs it once too). */
    public readonly podSpec: BackupPodSpec;
    /** The pods' ServiceAccount (`mlflow-db-backup`). */
    public readonly serviceAccount: corev1.ServiceAccount;

    constructor(name: string, args: DatabaseBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:database:DatabaseBackup", name, {}, opts);
        this.serviceAccount = new corev1.ServiceAccount(name, backupServiceAccount(args.namespace, args.aws, args.serviceAccountAnnotations), { parent: this });
        this.podSpec = {
            namespace: args.namespace,
            postgresImage: args.database.image,
            uploaderImage: args.uploaderImage,
            host: args.database.host,
            port: args.database.port,
            username: args.database.username,
            passwordSecretName: args.database.passwordSecretName,
            databases: backupDatabases(args.database.database, args.authDatabase),
            artifactRoot: args.artifactRoot,
            aws: args.aws,
            encryption: backupEncryption(args.serverSideEncryption, args.kmsKeyArn),
            serviceAccountName: BACKUP_SERVICE_ACCOUNT,
            resources: args.resources ?? DEFAULT_RESOURCES,
            workDirSize: args.workDirSize ?? "20Gi",
        };
        this.cronJob = new batchv1.CronJob(
            name,
            backupCronJob({ ...this.podSpec, schedule: args.config.schedule, activeDeadlineSeconds: args.activeDeadlineSeconds ?? 3600, backoffLimit: args.backoffLimit ?? 2 }),
            { parent: this, dependsOn: [this.serviceAccount] },
        );
        this.cronJobName = BACKUP_NAME;
        this.launch = backupLaunchCommand(args.namespace);
        this.prefix = pulumi.output(backupPrefix(args.artifactRoot));
        this.registerOutputs({ cronJobName: this.cronJobName, launch: this.launch, prefix: this.prefix });
    }
}
