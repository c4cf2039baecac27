import type { SsoSpec } from "../manifests/sso";
import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as autoscalingv2 from "@pulumi/kubernetes/autoscaling/v2";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as policyv1 from "@pulumi/kubernetes/policy/v1";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import type { ObservabilityConfig, TrackingServerConfig } from "../config";
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
    type MigrationUpgrade,
} from "../manifests/tracking-server";
import { schemaRecordConfigMap } from "../manifests/upgrade";

export const TRACKING_SERVICE_ACCOUNT = "mlflow";

/** How a workload reaches the tracking server: what TrackingServer (the URI) and Access (the credentials) provide. */
export interface TrackingConnection {
    /** In-cluster tracking URI, http://mlflow.<namespace>.svc.cluster.local:5000. */
    readonly uri: string;
    /** Secret with `username`/`password` when the server is behind basic auth or single sign-on. Defaults to none. */
    readonly credentialsSecretName?: pulumi.Input<string>;
}

/** What the Access component adds to the tracking server (the future state's Ingress or Gateway with auth). */
export interface TrackingAccess {
    /** Host headers to accept besides the Service's names and localhost (the external host). */
    readonly allowedHosts: readonly string[];
    /** CORS origins (the external https origin). */
    readonly corsOrigins: readonly string[];
    /** Basic-auth app settings; undefined with single sign-on. */
    readonly auth?: TrackingAuth;
    /** Single sign-on: the oauth2-proxy sidecar in front, MLflow on loopback; undefined with basic auth. */
    readonly sso?: Omit<SsoSpec, "upstreamPort">;
    /** Changes when the auth config changes, to roll the pods. */
    readonly configChecksum: pulumi.Input<string>;
    /** Secret with `username`/`password` for in-cluster clients and Prometheus. */
    readonly credentialsSecretName: pulumi.Input<string>;
    /** What the schema migration waits for (the Job creating the auth database). */
    readonly ready: readonly pulumi.Resource[];
}

export interface TrackingServerArgs {
    /** Namespace of the server. */
    readonly namespace: string;
    /** The `trackingServer` config section: replicas (or autoscaling), workers, resources, extra allowed hosts. */
    readonly config: TrackingServerConfig;
    /** The `observability` config section: /metrics, and a Prometheus Operator ServiceMonitor with its interval. */
    readonly observability: Pick<ObservabilityConfig, "metrics" | "serviceMonitor" | "scrapeInterval">;
    /** Tracking-server image, ideally pinned by digest. */
    readonly image: pulumi.Input<string>;
    /** Secret whose key `uri` is the backend-store URI. */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** Default artifact root of new experiments, e.g. s3://bucket/. */
    readonly artifactRoot: pulumi.Input<string>;
    /** AWS credentials of the pods: a keys Secret, or none for IRSA. */
    readonly aws: AwsCredentialSource;
    /** Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn. Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** External access and authentication (the Access component). Defaults to none: cluster-local, no auth. */
    readonly access?: TrackingAccess;
    /** Other resources the schema migration must wait for (e.g. the database copy Job). Defaults to none. */
    readonly waitFor?: pulumi.Input<pulumi.Resource>[];
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
    /** The MLflow version of the image (image.mlflowVersion): recorded in the ConfigMap mlflow-schema once the schema is migrated to it. */
    readonly mlflowVersion: string;
    /** A version upgrade in this up: the migration waits for `ready` (the writers stopped, the backup taken) and names the backup when it fails. Defaults to none. */
    readonly upgrade?: { readonly ready: readonly pulumi.Resource[]; readonly migration: MigrationUpgrade };
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
    /** The ConfigMap mlflow-schema: the MLflow version the schema was migrated to. */
    public readonly schemaRecord: corev1.ConfigMap;
    /** How workloads reach the server: its URI, and the credentials Secret when it is behind auth. */
    public readonly connection: TrackingConnection;

    constructor(name: string, args: TrackingServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:tracking:TrackingServer", name, {}, opts);
        const child = { parent: this };
        const c = args.config;
        const access = args.access;
        const replicas = c.replicas;
        const metrics = args.observability.metrics;
        const autoscaling = c.autoscaling.enabled ? c.autoscaling : undefined;
        if (args.observability.serviceMonitor && !metrics) throw new Error("TrackingServer: a ServiceMonitor needs metrics (observability.metrics false)");

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
                resources: c.resources,
                telemetry: args.telemetry,
                upgrade: args.upgrade?.migration,
            }),
            { ...child, dependsOn: [sa, ...(args.waitFor ?? []), ...(access?.ready ?? []), ...(args.upgrade?.ready ?? [])] },
        );
        // The version the schema is migrated to, read by the next run's pre-flight (lib/schema-record.ts).
        this.schemaRecord = new corev1.ConfigMap(`${name}-schema`, schemaRecordConfigMap(args.namespace, args.mlflowVersion, args.upgrade?.migration.from), { ...child, dependsOn: [migration] });
        // With an autoscaler the replica count is the autoscaler's: the Deployment is created with minReplicas
        // and ignores the field afterwards. Leaving `replicas` out instead (as the HPA docs suggest for
        // client-side apply) makes a server-side apply drop the field the program owned, and the running
        // Deployment falls to 1 pod until the autoscaler catches up (found on the real engine); with
        // ignoreChanges the provider sends the live count, or leaves it to the autoscaler once that owns it.
        const autoscaled = autoscaling !== undefined;
        this.deployment = new appsv1.Deployment(
            name,
            trackingServerDeployment({
                namespace: args.namespace,
                image: args.image,
                replicas: autoscaling?.minReplicas ?? replicas,
                workers: c.workers,
                resources: c.resources,
                serviceAccountName: TRACKING_SERVICE_ACCOUNT,
                backendStoreSecretName: args.backendStoreSecretName,
                artifactRoot: args.artifactRoot,
                aws: args.aws,
                extraAllowedHosts: [...c.extraAllowedHosts, ...(access?.allowedHosts ?? [])],
                corsOrigins: access ? [...access.corsOrigins] : undefined,
                auth: access?.auth,
                sso: access?.sso,
                podAnnotations: access ? { "mlflow-platform/auth-config": access.configChecksum } : undefined,
                metrics,
                telemetry: args.telemetry,
            }),
            { ...child, dependsOn: [migration, sa], ...(autoscaled ? { ignoreChanges: ["spec.replicas"] } : {}) },
        );
        new corev1.Service(name, trackingServerService(args.namespace), child);
        new policyv1.PodDisruptionBudget(name, trackingServerPdb(args.namespace, autoscaling?.minReplicas ?? replicas), child);
        if (autoscaling) new autoscalingv2.HorizontalPodAutoscaler(name, trackingServerHpa(args.namespace, autoscaling), { ...child, dependsOn: [this.deployment] });
        if (args.observability.serviceMonitor) {
            new apiextensions.CustomResource(
                name,
                trackingServiceMonitor({ namespace: args.namespace, interval: args.observability.scrapeInterval, basicAuthSecretName: access?.credentialsSecretName }),
                child,
            );
        }

        this.trackingUri = trackingUri(args.namespace);
        this.serviceName = TRACKING_SERVICE_NAME;
        this.connection = { uri: this.trackingUri, credentialsSecretName: access?.credentialsSecretName };
        this.serviceAccountName = sa.metadata.name;
        this.registerOutputs({ trackingUri: this.trackingUri, serviceName: this.serviceName });
    }
}
