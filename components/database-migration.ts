import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { projectRoot } from "../lib/paths";
import { migrationConfigMap, migrationJob } from "../manifests/migration";

export interface DatabaseMigrationArgs {
    /** Namespace of the Job. */
    readonly namespace: string;
    /** Secret whose `uri` is the in-cluster (source) database. */
    readonly sourceSecretName: pulumi.Input<string>;
    /** Secret whose `uri` is the RDS (target) database. */
    readonly targetSecretName: pulumi.Input<string>;
    /** Image with bash and the PostgreSQL 16 client tools. Defaults to `postgres:16.10`. */
    readonly image?: string;
    /** The copy script. Defaults to this project's scripts/migrate-database.sh. */
    readonly script?: string;
    /** The basic-auth app's database, copied after MLflow's. Defaults to none (auth off). */
    readonly authDatabase?: string;
}

/**
 * The move in-cluster PostgreSQL → RDS: scripts/migrate-database.sh from a ConfigMap, run once by a Job
 * that copies with pg_dump/pg_restore and compares every table's row count. The tracking server waits
 * for this Job, so it only moves to RDS after a verified copy.
 */
export class DatabaseMigration extends pulumi.ComponentResource {
    public readonly job: batchv1.Job;

    constructor(name: string, args: DatabaseMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:database:DatabaseMigration", name, {}, opts);
        const child = { parent: this };
        const script = args.script ?? fs.readFileSync(path.join(projectRoot(), "scripts", "migrate-database.sh"), "utf8");
        const configMap = new corev1.ConfigMap(name, migrationConfigMap(args.namespace, script), child);
        this.job = new batchv1.Job(
            name,
            migrationJob({
                namespace: args.namespace,
                image: args.image ?? "postgres:16.10",
                sourceSecretName: args.sourceSecretName,
                targetSecretName: args.targetSecretName,
                scriptDigest: crypto.createHash("sha256").update(script).digest("hex").slice(0, 16),
                authDatabase: args.authDatabase,
            }),
            { ...child, dependsOn: [configMap] },
        );
        this.registerOutputs({});
    }
}
