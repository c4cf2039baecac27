import * as rds from "@pulumi/aws/rds";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as rbacv1 from "@pulumi/kubernetes/rbac/v1";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { projectRoot } from "../lib/paths";
import type { BackupPodSpec } from "../manifests/backup";
import {
    preUpgradeBackupPrefix,
    upgradeBackupJob,
    upgradeConfigMap,
    preUpgradeSnapshotId,
    upgradeResumeJob,
    upgradeRole,
    upgradeRoleBinding,
    upgradeScriptDigest,
    upgradeServiceAccount,
    upgradeStopJob,
    UPGRADE_SCRIPT_KEY,
} from "../manifests/upgrade";
import { TRACKING_SERVICE_NAME } from "../manifests/tracking-server";

/** How the database is backed up before the migration. */
export type PreUpgradeBackup =
    /** The in-cluster PostgreSQL: the backup CronJob's pod, once, to `<artifact root>/backups/pre-upgrade-<from>-to-<to>/`. */
    | { readonly kind: "dump"; readonly pod: BackupPodSpec }
    /** RDS: a manual DB snapshot `<instance>-pre-upgrade-<from>-to-<to>`, retained when the stack lets go of it. */
    | { readonly kind: "snapshot"; readonly dbInstanceIdentifier: pulumi.Input<string> };

export interface MlflowUpgradeArgs {
    /** Namespace of the tracking server (plain). */
    readonly namespace: string;
    /** The MLflow version the database was migrated to (the ConfigMap mlflow-schema's). */
    readonly from: string;
    /** The configured version (image.mlflowVersion). */
    readonly to: string;
    /** The new tracking-server image: the control Jobs run its Python (standard library only). */
    readonly image: pulumi.Input<string>;
    /** The backup taken after the writers stopped and before the migration. */
    readonly backup: PreUpgradeBackup;
    /** CronJobs that write to the database, suspended while the schema migrates (the gc CronJob). Defaults to none. */
    readonly cronJobs?: readonly string[];
    /** MLflow's usage telemetry (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/**
 * The steps of an MLflow version upgrade around the schema migration (docs/runbooks.md, "Upgrade MLflow"), each a
 * resource, so `pulumi preview` lists them in order:
 * 1. `mlflow-upgrade-<from>-to-<to>-stop`: the tracking server scaled to 0 and the gc CronJob suspended, until no
 *    pod of the old version is left (no writer while or after the schema migrates);
 * 2. the backup: a verified dump of every database to the artifact store, or an RDS snapshot;
 * (3. the migration Job and 4. the Deployment's update are TrackingServer's; they wait for `ready`;)
 * 5. `mlflow-upgrade-<from>-to-<to>-resume` (`resume(after)`): the recorded replicas back, the rollout complete, the
 *    CronJobs unsuspended.
 * The control Jobs run scripts/upgrade-control.py as the ServiceAccount `mlflow-upgrade`, whose Role allows exactly
 * its calls.
 */
export class MlflowUpgrade extends pulumi.ComponentResource {
    /** What the schema migration waits for: the backup, after the stop. */
    public readonly ready: pulumi.Resource[];
    /** Where the pre-upgrade backup is: the dump's s3 prefix or the snapshot's identifier. */
    public readonly backupLocation: pulumi.Output<string>;
    public readonly from: string;
    public readonly to: string;
    private readonly controlSpec: Parameters<typeof upgradeStopJob>[0];
    private readonly rbac: pulumi.Resource[];
    private readonly resourceName: string;

    constructor(name: string, args: MlflowUpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:tracking:MlflowUpgrade", name, {}, opts);
        const child = { parent: this };
        const script = fs.readFileSync(path.join(projectRoot(), "scripts", UPGRADE_SCRIPT_KEY), "utf8");
        const targets = { deployment: TRACKING_SERVICE_NAME, cronJobs: [...(args.cronJobs ?? [])] };
        this.resourceName = name;
        this.from = args.from;
        this.to = args.to;
        this.controlSpec = { namespace: args.namespace, image: args.image, from: args.from, to: args.to, scriptDigest: upgradeScriptDigest(script), targets, telemetry: args.telemetry };

        const sa = new corev1.ServiceAccount(name, upgradeServiceAccount(args.namespace), child);
        const role = new rbacv1.Role(name, upgradeRole(args.namespace, targets), child);
        const binding = new rbacv1.RoleBinding(name, upgradeRoleBinding(args.namespace), { ...child, dependsOn: [sa, role] });
        const configMap = new corev1.ConfigMap(`${name}-control`, upgradeConfigMap(args.namespace, script), child);
        this.rbac = [sa, role, binding, configMap];

        const stop = new batchv1.Job(`${name}-stop`, upgradeStopJob(this.controlSpec), { ...child, dependsOn: this.rbac });
        if (args.backup.kind === "dump") {
            const backup = new batchv1.Job(`${name}-backup`, upgradeBackupJob({ ...args.backup.pod, from: args.from, to: args.to }), { ...child, dependsOn: [stop] });
            this.ready = [backup];
            this.backupLocation = pulumi.output(preUpgradeBackupPrefix(args.backup.pod.artifactRoot, args.from, args.to));
        } else {
            const id = pulumi.output(args.backup.dbInstanceIdentifier).apply((instance) => preUpgradeSnapshotId(instance, args.from, args.to));
            // Retained: the way back restores from it; the stack letting go of the resource must not delete it.
            const snapshot = new rds.Snapshot(`${name}-snapshot`, { dbInstanceIdentifier: args.backup.dbInstanceIdentifier, dbSnapshotIdentifier: id }, { ...child, dependsOn: [stop], retainOnDelete: true });
            this.ready = [snapshot];
            this.backupLocation = snapshot.dbSnapshotIdentifier;
        }
        this.registerOutputs({ from: this.from, to: this.to, backupLocation: this.backupLocation });
    }

    /** Step 5, after the Deployment's update: the resume Job (a child of this component). */
    public resume(after: pulumi.Resource[]): batchv1.Job {
        return new batchv1.Job(`${this.resourceName}-resume`, upgradeResumeJob(this.controlSpec), { parent: this, dependsOn: [...this.rbac, ...after] });
    }
}
