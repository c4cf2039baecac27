import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { TrainingConfig } from "../config";
import { AwsCredentialSource, meta } from "../manifests/common";
import type { TrackingConnection } from "./tracking-server";
import { launchCommand, trainingCronJob, trainingJobName, TRAINING_COMPONENT } from "../manifests/training";

export const TRAINING_SERVICE_ACCOUNT = "mlflow-training";

export interface TrainingJobsArgs {
    /** Namespace of the templates. */
    readonly namespace: string;
    /**
     * The `training` config section: experiment, registered model, dataset (DVC remote and hash), one template per
     * profile, resources, deadline, TTL and retries of a run.
     */
    readonly config: TrainingConfig;
    /** Trainer image (images/trainer); required when the config has profiles. Defaults to none. */
    readonly image?: pulumi.Input<string>;
    /** The tracking server the runs log to. */
    readonly tracking: TrackingConnection;
    /** s3:// path of the training CSV (training.dataset.s3Path, or the default key in the artifact store). */
    readonly datasetS3Path: pulumi.Input<string>;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA. */
    readonly aws: AwsCredentialSource;
    /** Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn. Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/** One training template: its CronJob and the command that launches a run from it. */
export interface TrainingTemplate {
    readonly profile: string;
    readonly cronJob: string;
    readonly launch: string;
}

/**
 * Training templates: a ServiceAccount and one suspended CronJob per profile. Launch a run (= one MLflow
 * run) with `kubectl create job --from=cronjob/train-<profile>`.
 */
export class TrainingJobs extends pulumi.ComponentResource {
    public readonly templates: TrainingTemplate[];

    constructor(name: string, args: TrainingJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:training:TrainingJobs", name, {}, opts);
        const child = { parent: this };
        const image = args.image;
        const c = args.config;
        if (c.profiles.length > 0 && image === undefined) throw new Error("TrainingJobs: image is required when profiles are set (set training.image or image.build)");
        const sa = new corev1.ServiceAccount(
            name,
            {
                metadata: { ...meta(TRAINING_SERVICE_ACCOUNT, args.namespace, TRAINING_COMPONENT), annotations: args.serviceAccountAnnotations },
                automountServiceAccountToken: args.aws.keysSecretName === undefined,
            },
            child,
        );
        this.templates = c.profiles.map((profile) => {
            new batchv1.CronJob(
                `${name}-${profile.name}`,
                trainingCronJob(
                    {
                        namespace: args.namespace,
                        image: image as pulumi.Input<string>, // checked above: profiles are not empty here
                        trackingUri: args.tracking.uri,
                        experiment: c.experiment,
                        registeredModel: c.registeredModel,
                        datasetS3Path: args.datasetS3Path,
                        dvcRemote: c.dataset.dvcRemote,
                        dvcHash: c.dataset.dvcHash,
                        serviceAccountName: TRAINING_SERVICE_ACCOUNT,
                        aws: args.aws,
                        resources: c.resources,
                        activeDeadlineSeconds: c.activeDeadlineSeconds,
                        ttlSecondsAfterFinished: c.ttlSecondsAfterFinished,
                        backoffLimit: c.backoffLimit,
                        trackingCredentialsSecretName: args.tracking.credentialsSecretName,
                        telemetry: args.telemetry,
                    },
                    profile,
                ),
                { ...child, dependsOn: [sa] },
            );
            return { profile: profile.name, cronJob: trainingJobName(profile.name), launch: launchCommand(args.namespace, profile.name) };
        });
        this.registerOutputs({ templates: this.templates });
    }
}
