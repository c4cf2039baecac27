/**
 * Garbage collection as plain data: a scheduled CronJob `mlflow-gc` that runs `mlflow gc` in the tracking-server
 * image and permanently deletes the runs deleted more than `olderThan` ago: their rows (run, metrics, params,
 * tags) and their artifacts in S3. The component in components/garbage-collection.ts only creates it.
 *
 * What `mlflow gc` (MLflow 3.17.2) needs, found by running it (test/integration/gc.test.ts):
 * - the backend store as MLFLOW_TRACKING_URI. Its `--backend-store-uri` flag reads no env var, and with the flag
 *   alone it stops with "Tracking URL is not set" unless MLFLOW_TRACKING_URI is set too; MLFLOW_TRACKING_URI set
 *   to the database URI is both (the store falls back to the tracking URI). So the URI comes from the
 *   backend-store Secret as an env var, no shell expands it, and the password never appears in an argv.
 * - nothing else for the artifacts: the tracking server runs with `--no-serve-artifacts`, so every run's
 *   artifact URI is a physical `s3://<bucket>/<experiment>/<run>/artifacts`, and `mlflow gc` deletes it with
 *   boto3 and the pod's credentials (awsEnv: the keys Secret or IRSA, the region, MinIO's endpoint).
 *   `--artifacts-destination` only maps proxied `mlflow-artifacts:/` URIs, which this platform does not write.
 * - a failed artifact delete (e.g. AccessDenied) fails the command before the run's rows go: nothing is left
 *   half-deleted, and the next attempt (a retry or the next schedule) deletes both.
 * Besides runs, the same command hard-deletes experiments deleted (last updated) more than `olderThan` ago, with
 * their runs, and deleted logged models older than that, with their artifacts. The bucket is versioned, so the
 * deleted objects stay as noncurrent versions until the bucket's lifecycle expires them.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import { awsEnv, type AwsCredentialSource, env, labels, secretEnv } from "./common";
import { OLDER_THAN_HINT, OLDER_THAN_PATTERN, SCHEDULE_PATTERN } from "../lib/terms";
import { templateCronJob, type JobTemplateBase } from "./job-template";
import { afterDatabase, DB_CLIENT_LABEL } from "./postgres";
import { BACKEND_URI_KEY } from "./tracking-server";

export const GC_COMPONENT = "garbage-collection";
export const GC_CRONJOB = "mlflow-gc";



/** Milliseconds of a retention in OLDER_THAN_PATTERN (what `mlflow gc` compares a run's deleted_time with). */
export function olderThanMillis(olderThan: string): number {
    if (!OLDER_THAN_PATTERN.test(olderThan)) throw new Error(`garbage collection: olderThan must be ${OLDER_THAN_HINT} (got ${JSON.stringify(olderThan)})`);
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
    let ms = 0;
    for (const [, n, u] of olderThan.matchAll(/(\d+)([dhms])/g)) ms += Number(n) * unit[u as keyof typeof unit];
    return ms;
}

export interface GcSpec extends Omit<JobTemplateBase, "trackingCredentialsSecretName"> {
    /** Cron schedule of the runs (the CronJob is never suspended). */
    readonly schedule: string;
    /** Deleted runs older than this are removed for good, e.g. `30d` (OLDER_THAN_PATTERN). */
    readonly olderThan: string;
    /** The tracking server's backend-store Secret (key `uri`, the URI with its password). */
    readonly backendStoreSecretName: Input<string>;
    /** The tracking server's artifact credentials: it deletes from the same bucket. */
    readonly aws: AwsCredentialSource;
    /** Retries of a failed run; `mlflow gc` is idempotent, so a retry finishes what a failed one started. */
    readonly backoffLimit: number;
}

/** The container's command: `mlflow gc` for every deleted run (and deleted experiment) older than `olderThan`. */
export function gcCommand(olderThan: string): string[] {
    olderThanMillis(olderThan);
    return ["mlflow", "gc", "--older-than", olderThan];
}

/** The container's env: the backend store from its Secret, the artifact credentials, a writable HOME. */
export function gcEnv(spec: Pick<GcSpec, "backendStoreSecretName" | "aws">): k8s.types.input.core.v1.EnvVar[] {
    return [secretEnv("MLFLOW_TRACKING_URI", spec.backendStoreSecretName, BACKEND_URI_KEY), env("HOME", "/tmp"), ...awsEnv(spec.aws)];
}

export function gcCronJob(spec: GcSpec): k8s.types.input.batch.v1.CronJob {
    if (!SCHEDULE_PATTERN.test(spec.schedule)) throw new Error(`garbage collection: schedule must be a cron expression such as "0 3 * * *" or @daily (got ${JSON.stringify(spec.schedule)})`);
    if (!Number.isInteger(spec.backoffLimit) || spec.backoffLimit < 0 || spec.backoffLimit > 5) throw new Error(`garbage collection: backoffLimit must be an integer 0-5 (got ${spec.backoffLimit})`);
    return templateCronJob({
        telemetry: spec.telemetry,
        name: GC_CRONJOB,
        namespace: spec.namespace,
        component: GC_COMPONENT,
        annotations: { "mlflow-platform/older-than": spec.olderThan },
        // It runs SQL against the backend store: the PostgreSQL NetworkPolicy admits it by this label.
        podLabels: { ...labels(GC_COMPONENT, GC_CRONJOB), [DB_CLIENT_LABEL]: "true" },
        schedule: spec.schedule,
        backoffLimit: spec.backoffLimit,
        activeDeadlineSeconds: spec.activeDeadlineSeconds,
        ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
        serviceAccountName: spec.serviceAccountName,
        // IRSA (no keys Secret) needs the projected token, as the tracking server does.
        automountServiceAccountToken: spec.aws.keysSecretName === undefined,
        // Once the database accepts the pod's connections (a NetworkPolicy engine admits a new pod a moment late).
        container: { name: "gc", image: spec.image, command: afterDatabase("MLFLOW_TRACKING_URI", gcCommand(spec.olderThan)), env: gcEnv(spec), resources: spec.resources },
    });
}
