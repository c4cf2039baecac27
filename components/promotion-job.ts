import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { PromotionConfig } from "../config";
import { promotionCronJob, promotionLaunchCommand } from "../manifests/promotion";
import { TRAINING_SERVICE_ACCOUNT } from "./training-jobs";
import type { TrackingConnection } from "./tracking-server";

export interface PromotionJobArgs {
    /** Namespace of the template (plain: it is part of the launch command). */
    readonly namespace: string;
    /** The `promotion` config section: the alias the gate moves, the metric it compares, the regression allowed, resources. */
    readonly config: PromotionConfig;
    /** The registered model whose alias moves (training.registeredModel). */
    readonly registeredModel: pulumi.Input<string>;
    /** Trainer image (images/trainer, which ships promote.py). */
    readonly image: pulumi.Input<string>;
    /** The tracking server holding the registry. */
    readonly tracking: TrackingConnection;
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
                trackingUri: args.tracking.uri,
                registeredModel: args.registeredModel,
                alias: args.config.alias,
                metric: args.config.metric,
                maxRegression: args.config.maxRegression,
                serviceAccountName: TRAINING_SERVICE_ACCOUNT,
                resources: args.config.resources,
                activeDeadlineSeconds: 600,
                ttlSecondsAfterFinished: 86400,
                telemetry: args.telemetry,
                ...(args.tracking.credentialsSecretName !== undefined ? { trackingCredentialsSecretName: args.tracking.credentialsSecretName } : {}),
            }),
            { parent: this },
        );
        this.cronJob = cj.metadata.name;
        this.launch = promotionLaunchCommand(args.namespace);
        this.registerOutputs({ cronJob: this.cronJob, launch: this.launch });
    }
}

