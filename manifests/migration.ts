/**
 * The one-shot copy of the backend store (in-cluster PostgreSQL → RDS) as plain data: a ConfigMap with
 * scripts/migrate-database.sh and the Job that runs it in a postgres image.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import { containerSecurityContext, env, labels, meta, podSecurityContext, secretEnv, telemetryEnv } from "./common";
import { DB_CLIENT_LABEL } from "./postgres";
import { BACKEND_URI_KEY } from "./tracking-server";

export const MIGRATION_NAME = "mlflow-db-migrate";
export const MIGRATION_COMPONENT = "database-migration";
export const SCRIPT_KEY = "migrate-database.sh";

export function migrationConfigMap(namespace: string, script: string): k8s.types.input.core.v1.ConfigMap {
    return { apiVersion: "v1", kind: "ConfigMap", metadata: meta(MIGRATION_NAME, namespace, MIGRATION_COMPONENT), data: { [SCRIPT_KEY]: script } };
}

/**
 * The Job's shell: copy MLflow's database, then (when the basic-auth app is on) its users and permissions
 * database too, creating it on the target first. A source without that database (auth never enabled) is
 * skipped. Passwords stay in the Secret-backed env vars.
 */
export function migrationCommand(authDatabase?: string): string {
    const lines = ["set -eu", `bash "\${SCRIPT_DIR:-/scripts}/${SCRIPT_KEY}"`];
    if (authDatabase) {
        lines.push(
            `db=${authDatabase}`,
            // postgresql://user:pass@host:port/<db>?query → the same URL for database $db
            `with_db() { printf '%s' "$1" | sed -E "s#/[^/?]*(\\?|$)#/$db\\1#"; }`,
            `exists() { psql "$1" -Atc "select 1 from pg_database where datname = '$db'"; }`,
            `if [ "$(exists "$SOURCE_DATABASE_URL")" != "1" ]; then echo "no $db database on the source: nothing more to copy"; exit 0; fi`,
            `if [ "$(exists "$TARGET_DATABASE_URL")" != "1" ]; then psql "$TARGET_DATABASE_URL" -qc "create database $db"; fi`,
            `SOURCE_DATABASE_URL=$(with_db "$SOURCE_DATABASE_URL") TARGET_DATABASE_URL=$(with_db "$TARGET_DATABASE_URL") bash "\${SCRIPT_DIR:-/scripts}/${SCRIPT_KEY}"`,
        );
    }
    return lines.join("\n");
}

export function migrationJob(p: {
    namespace: string;
    image: string;
    sourceSecretName: Input<string>;
    targetSecretName: Input<string>;
    /** Changes with the script, so an edited script is a new Job. */
    scriptDigest: string;
    /** The basic-auth app's database, copied as well when set. */
    authDatabase?: string;
}): k8s.types.input.batch.v1.Job {
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta(MIGRATION_NAME, p.namespace, MIGRATION_COMPONENT, { "mlflow-platform/script-sha256": p.scriptDigest }),
        spec: {
            // A copy is not retried blindly: a failed copy leaves the target as it was (single transaction) and
            // the operator reads the log first.
            backoffLimit: 0,
            activeDeadlineSeconds: 6 * 3600,
            template: {
                metadata: { labels: { ...labels(MIGRATION_COMPONENT), [DB_CLIENT_LABEL]: "true" } },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    securityContext: podSecurityContext(999),
                    containers: [
                        {
                            name: "copy",
                            image: p.image,
                            command: ["bash", "-c", migrationCommand(p.authDatabase)],
                            env: [
                                secretEnv("SOURCE_DATABASE_URL", p.sourceSecretName, BACKEND_URI_KEY),
                                secretEnv("TARGET_DATABASE_URL", p.targetSecretName, BACKEND_URI_KEY),
                                env("WORK_DIR", "/work"),
                                env("HOME", "/work"),
                                ...telemetryEnv(),
                            ],
                            resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                            securityContext: containerSecurityContext(),
                            volumeMounts: [
                                { name: "script", mountPath: "/scripts", readOnly: true },
                                { name: "work", mountPath: "/work" },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "script", configMap: { name: MIGRATION_NAME, defaultMode: 0o555 } },
                        { name: "work", emptyDir: { sizeLimit: "20Gi" } },
                    ],
                },
            },
        },
    };
}
