import type { SsoSpec } from "../manifests/sso";
import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as autoscalingv2 from "@pulumi/kubernetes/autoscaling/v2";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as policyv1 from "@pulumi/kubernetes/policy/v1";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import type { Resources, TrackingAutoscaling } from "../config";
import { AwsCredentialSource, meta } from "../manifests/common";
import { trackingServiceMonitor } from "../manifests/observability";
import {
    COMPONENT,
    dbUpgradeJob,
    TrackingAuth,
    trackingServerDeployment,
    trackingServerHpa,
    trackingServerPdb,
    trackingServerService,
    trackingUri,
    TRACKING_SERVICE_NAME,
} from "../manifests/tracking-server";

export const TRACKING_SERVICE_ACCOUNT = "mlflow";

export interface TrackingServerArgs {
    /** Namespace of the server. */
    readonly namespace: string;
    /** Tracking-server image, ideally pinned by digest. */
    readonly image: pulumi.Input<string>;
    /** Pods. Defaults to 2. */
    readonly replicas?: number;
    /** Server workers per pod. Defaults to 2. */
    readonly workers?: number;
    /** Requests and limits of each pod. */
    readonly resources: Resources;
    /** Secret whose key `uri` is the backend-store URI. */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** Default artifact root of new experiments, e.g. s3://bucket/. */
    readonly artifactRoot: pulumi.Input<string>;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA. */
    readonly aws: AwsCredentialSource;
    /** Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn. Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Host headers to accept besides the Service's names and localhost. Defaults to none. */
    readonly extraAllowedHosts?: readonly string[];
    /** CORS origins (the Ingress's https origin). Defaults to none. */
    readonly corsOrigins?: readonly string[];
    /** Basic-auth app settings. Defaults to no authentication. */
    readonly auth?: TrackingAuth;
    /** Single sign-on: the oauth2-proxy sidecar in front, MLflow on loopback. Defaults to none. */
    readonly sso?: Omit<SsoSpec, "upstreamPort">;
    /** Pod annotations (e.g. a checksum of the auth config). Defaults to none. */
    readonly podAnnotations?: Record<string, pulumi.Input<string>>;
    /** Resources the schema migration must wait for (e.g. the database copy Job). Defaults to none. */
    readonly waitFor?: pulumi.Input<pulumi.Resource>[];
    /** Serve Prometheus metrics on /metrics. Defaults to true. */
    readonly metrics?: boolean;
    /** A HorizontalPodAutoscaler between these bounds; `replicas` is then ignored. Defaults to none (fixed replicas). */
    readonly autoscaling?: Omit<TrackingAutoscaling, "enabled">;
    /** A Prometheus Operator ServiceMonitor for /metrics (needs metrics). Defaults to none. */
    readonly serviceMonitor?: {
        /** Scrape interval, e.g. 30s. */
        readonly interval: string;
        /** Secret with `username`/`password` when the server has basic auth. */
        readonly basicAuthSecretName?: pulumi.Input<string>;
    };
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/** Name of the schema-migration Job of one image: a new image is a new Job, run once. */
export function dbUpgradeJobName(imageRef: string): string {
    return `mlflow-db-upgrade-${crypto.createHash("sha256").update(imageRef).digest("hex").slice(0, 10)}`;
}

/**
 * The MLflow tracking server: ServiceAccount, the once-per-image schema migration Job, the Deployment
 * (hardened, probed on /health, /metrics for Prometheus), the `mlflow` Service on port 5000, a
 * PodDisruptionBudget, and when configured a HorizontalPodAutoscaler and a ServiceMonitor.
 */
export class TrackingServer extends pulumi.ComponentResource {
    /** http://mlflow.<namespace>.svc.cluster.local:5000 */
    public readonly trackingUri: string;
    public readonly serviceName: string;
    public readonly serviceAccountName: pulumi.Output<string>;
    public readonly deployment: appsv1.Deployment;

    constructor(name: string, args: TrackingServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:tracking:TrackingServer", name, {}, opts);
        const child = { parent: this };
        const replicas = args.replicas ?? 2;
        const metrics = args.metrics ?? true;
        if (args.serviceMonitor && !metrics) throw new Error("TrackingServer: a ServiceMonitor needs metrics (args.metrics false)");

        const sa = new corev1.ServiceAccount(
            name,
            {
                metadata: { ...meta(TRACKING_SERVICE_ACCOUNT, args.namespace, COMPONENT), annotations: args.serviceAccountAnnotations },
                automountServiceAccountToken: args.aws.keysSecretName === undefined,
            },
            child,
        );
        const migration = new batchv1.Job(
            `${name}-db-upgrade`,
            dbUpgradeJob({
                namespace: args.namespace,
                name: pulumi.output(args.image).apply(dbUpgradeJobName),
                image: args.image,
                serviceAccountName: TRACKING_SERVICE_ACCOUNT,
                backendStoreSecretName: args.backendStoreSecretName,
                resources: args.resources,
                telemetry: args.telemetry,
            }),
            { ...child, dependsOn: [sa, ...(args.waitFor ?? [])] },
        );
        // With an autoscaler the replica count is the autoscaler's: the Deployment is created with minReplicas
        // and ignores the field afterwards. Leaving `replicas` out instead (as the HPA docs suggest for
        // client-side apply) makes a server-side apply drop the field the program owned, and the running
        // Deployment falls to 1 pod until the autoscaler catches up (found on the real engine); with
        // ignoreChanges the provider sends the live count, or leaves it to the autoscaler once that owns it.
        const autoscaled = args.autoscaling !== undefined;
        this.deployment = new appsv1.Deployment(
            name,
            trackingServerDeployment({
                namespace: args.namespace,
                image: args.image,
                replicas: args.autoscaling?.minReplicas ?? replicas,
                workers: args.workers ?? 2,
                resources: args.resources,
                serviceAccountName: TRACKING_SERVICE_ACCOUNT,
                backendStoreSecretName: args.backendStoreSecretName,
                artifactRoot: args.artifactRoot,
                aws: args.aws,
                extraAllowedHosts: args.extraAllowedHosts ?? [],
                corsOrigins: args.corsOrigins,
                auth: args.auth,
                sso: args.sso,
                podAnnotations: args.podAnnotations,
                metrics,
                telemetry: args.telemetry,
            }),
            { ...child, dependsOn: [migration, sa], ...(autoscaled ? { ignoreChanges: ["spec.replicas"] } : {}) },
        );
        new corev1.Service(name, trackingServerService(args.namespace), child);
        new policyv1.PodDisruptionBudget(name, trackingServerPdb(args.namespace, args.autoscaling?.minReplicas ?? replicas), child);
        if (args.autoscaling) new autoscalingv2.HorizontalPodAutoscaler(name, trackingServerHpa(args.namespace, args.autoscaling), { ...child, dependsOn: [this.deployment] });
        if (args.serviceMonitor) {
            new apiextensions.CustomResource(
                name,
                trackingServiceMonitor({ namespace: args.namespace, interval: args.serviceMonitor.interval, basicAuthSecretName: args.serviceMonitor.basicAuthSecretName }),
                child,
            );
        }

        this.trackingUri = trackingUri(args.namespace);
        this.serviceName = TRACKING_SERVICE_NAME;
        this.serviceAccountName = sa.metadata.name;
        this.registerOutputs({ trackingUri: this.trackingUri, serviceName: this.serviceName });
    }
}
