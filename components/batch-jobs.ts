import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { BatchProfile, Resources } from "../config";
import type { AwsCredentialSource } from "../manifests/common";
import { batchCronJob, batchJobName, batchLaunchCommand, batchPaths } from "../manifests/batch";
import { TRAINING_SERVICE_ACCOUNT } from "./training-jobs";

export interface BatchJobsArgs {
    /** Namespace of the templates (plain: it is part of each launch command). */
    readonly namespace: string;
    /** Trainer image (images/trainer), which carries batch_predict.py; required when `profiles` is not empty. Defaults to none. */
    readonly image?: pulumi.Input<string>;
    /** In-cluster tracking URI. */
    readonly trackingUri: pulumi.Input<string>;
    /** Registered model to load. Defaults to `CaliforniaHousingRegressor`. */
    readonly registeredModel?: pulumi.Input<string>;
    /** Alias resolved when each Job starts (the version used is logged and written to metadata.json). Defaults to `production`. */
    readonly alias?: pulumi.Input<string>;
    /** One template per profile (plain: each is a resource). */
    readonly profiles: readonly BatchProfile[];
    /** s3://bucket[/prefix] under which a profile without its own paths reads and writes (`<root>/batch/<profile>/`). */
    readonly artifactRoot: pulumi.Input<string>;
    /** Requests and limits of a batch pod. */
    readonly resources: Resources;
    /** Seconds before a batch run is stopped. Defaults to 7200. */
    readonly activeDeadlineSeconds?: number;
    /** Seconds a finished Job is kept. Defaults to 86400. */
    readonly ttlSecondsAfterFinished?: number;
    /** Retries of a run that failed for a reason a retry can fix (exit code 1). Defaults to 1. */
    readonly backoffLimit?: number;
    /** AWS credentials of the pods: the training keys Secret, or none for IRSA (the training ServiceAccount's role). */
    readonly aws: AwsCredentialSource;
    /** Secret with `username`/`password` for a tracking server behind basic auth. Defaults to none. */
    readonly trackingCredentialsSecretName?: pulumi.Input<string>;
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/** One batch template: its CronJob, the command that launches a run, and where runs read and write. */
export interface BatchTemplate {
    readonly profile: string;
    readonly cronJob: string;
    readonly launch: string;
    /** The input CSV. */
    readonly input: pulumi.Output<string>;
    /** The prefix each run writes `<Job name>/predictions.csv` and `<Job name>/metadata.json` under. */
    readonly output: pulumi.Output<string>;
}

/**
 * Batch inference templates: one suspended CronJob per profile, running as the training ServiceAccount
 * (`mlflow-training`, created by TrainingJobs: it has the S3 access). Launch a run with
 * `kubectl create job --from=cronjob/batch-<profile>`.
 */
export class BatchJobs extends pulumi.ComponentResource {
    public readonly templates: BatchTemplate[];

    constructor(name: string, args: BatchJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:batch:BatchJobs", name, {}, opts);
        const image = args.image;
        if (args.profiles.length > 0 && image === undefined) throw new Error("BatchJobs: image is required when profiles are set (set training.image or image.build)");
        const seen = new Set<string>();
        for (const p of args.profiles) {
            if (seen.has(p.name)) throw new Error(`BatchJobs: profile "${p.name}" appears twice`);
            seen.add(p.name);
        }
        const spec = {
            namespace: args.namespace,
            image: image as pulumi.Input<string>, // checked above: used only when profiles are not empty
            trackingUri: args.trackingUri,
            registeredModel: args.registeredModel ?? "CaliforniaHousingRegressor",
            alias: args.alias ?? "production",
            artifactRoot: args.artifactRoot,
            serviceAccountName: TRAINING_SERVICE_ACCOUNT,
            aws: args.aws,
            resources: args.resources,
            activeDeadlineSeconds: args.activeDeadlineSeconds ?? 7200,
            ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 86400,
            backoffLimit: args.backoffLimit ?? 1,
            trackingCredentialsSecretName: args.trackingCredentialsSecretName,
            telemetry: args.telemetry,
        };
        this.templates = args.profiles.map((profile) => {
            new batchv1.CronJob(`${name}-${profile.name}`, batchCronJob(spec, profile), { parent: this });
            const paths = batchPaths(args.artifactRoot, profile);
            return {
                profile: profile.name,
                cronJob: batchJobName(profile.name),
                launch: batchLaunchCommand(args.namespace, profile.name),
                input: pulumi.output(paths.input),
                output: pulumi.output(paths.output),
            };
        });
        this.registerOutputs({ templates: this.templates });
    }
}
