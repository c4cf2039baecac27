/**
 * The shape every Job template of the platform shares (training, batch inference): a CronJob that is a
 * suspended template unless it has a schedule, launched with `kubectl create job --from=cronjob/<name>`,
 * whose one container runs under the restricted security context with a writable /tmp. Plain data.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { Resources } from "../config";
import { containerSecurityContext, meta, podSecurityContext, resourceRequirements, telemetryEnv, TMP_MOUNT, TMP_VOLUME } from "./common";

/** What the builder of every Job template takes besides its own settings (training, batch, promotion). */
export interface JobTemplateBase {
    readonly namespace: string;
    readonly image: Input<string>;
    readonly serviceAccountName: string;
    readonly resources: Resources;
    /** Seconds before a Job is stopped. */
    readonly activeDeadlineSeconds: number;
    /** Seconds a finished Job (and its log) is kept. */
    readonly ttlSecondsAfterFinished: number;
    /** Secret with `username`/`password` for a tracking server behind basic auth. */
    readonly trackingCredentialsSecretName?: Input<string>;
    /** MLflow's usage telemetry on (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/**
 * The command an operator runs to start one Job from the template `cronJob`: `<cronJob>-<14-digit timestamp>`,
 * so that a profile name of at most 42 characters after a 5-character prefix keeps the Job's name within 63.
 */
export function templateLaunchCommand(namespace: string, cronJob: string): string {
    return `kubectl create job --namespace ${namespace} --from=cronjob/${cronJob} ${cronJob}-$(date +%Y%m%d%H%M%S)`;
}



/** The schedule of a template without one: it is suspended, so it never fires (the value only has to be valid). */
export const TEMPLATE_SCHEDULE = "0 0 1 1 *";

export interface TemplateCronJobSpec {
    readonly name: string;
    readonly namespace: Input<string>;
    /** app.kubernetes.io/component of the CronJob. */
    readonly component: string;
    /** Annotations of the CronJob, e.g. mlflow-platform/launch. */
    readonly annotations: Record<string, Input<string>>;
    /** Labels of the Jobs and their pods. */
    readonly podLabels: Record<string, string>;
    /** Cron schedule; unset: a suspended template. */
    readonly schedule?: string;
    readonly backoffLimit: number;
    readonly activeDeadlineSeconds: number;
    readonly ttlSecondsAfterFinished: number;
    /** Set only when given (training has none). */
    readonly podFailurePolicy?: k8s.types.input.batch.v1.PodFailurePolicy;
    readonly serviceAccountName: string;
    readonly automountServiceAccountToken: boolean;
    readonly container: {
        readonly name: string;
        readonly image: Input<string>;
        /** Set only when given: unset runs the image's ENTRYPOINT. */
        readonly command?: readonly string[];
        readonly env: k8s.types.input.core.v1.EnvVar[];
        readonly resources: Resources;
    };
    /** MLflow's usage telemetry on for this MLflow workload. Defaults to off. */
    readonly telemetry?: boolean;
}

/** One CronJob template: one container, restricted security, /tmp an emptyDir, no concurrent runs. */
export function templateCronJob(t: TemplateCronJobSpec): k8s.types.input.batch.v1.CronJob {
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(t.name, t.namespace, t.component, t.annotations),
        spec: {
            // A template unless it has a schedule: suspended CronJobs never fire but can be instantiated.
            schedule: t.schedule ?? TEMPLATE_SCHEDULE,
            suspend: t.schedule === undefined,
            concurrencyPolicy: "Forbid",
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                metadata: { labels: t.podLabels },
                spec: {
                    backoffLimit: t.backoffLimit,
                    activeDeadlineSeconds: t.activeDeadlineSeconds,
                    ttlSecondsAfterFinished: t.ttlSecondsAfterFinished,
                    ...(t.podFailurePolicy !== undefined ? { podFailurePolicy: t.podFailurePolicy } : {}),
                    template: {
                        metadata: { labels: t.podLabels },
                        spec: {
                            restartPolicy: "Never",
                            serviceAccountName: t.serviceAccountName,
                            automountServiceAccountToken: t.automountServiceAccountToken,
                            securityContext: podSecurityContext(),
                            containers: [
                                {
                                    name: t.container.name,
                                    image: t.container.image,
                                    imagePullPolicy: "IfNotPresent",
                                    ...(t.container.command !== undefined ? { command: [...t.container.command] } : {}),
                                    env: [...t.container.env, ...telemetryEnv(t.telemetry)],
                                    resources: resourceRequirements(t.container.resources),
                                    securityContext: containerSecurityContext(),
                                    volumeMounts: [TMP_MOUNT],
                                },
                            ],
                            volumes: [TMP_VOLUME],
                        },
                    },
                },
            },
        },
    };
}
