import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { Resources, TrainingProfile } from "../config";
import { AwsCredentialSource, meta } from "../manifests/common";
import { launchCommand, trainingCronJob, trainingJobName, TRAINING_COMPONENT } from "../manifests/training";

export const TRAINING_SERVICE_ACCOUNT = "mlflow-training";

export interface TrainingJobsArgs {
    /** Namespace of the templates. */
    readonly namespace: string;
    /** Trainer image (images/trainer); required when `profiles` is not empty. Defaults to none. */
    readonly image?: pulumi.Input<string>;
    /** In-cluster tracking URI. */
    readonly trackingUri: string;
    /** Experiment of every run. Defaults to `california_housing_price`. */
    readonly experiment?: string;
    /** Registered model of the trained versions. Defaults to `CaliforniaHousingRegressor`. */
    readonly registeredModel?: string;
    /** s3:// path of the training CSV. */
    readonly datasetS3Path: pulumi.Input<string>;
    /** DVC remote of the dataset. Defaults to none. */
    readonly dvcRemote?: string;
    /** DVC md5 of the dataset. Defaults to the trainer computing it. */
    readonly dvcHash?: string;
    /** One template per profile. */
    readonly profiles: readonly TrainingProfile[];
    /** Requests and limits of a training pod. */
    readonly resources: Resources;
    /** Seconds before a run is stopped. Defaults to 7200. */
    readonly activeDeadlineSeconds?: number;
    /** Seconds a finished Job is kept. Defaults to 86400. */
    readonly ttlSecondsAfterFinished?: number;
    /** Retries of a failed run. Defaults to 1. */
    readonly backoffLimit?: number;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA. */
    readonly aws: AwsCredentialSource;
    /** Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn. Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Secret with `username`/`password` for a tracking server behind basic auth. Defaults to none. */
    readonly trackingCredentialsSecretName?: pulumi.Input<string>;
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
        if (args.profiles.length > 0 && image === undefined) throw new Error("TrainingJobs: image is required when profiles are set (set training.image or image.build)");
        const sa = new corev1.ServiceAccount(
            name,
            {
                metadata: { ...meta(TRAINING_SERVICE_ACCOUNT, args.namespace, TRAINING_COMPONENT), annotations: args.serviceAccountAnnotations },
                automountServiceAccountToken: args.aws.keysSecretName === undefined,
            },
            child,
        );
        this.templates = args.profiles.map((profile) => {
            new batchv1.CronJob(
                `${name}-${profile.name}`,
                trainingCronJob(
                    {
                        namespace: args.namespace,
                        image: image as pulumi.Input<string>, // checked above: profiles are not empty here
                        trackingUri: args.trackingUri,
                        experiment: args.experiment ?? "california_housing_price",
                        registeredModel: args.registeredModel ?? "CaliforniaHousingRegressor",
                        datasetS3Path: args.datasetS3Path,
                        dvcRemote: args.dvcRemote,
                        dvcHash: args.dvcHash,
                        serviceAccountName: TRAINING_SERVICE_ACCOUNT,
                        aws: args.aws,
                        resources: args.resources,
                        activeDeadlineSeconds: args.activeDeadlineSeconds ?? 7200,
                        ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 86400,
                        backoffLimit: args.backoffLimit ?? 1,
                        trackingCredentialsSecretName: args.trackingCredentialsSecretName,
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
