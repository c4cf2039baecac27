/**
 * Batch inference templates as plain data: one suspended CronJob `batch-<profile>` per profile, running
 * images/trainer/batch_predict.py in the trainer image. Operators launch a run with
 * `kubectl create job --from=cronjob/batch-<profile>`; each Job = one batch run, which loads the version the
 * alias names when it starts and writes `<output prefix>/<Job name>/predictions.csv` and `metadata.json`.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { BatchProfile } from "../config";
import { awsEnv, AwsCredentialSource, env, labels, secretEnv, underArtifactRoot } from "./common";
import { templateCronJob, templateLaunchCommand, type JobTemplateBase } from "./job-template";

export const BATCH_COMPONENT = "batch";
export const BATCH_CONTAINER = "batch";
/** The trainer image's batch script; the image's ENTRYPOINT is train.py, so the container sets `command`. */
export const BATCH_COMMAND = ["python", "/app/batch_predict.py"] as const;
/**
 * The pod label the Job controller sets to the Job's name (Kubernetes 1.27+); BATCH_RUN_ID reads it, so every
 * pod of one Job (a retry too) writes to the same `<prefix>/<Job name>/`.
 */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
/** batch_predict.py's permanent failures (bad config, no alias, no input, columns off): the Job fails, no retry. */
export const BATCH_PERMANENT_EXIT_CODES = [2, 3, 4, 5] as const;
/**
 * Longest profile name: a launched Job is `batch-<profile>-<14-digit timestamp>`, and a Job's name must fit in
 * a label value (63 characters), the Job controller labelling its pods with it.
 */
export const MAX_BATCH_PROFILE_NAME = 63 - "batch-".length - "-YYYYmmddHHMMSS".length;

export interface BatchSpec extends JobTemplateBase {
    readonly trackingUri: Input<string>;
    readonly registeredModel: Input<string>;
    readonly alias: Input<string>;
    /** s3://bucket[/prefix] of the artifact store: the default input and output live under `<root>/batch/<profile>/`. */
    readonly artifactRoot: Input<string>;
    readonly aws: AwsCredentialSource;
    readonly backoffLimit: number;
}

/** CronJob name of a profile: batch-<profile>. */
export function batchJobName(profile: string): string {
    return `batch-${profile}`;
}

/** The command an operator runs to start one batch run from a template. */
export function batchLaunchCommand(namespace: string, profile: string): string {
    return templateLaunchCommand(namespace, batchJobName(profile));
}

/**
 * Where a profile reads and writes: its own paths, else `<root>/batch/<name>/input.csv` and
 * `<root>/batch/<name>/predictions` (plain strings when the root is one).
 */
export function batchPaths(artifactRoot: Input<string>, profile: BatchProfile): { input: Input<string>; output: Input<string> } {
    const under = (file: string) => underArtifactRoot(artifactRoot, `batch/${profile.name}/${file}`, "batch");
    return {
        input: profile.inputS3Path ?? under("input.csv"),
        output: profile.outputS3Prefix ?? under("predictions"),
    };
}

/** batch_predict.py's environment: a contract with images/trainer/batch_predict.py. */
export function batchEnv(spec: BatchSpec, profile: BatchProfile): k8s.types.input.core.v1.EnvVar[] {
    const paths = batchPaths(spec.artifactRoot, profile);
    const out: k8s.types.input.core.v1.EnvVar[] = [
        env("MLFLOW_TRACKING_URI", spec.trackingUri),
        env("REGISTERED_MODEL_NAME", spec.registeredModel),
        env("BATCH_ALIAS", spec.alias),
        env("BATCH_PROFILE", profile.name),
        env("BATCH_INPUT_S3_PATH", paths.input),
        env("BATCH_OUTPUT_S3_PREFIX", paths.output),
        // The Job's name, from the label the Job controller puts on its pods (the downward API).
        { name: "BATCH_RUN_ID", valueFrom: { fieldRef: { fieldPath: `metadata.labels['${JOB_NAME_LABEL}']` } } },
        env("HOME", "/tmp"),
        env("GIT_PYTHON_REFRESH", "quiet"),
    ];
    if (spec.trackingCredentialsSecretName !== undefined) {
        out.push(secretEnv("MLFLOW_TRACKING_USERNAME", spec.trackingCredentialsSecretName, "username"));
        out.push(secretEnv("MLFLOW_TRACKING_PASSWORD", spec.trackingCredentialsSecretName, "password"));
    }
    out.push(...awsEnv(spec.aws));
    return out;
}

export function batchCronJob(spec: BatchSpec, profile: BatchProfile): k8s.types.input.batch.v1.CronJob {
    if (profile.name.length > MAX_BATCH_PROFILE_NAME) {
        throw new Error(`batch profile "${profile.name}": at most ${MAX_BATCH_PROFILE_NAME} characters (a launched Job, ${batchJobName(profile.name)}-<timestamp>, must fit in 63)`);
    }
    const paths = batchPaths(spec.artifactRoot, profile);
    const name = batchJobName(profile.name);
    return templateCronJob({
        telemetry: spec.telemetry,
        name,
        namespace: spec.namespace,
        component: BATCH_COMPONENT,
        annotations: {
            "mlflow-platform/launch": batchLaunchCommand(spec.namespace, profile.name),
            "mlflow-platform/batch-input": paths.input,
            "mlflow-platform/batch-output": paths.output,
        },
        podLabels: { ...labels(BATCH_COMPONENT, "batch-predict"), "mlflow-platform/batch-profile": profile.name },
        schedule: profile.schedule,
        backoffLimit: spec.backoffLimit,
        activeDeadlineSeconds: spec.activeDeadlineSeconds,
        ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
        podFailurePolicy: {
            rules: [
                // A missing alias or input does not fix itself: fail the Job at once instead of retrying.
                { action: "FailJob", onExitCodes: { containerName: BATCH_CONTAINER, operator: "In", values: [...BATCH_PERMANENT_EXIT_CODES] } },
                // An evicted or preempted pod is not the run's failure: it does not count against backoffLimit.
                { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
            ],
        },
        serviceAccountName: spec.serviceAccountName,
        automountServiceAccountToken: spec.aws.keysSecretName === undefined,
        container: { name: BATCH_CONTAINER, image: spec.image, command: BATCH_COMMAND, env: batchEnv(spec, profile), resources: spec.resources },
    });
}
