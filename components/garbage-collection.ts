import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { GcConfig } from "../config";
import type { AwsCredentialSource } from "../manifests/common";
import { gcCommand, gcCronJob } from "../manifests/gc";
import { TRACKING_SERVICE_ACCOUNT } from "./tracking-server";

export interface GarbageCollectionArgs {
    /** Namespace of the CronJob. */
    readonly namespace: string;
    /** The `gc` config section: schedule, the age of deleted runs removed for good, retries, resources. */
    readonly config: Pick<GcConfig, "schedule" | "olderThan" | "backoffLimit" | "resources">;
    /** Tracking-server image (images/mlflow): `mlflow gc` of the same version as the server. */
    readonly image: pulumi.Input<string>;
    /** Secret whose key `uri` is the backend-store URI. */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA (the tracking server's role). */
    readonly aws: AwsCredentialSource;
    /** Seconds before a run is stopped. Defaults to 3600. */
    readonly activeDeadlineSeconds?: number;
    /** Seconds a finished Job is kept. Defaults to 604800 (a week). */
    readonly ttlSecondsAfterFinished?: number;
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
    /**
     * What the CronJob is applied after (a component's dependsOn does not reach its children): the tracking server,
     * and during an MLflow upgrade its resume step, which gives back the CronJob's `suspend`. Defaults to none.
     */
    readonly waitFor?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Garbage collection of deleted runs: the CronJob `mlflow-gc` runs `mlflow gc --older-than <olderThan>` on a
 * schedule, in the tracking-server image, as the tracking server's ServiceAccount `mlflow` (created by
 * TrackingServer) with its backend store and artifact credentials. It removes each such run's rows and its
 * artifacts in S3; runs deleted more recently stay restorable.
 */
export class GarbageCollection extends pulumi.ComponentResource {
    /** Name of the CronJob: `mlflow-gc`. */
    public readonly cronJob: pulumi.Output<string>;
    /** The container's command, e.g. `mlflow gc --older-than 30d`. */
    public readonly command: string;
    public readonly schedule: string;

    constructor(name: string, args: GarbageCollectionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:gc:GarbageCollection", name, {}, opts);
        const { olderThan, schedule, backoffLimit, resources } = args.config;
        this.schedule = schedule;
        const cj = new batchv1.CronJob(
            name,
            gcCronJob({
                namespace: args.namespace,
                image: args.image,
                serviceAccountName: TRACKING_SERVICE_ACCOUNT,
                resources,
                schedule: this.schedule,
                olderThan,
                backendStoreSecretName: args.backendStoreSecretName,
                aws: args.aws,
                backoffLimit,
                activeDeadlineSeconds: args.activeDeadlineSeconds ?? 3600,
                ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 604_800,
                telemetry: args.telemetry,
            }),
            { parent: this, dependsOn: args.waitFor ?? [] },
        );
        this.cronJob = cj.metadata.name;
        this.command = gcCommand(olderThan).join(" ");
        this.registerOutputs({ cronJob: this.cronJob, command: this.command, schedule: this.schedule });
    }
}
