/**
 * The promotion template as plain data: a suspended CronJob `promote` that runs images/trainer/promote.py (the
 * promotion gate) in the trainer image. `kubectl create job --from` cannot pass arguments, so the launch command
 * renders the Job, adds PROMOTE_VERSION with `kubectl set env --local`, and creates it. The pod only talks to
 * MLflow: no AWS credentials, no service-account token.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import { env, labels, secretEnv } from "./common";
import { templateCronJob, type JobTemplateBase } from "./job-template";

export const PROMOTION_COMPONENT = "promotion";
export const PROMOTION_CRONJOB = "promote";
/** The trainer image's promotion script; the image's ENTRYPOINT is train.py, so the container sets `command`. */
export const PROMOTION_COMMAND = ["python", "/app/promote.py"] as const;

export interface PromotionSpec extends JobTemplateBase {
    readonly trackingUri: Input<string>;
    readonly registeredModel: Input<string>;
    readonly alias: Input<string>;
    readonly metric: Input<string>;
    /** A fraction >= 0 (checked here: a number, not an Input, so that the env value is known). */
    readonly maxRegression: number;
}

/**
 * The command that starts one promotion Job of `version` (a literal such as `<version>` or `4`). `extraEnv`
 * adds further variables to the Job, e.g. `PROMOTE_FORCE=true 'PROMOTE_REASON=…'` (already shell-quoted).
 */
export function promotionLaunchCommand(namespace: string, version = "<version>", extraEnv = ""): string {
    const envs = [`PROMOTE_VERSION=${version}`, ...(extraEnv.trim() === "" ? [] : [extraEnv.trim()])].join(" ");
    return (
        `kubectl create job --namespace ${namespace} --from=cronjob/${PROMOTION_CRONJOB} ${PROMOTION_CRONJOB}-${version}-$(date +%s) --dry-run=client -o yaml` +
        ` | kubectl set env --local -f - ${envs} -o yaml | kubectl create -f -`
    );
}

/** The launch command of a forced promotion (the gate overridden; the reason goes to the tag trail). */
export function forcedPromotionLaunchCommand(namespace: string, version = "<version>"): string {
    return promotionLaunchCommand(namespace, version, `PROMOTE_FORCE=true 'PROMOTE_REASON=<why the gate is overridden>'`);
}

/** promote.py's environment (a contract with images/trainer/promote.py); PROMOTE_VERSION is set per Job. */
export function promotionEnv(spec: PromotionSpec): k8s.types.input.core.v1.EnvVar[] {
    const out: k8s.types.input.core.v1.EnvVar[] = [
        env("MLFLOW_TRACKING_URI", spec.trackingUri),
        env("REGISTERED_MODEL_NAME", spec.registeredModel),
        env("PROMOTION_ALIAS", spec.alias),
        env("PROMOTION_METRIC", spec.metric),
        env("PROMOTION_MAX_REGRESSION", String(spec.maxRegression)),
        env("HOME", "/tmp"),
        env("GIT_PYTHON_REFRESH", "quiet"),
    ];
    if (spec.trackingCredentialsSecretName !== undefined) {
        out.push(secretEnv("MLFLOW_TRACKING_USERNAME", spec.trackingCredentialsSecretName, "username"));
        out.push(secretEnv("MLFLOW_TRACKING_PASSWORD", spec.trackingCredentialsSecretName, "password"));
    }
    return out;
}

export function promotionCronJob(spec: PromotionSpec): k8s.types.input.batch.v1.CronJob {
    if (!Number.isFinite(spec.maxRegression) || spec.maxRegression < 0) throw new Error(`promotionCronJob: maxRegression must be a number >= 0, got ${spec.maxRegression}`);
    return templateCronJob({
        telemetry: spec.telemetry,
        name: PROMOTION_CRONJOB,
        namespace: spec.namespace,
        component: PROMOTION_COMPONENT,
        annotations: {
            "mlflow-platform/launch": promotionLaunchCommand(spec.namespace),
            "mlflow-platform/launch-forced": forcedPromotionLaunchCommand(spec.namespace),
        },
        podLabels: labels(PROMOTION_COMPONENT, "promoter"),
        // A refusal is final: no retry.
        backoffLimit: 0,
        activeDeadlineSeconds: spec.activeDeadlineSeconds,
        ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
        serviceAccountName: spec.serviceAccountName,
        automountServiceAccountToken: false,
        container: { name: "promote", image: spec.image, command: PROMOTION_COMMAND, env: promotionEnv(spec), resources: spec.resources },
    });
}
