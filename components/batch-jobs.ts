import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { BatchConfig } from "../config";
import type { AwsCredentialSource } from "../manifests/common";
import { batchCronJob, batchJobName, batchLaunchCommand, batchPaths } from "../manifests/batch";
import { TRAINING_SERVICE_ACCOUNT } from "./training-jobs";
import type { TrackingConnection } from "./tracking-server";

export interface BatchJobsArgs {
    /** Namespace of the templates (plain: it is part of each launch command). */
    readonly namespace: string;
    /**
     * The `batch` config section: the registered model and alias to score with, one template per profile (each a
     * distinct name), resources, deadline, TTL and retries.
     */
    readonly config: BatchConfig;
    /** Trainer image (images/trainer: MLflow and the model's dependencies); required when the config has profiles. Defaults to none. */
    readonly image?: pulumi.Input<string>;
    /** The tracking server the models are resolved from. */
    readonly tracking: TrackingConnection;
    /** s3://bucket[/prefix] of the artifact store: default paths are `<root>/batch/<profile>/…`. */
    readonly artifactRoot: pulumi.Input<string>;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA (the training ServiceAccount's role). */
    readonly aws: AwsCredentialSource;
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
        const c = args.config;
        if (c.profiles.length > 0 && image === undefined) throw new Error("BatchJobs: image is required when profiles are set (set training.image or image.build)");
        const seen = new Set<string>();
        for (const p of c.profiles) {
            if (seen.has(p.name)) throw new Error(`BatchJobs: profile "${p.name}" appears twice`);
            seen.add(p.name);
        }
        const spec = {
            namespace: args.namespace,
            image: image as pulumi.Input<string>, // checked above: used only when profiles are not empty
            trackingUri: args.tracking.uri,
            registeredModel: c.registeredModel,
            alias: c.alias,
            artifactRoot: args.artifactRoot,
            serviceAccountName: TRAINING_SERVICE_ACCOUNT,
            aws: args.aws,
            resources: c.resources,
            activeDeadlineSeconds: c.activeDeadlineSeconds,
            ttlSecondsAfterFinished: c.ttlSecondsAfterFinished,
            backoffLimit: c.backoffLimit,
            trackingCredentialsSecretName: args.tracking.credentialsSecretName,
            telemetry: args.telemetry,
        };
        this.templates = c.profiles.map((profile) => {
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
