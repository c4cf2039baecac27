import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { Resources } from "../config";
import { promotionCronJob, promotionLaunchCommand } from "../manifests/promotion";
import { TRAINING_SERVICE_ACCOUNT } from "./training-jobs";

export interface PromotionJobArgs {
    /** Namespace of the template (plain: the launch command names it). */
    readonly namespace: string;
    /** Trainer image (images/trainer), which carries promote.py. */
    readonly image: pulumi.Input<string>;
    /** In-cluster tracking URI. */
    readonly trackingUri: pulumi.Input<string>;
    /** Registered model whose alias the template moves. Defaults to `CaliforniaHousingRegressor`. */
    readonly registeredModel?: pulumi.Input<string>;
    /** Alias the template moves. Defaults to `production`. */
    readonly alias?: pulumi.Input<string>;
    /** Run metric the gate compares, lower is better. Defaults to `test_rmse`. */
    readonly metric?: pulumi.Input<string>;
    /** How much worse than the current version's metric a candidate may be, a fraction >= 0. Defaults to 0 (no worse). */
    readonly maxRegression?: number;
    /** Requests and limits of the promotion pod. */
    readonly resources: Resources;
    /** Secret with `username`/`password` for a tracking server behind basic auth. Defaults to none. */
    readonly trackingCredentialsSecretName?: pulumi.Input<string>;
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/**
 * The promotion template: a suspended CronJob `promote` running the promotion gate (images/trainer/promote.py)
 * in the cluster. Launch one promotion with the command in `launch` (PROMOTE_VERSION set per Job). It runs as the
 * training ServiceAccount `mlflow-training` (created by TrainingJobs), without its token and without AWS
 * credentials: it only talks to MLflow.
 */
export class PromotionJob extends pulumi.ComponentResource {
    /** Name of the CronJob: `promote`. */
    public readonly cronJob: pulumi.Output<string>;
    /** The command that starts one promotion, with `<version>` to fill in. */
    public readonly launch: string;

    constructor(name: string, args: PromotionJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:promotion:PromotionJob", name, {}, opts);
        const cj = new batchv1.CronJob(
            name,
            promotionCronJob({
                namespace: args.namespace,
                image: args.image,
                trackingUri: args.trackingUri,
                registeredModel: args.registeredModel ?? "CaliforniaHousingRegressor",
                alias: args.alias ?? "production",
                metric: args.metric ?? "test_rmse",
                maxRegression: args.maxRegression ?? 0,
                serviceAccountName: TRAINING_SERVICE_ACCOUNT,
                resources: args.resources,
                activeDeadlineSeconds: 600,
                ttlSecondsAfterFinished: 86400,
                telemetry: args.telemetry,
                ...(args.trackingCredentialsSecretName !== undefined ? { trackingCredentialsSecretName: args.trackingCredentialsSecretName } : {}),
            }),
            { parent: this },
        );
        this.cronJob = cj.metadata.name;
        this.launch = promotionLaunchCommand(args.namespace);
        this.registerOutputs({ cronJob: this.cronJob, launch: this.launch });
    }
}

