/**
 * Training templates as plain data: one suspended CronJob per profile. Operators launch a run with
 * `kubectl create job --from=cronjob/<name>`; each Job is one MLflow run.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { TrainingProfile } from "../config";
import { awsEnv, AwsCredentialSource, env, labels, secretEnv } from "./common";
import { templateCronJob, templateLaunchCommand, type JobTemplateBase } from "./job-template";

export const TRAINING_COMPONENT = "training";

export interface TrainingSpec extends JobTemplateBase {
    readonly trackingUri: string;
    readonly experiment: string;
    readonly registeredModel: string;
    readonly datasetS3Path: Input<string>;
    readonly dvcRemote?: string;
    readonly dvcHash?: string;
    readonly aws: AwsCredentialSource;
    readonly backoffLimit: number;
}

/** CronJob name of a profile: train-<profile>. */
export function trainingJobName(profile: string): string {
    return `train-${profile}`;
}

/** The command an operator runs to start one training run from a template. */
export function launchCommand(namespace: string, profile: string): string {
    return templateLaunchCommand(namespace, trainingJobName(profile));
}

/** The trainer's environment: a contract with images/trainer/train.py. */
export function trainingEnv(spec: TrainingSpec, profile: TrainingProfile): k8s.types.input.core.v1.EnvVar[] {
    const out: k8s.types.input.core.v1.EnvVar[] = [
        env("MLFLOW_TRACKING_URI", spec.trackingUri),
        env("MLFLOW_EXPERIMENT_NAME", spec.experiment),
        env("REGISTERED_MODEL_NAME", spec.registeredModel),
        env("TRAINING_PROFILE", profile.name),
        env("MAX_DEPTH", String(profile.params.max_depth)),
        env("LEARNING_RATE", String(profile.params.learning_rate)),
        env("MAX_ITER", String(profile.params.max_iter)),
        env("RANDOM_STATE", String(profile.params.random_state)),
        env("DATASET_S3_PATH", spec.datasetS3Path),
        env("HOME", "/tmp"),
    ];
    if (spec.dvcRemote) out.push(env("DVC_REMOTE", spec.dvcRemote));
    if (spec.dvcHash) out.push(env("DVC_DATASET_HASH", spec.dvcHash));
    if (spec.trackingCredentialsSecretName !== undefined) {
        out.push(secretEnv("MLFLOW_TRACKING_USERNAME", spec.trackingCredentialsSecretName, "username"));
        out.push(secretEnv("MLFLOW_TRACKING_PASSWORD", spec.trackingCredentialsSecretName, "password"));
    }
    out.push(...awsEnv(spec.aws));
    return out;
}

export function trainingCronJob(spec: TrainingSpec, profile: TrainingProfile): k8s.types.input.batch.v1.CronJob {
    const podLabels = { ...labels(TRAINING_COMPONENT, "trainer"), "mlflow-platform/training-profile": profile.name };
    return templateCronJob({
        telemetry: spec.telemetry,
        name: trainingJobName(profile.name),
        namespace: spec.namespace,
        component: TRAINING_COMPONENT,
        annotations: { "mlflow-platform/launch": launchCommand(spec.namespace, profile.name) },
        podLabels,
        schedule: profile.schedule,
        backoffLimit: spec.backoffLimit,
        activeDeadlineSeconds: spec.activeDeadlineSeconds,
        ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
        serviceAccountName: spec.serviceAccountName,
        automountServiceAccountToken: spec.aws.keysSecretName === undefined,
        container: { name: "trainer", image: spec.image, env: trainingEnv(spec, profile), resources: spec.resources },
    });
}
