import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import type { Resources } from "../config";
import type { AwsCredentialSource } from "../manifests/common";
import { gcCommand, gcCronJob } from "../manifests/gc";
import { TRACKING_SERVICE_ACCOUNT } from "./tracking-server";

export interface GarbageCollectionArgs {
    /** Namespace of the CronJob (the tracking server's). */
    readonly namespace: string;
    /** Tracking-server image (images/mlflow), which carries `mlflow gc`. */
    readonly image: pulumi.Input<string>;
    /** The tracking server's backend-store Secret (key `uri`). */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** The tracking server's artifact credentials: a keys Secret, or none for IRSA (its ServiceAccount's role). */
    readonly aws: AwsCredentialSource;
    /** Requests and limits of the gc pod. */
    readonly resources: Resources;
    /** Cron schedule (plain: it is checked here). Defaults to `17 3 * * *` (daily, 03:17 in the controller's time zone). */
    readonly schedule?: string;
    /** Retention of deleted runs, e.g. `30d` (plain: it is checked here). Defaults to `30d`. */
    readonly olderThan?: string;
    /** Retries of a failed run. Defaults to 1. */
    readonly backoffLimit?: number;
    /** Seconds before a run is stopped. Defaults to 3600. */
    readonly activeDeadlineSeconds?: number;
    /** Seconds a finished Job (and its log of deleted run ids) is kept. Defaults to 604800 (7 days). */
    readonly ttlSecondsAfterFinished?: number;
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
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
        const olderThan = args.olderThan ?? "30d";
        this.schedule = args.schedule ?? "17 3 * * *";
        const cj = new batchv1.CronJob(
            name,
            gcCronJob({
                namespace: args.namespace,
                image: args.image,
                serviceAccountName: TRACKING_SERVICE_ACCOUNT,
                resources: args.resources,
                schedule: this.schedule,
                olderThan,
                backendStoreSecretName: args.backendStoreSecretName,
                aws: args.aws,
                backoffLimit: args.backoffLimit ?? 1,
                activeDeadlineSeconds: args.activeDeadlineSeconds ?? 3600,
                ttlSecondsAfterFinished: args.ttlSecondsAfterFinished ?? 604_800,
                telemetry: args.telemetry,
            }),
            { parent: this },
        );
        this.cronJob = cj.metadata.name;
        this.command = gcCommand(olderThan).join(" ");
        this.registerOutputs({ cronJob: this.cronJob, command: this.command, schedule: this.schedule });
    }
}
