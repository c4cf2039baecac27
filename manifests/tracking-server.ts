/**
 * The tracking server's Kubernetes objects as plain data: Deployment, Service, PodDisruptionBudget,
 * HorizontalPodAutoscaler and the schema-migration Job. The component in components/tracking-server.ts only creates them.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { Resources, TrackingAutoscaling } from "../config";
import {
    awsEnv,
    AwsCredentialSource,
    containerSecurityContext,
    env,
    labels,
    meta,
    PATCH_FORCE,
    podSecurityContext,
    resourceRequirements,
    secretEnv,
    selectorLabels,
    telemetryEnv,
    TMP_MOUNT,
    TMP_VOLUME,
} from "./common";
import { afterDatabase, DB_CLIENT_LABEL } from "./postgres";
import { oauth2ProxyContainer, SSO_PORT, SSO_UPSTREAM_HOST, SsoSpec, ssoVolumes } from "./sso";

export const TRACKING_SERVICE_NAME = "mlflow";
export const TRACKING_PORT = 5000;
export const COMPONENT = "tracking-server";
/** Key of the backend-store Secret that holds the SQLAlchemy URI. */
export const BACKEND_URI_KEY = "uri";
/** The path of the Prometheus exporter (`mlflow server --expose-prometheus`), on the http port. */
export const METRICS_PATH = "/metrics";
/** The exporter's multiprocess directory: an emptyDir in memory (the root filesystem is read-only). */
export const METRICS_DIR = "/var/run/mlflow-metrics";
/**
 * The pod's IP from the downward API. Prometheus scrapes pod IPs, so the Host header of a scrape is
 * `<pod IP>:5000`; the kubelet expands `$(POD_IP)` in the allowed-hosts argument, which admits exactly
 * the pod's own address and no other IP.
 */
export const POD_IP_ENV = "POD_IP";

/** The in-cluster tracking URI, e.g. http://mlflow.mlflow.svc.cluster.local:5000. */
export function trackingUri(namespace: string): string {
    return `http://${TRACKING_SERVICE_NAME}.${namespace}.svc.cluster.local:${TRACKING_PORT}`;
}

/**
 * Every Host header MLflow (>= 3.5, DNS-rebinding protection) must accept: the Service's in-cluster names,
 * short to FQDN, with and without the port; localhost for `kubectl port-forward`; plus extras
 * (the Ingress host, an internal load balancer).
 */
export function allowedHosts(namespace: string, extra: readonly string[] = []): string[] {
    const names = [TRACKING_SERVICE_NAME, `${TRACKING_SERVICE_NAME}.${namespace}`, `${TRACKING_SERVICE_NAME}.${namespace}.svc`, `${TRACKING_SERVICE_NAME}.${namespace}.svc.cluster.local`];
    const hosts = names.flatMap((n) => [n, `${n}:${TRACKING_PORT}`]);
    // Port-forwards pick any local port: MLflow matches entries as fnmatch patterns.
    hosts.push("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*");
    for (const e of extra) if (!hosts.includes(e)) hosts.push(e);
    return hosts;
}

/** Basic-auth settings of the server (access.auth = basic). */
export interface TrackingAuth {
    /** Secret with `flask-secret-key` and `basic_auth.ini` (the auth app's config; it holds a DB URI). */
    readonly secretName: Input<string>;
}

export interface TrackingServerSpec {
    /** MLflow's usage telemetry on (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
    readonly namespace: string;
    readonly image: Input<string>;
    readonly replicas: number;
    readonly workers: number;
    readonly resources: Resources;
    readonly serviceAccountName: string;
    /** Secret whose key `uri` is the backend-store URI (with the password: it never appears in a manifest). */
    readonly backendStoreSecretName: Input<string>;
    /** Where new experiments put artifacts, e.g. s3://bucket/ (direct access, see README). */
    readonly artifactRoot: Input<string>;
    readonly aws: AwsCredentialSource;
    readonly extraAllowedHosts: readonly string[];
    readonly corsOrigins?: readonly string[];
    readonly auth?: TrackingAuth;
    /** Pod annotations, e.g. a checksum that rolls the pods when a mounted config changes. */
    readonly podAnnotations?: Record<string, Input<string>>;
    /** Serve Prometheus metrics on /metrics (a memory emptyDir for the exporter, the pod IP an allowed host). */
    readonly metrics?: boolean;
    /** Single sign-on: the oauth2-proxy sidecar in front, MLflow on loopback (access.auth = oidc). */
    readonly sso?: Omit<SsoSpec, "upstreamPort">;
}

/** `mlflow server` arguments. The backend-store URI comes from env MLFLOW_BACKEND_STORE_URI (a Secret). */
export function serverArgs(spec: Pick<TrackingServerSpec, "namespace" | "workers" | "artifactRoot" | "extraAllowedHosts" | "corsOrigins" | "auth" | "metrics" | "sso">): Input<string>[] {
    const hosts = allowedHosts(spec.namespace, spec.extraAllowedHosts);
    // Behind the proxy every request (scrapes too) arrives with Host 127.0.0.1:5000.
    if (spec.metrics && !spec.sso) hosts.push(`$(${POD_IP_ENV}):${TRACKING_PORT}`);
    const args: Input<string>[] = [
        "server",
        "--host",
        spec.sso ? SSO_UPSTREAM_HOST : "0.0.0.0",
        "--port",
        String(TRACKING_PORT),
        "--workers",
        String(spec.workers),
        "--default-artifact-root",
        spec.artifactRoot,
        "--no-serve-artifacts",
        "--allowed-hosts",
        hosts.join(","),
    ];
    if (spec.metrics) args.push("--expose-prometheus", METRICS_DIR);
    if (spec.corsOrigins && spec.corsOrigins.length > 0) args.push("--cors-allowed-origins", spec.corsOrigins.join(","));
    if (spec.auth) args.push("--app-name", "basic-auth");
    return args;
}

export const AUTH_CONFIG_PATH = "/etc/mlflow-auth/basic_auth.ini";

function serverEnv(spec: TrackingServerSpec): k8s.types.input.core.v1.EnvVar[] {
    const out = [
        secretEnv("MLFLOW_BACKEND_STORE_URI", spec.backendStoreSecretName, BACKEND_URI_KEY),
        env("HOME", "/tmp"),
        // MLflow 3 starts a background job runner (4 more processes per pod) for GenAI jobs this platform
        // does not use; off, the pod's memory goes to the API.
        env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
        ...telemetryEnv(spec.telemetry),
        ...awsEnv(spec.aws),
    ];
    if (spec.metrics && !spec.sso) out.push({ name: POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
    if (spec.auth) {
        out.push(secretEnv("MLFLOW_FLASK_SERVER_SECRET_KEY", spec.auth.secretName, "flask-secret-key"));
        out.push(env("MLFLOW_AUTH_CONFIG_PATH", AUTH_CONFIG_PATH));
    }
    return out;
}

/**
 * HTTP probe on /health with a Host header MLflow accepts (kubelet would send the pod IP). Behind the
 * sign-in proxy MLflow listens on loopback, which the kubelet cannot reach: the probe goes through the
 * proxy's port, whose GET /health passes unauthenticated (and the proxy sets the Host).
 */
function healthProbe(periodSeconds: number, failureThreshold: number, sso: boolean): k8s.types.input.core.v1.Probe {
    return {
        httpGet: sso ? { path: "/health", port: SSO_PORT } : { path: "/health", port: "http", httpHeaders: [{ name: "Host", value: `localhost:${TRACKING_PORT}` }] },
        periodSeconds,
        timeoutSeconds: 5,
        failureThreshold,
    };
}

export function trackingServerDeployment(spec: TrackingServerSpec): k8s.types.input.apps.v1.Deployment {
    const volumes = [TMP_VOLUME];
    const mounts = [TMP_MOUNT];
    if (spec.auth) {
        volumes.push({ name: "auth-config", secret: { secretName: spec.auth.secretName, items: [{ key: "basic_auth.ini", path: "basic_auth.ini" }] } });
        mounts.push({ name: "auth-config", mountPath: "/etc/mlflow-auth", readOnly: true } as typeof TMP_MOUNT);
    }
    if (spec.metrics) {
        volumes.push({ name: "metrics", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } });
        mounts.push({ name: "metrics", mountPath: METRICS_DIR });
    }
    const sso = spec.sso !== undefined;
    if (spec.sso) volumes.push(...ssoVolumes(spec.sso));
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        // The program owns every field it declares: a server-side apply takes them back from another field
        // manager instead of failing. Found on the real engine: after the autoscaler is switched off, the
        // `horizontal-pod-autoscaler` manager still owns spec.replicas and the provider's apply of the fixed
        // count failed with a field conflict.
        metadata: meta(TRACKING_SERVICE_NAME, spec.namespace, COMPONENT, { [PATCH_FORCE]: "true" }),
        spec: {
            // With an autoscaler this is only the count at creation: the component ignores later changes of it.
            replicas: spec.replicas,
            revisionHistoryLimit: 5,
            selector: { matchLabels: selectorLabels(COMPONENT) },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels: { ...labels(COMPONENT), [DB_CLIENT_LABEL]: "true" }, ...(spec.podAnnotations ? { annotations: spec.podAnnotations } : {}) },
                spec: {
                    serviceAccountName: spec.serviceAccountName,
                    automountServiceAccountToken: spec.aws.keysSecretName === undefined,
                    securityContext: podSecurityContext(),
                    topologySpreadConstraints: [
                        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selectorLabels(COMPONENT) } },
                    ],
                    containers: [
                        {
                            name: "mlflow",
                            image: spec.image,
                            imagePullPolicy: "IfNotPresent",
                            args: serverArgs(spec),
                            env: serverEnv(spec),
                            // Behind the proxy the `http` port is the proxy's: MLflow's is on loopback.
                            ...(sso ? {} : { ports: [{ name: "http", containerPort: TRACKING_PORT, protocol: "TCP" }] }),
                            startupProbe: healthProbe(5, 60, sso),
                            readinessProbe: healthProbe(10, 3, sso),
                            livenessProbe: healthProbe(20, 3, sso),
                            resources: resourceRequirements(spec.resources),
                            securityContext: containerSecurityContext(),
                            volumeMounts: mounts,
                        },
                        ...(spec.sso ? [oauth2ProxyContainer({ ...spec.sso, upstreamPort: TRACKING_PORT })] : []),
                    ],
                    volumes,
                },
            },
        },
    };
}

export function trackingServerService(namespace: string): k8s.types.input.core.v1.Service {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(TRACKING_SERVICE_NAME, namespace, COMPONENT),
        spec: {
            type: "ClusterIP",
            selector: selectorLabels(COMPONENT),
            ports: [{ name: "http", port: TRACKING_PORT, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/**
 * Scales the Deployment on CPU between minReplicas and maxReplicas. Scale-down waits five minutes of
 * lower load (the default window, stated) so that a burst of training runs does not flap the pods.
 */
export function trackingServerHpa(namespace: string, a: Omit<TrackingAutoscaling, "enabled">): k8s.types.input.autoscaling.v2.HorizontalPodAutoscaler {
    return {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: meta(TRACKING_SERVICE_NAME, namespace, COMPONENT),
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: TRACKING_SERVICE_NAME },
            minReplicas: a.minReplicas,
            maxReplicas: a.maxReplicas,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.targetCPUUtilization } } }],
            behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
    };
}

/** Keeps one pod up through node drains once there are at least two (with an autoscaler: its minReplicas). */
export function trackingServerPdb(namespace: string, replicas: number): k8s.types.input.policy.v1.PodDisruptionBudget {
    return {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: meta(TRACKING_SERVICE_NAME, namespace, COMPONENT),
        spec: {
            ...(replicas >= 2 ? { minAvailable: 1 } : { maxUnavailable: 1 }),
            selector: { matchLabels: selectorLabels(COMPONENT) },
        },
    };
}

/**
 * `mlflow db upgrade` as a Job named after the image: it runs once per image change (a new image is a new
 * Job), before the Deployment rolls, instead of every pod racing to migrate the schema at start.
 */
/** What a migration that is part of a version upgrade knows: the versions and where the backup taken first is. */
export interface MigrationUpgrade {
    readonly from: string;
    readonly to: string;
    /** The pre-upgrade backup: `s3://…/backups/pre-upgrade-<from>-to-<to>/` or the RDS snapshot's identifier. */
    readonly backup: Input<string>;
}

/**
 * Runs the migration ("$@"); when it fails, says in one line, on stderr and as the pod's termination message,
 * that the schema may be half-migrated and which backup restores it.
 */
export const MIGRATION_FAILURE_SH = String.raw`"$@" && exit 0
rc=$?
msg="mlflow db upgrade from MLflow $UPGRADE_FROM to $UPGRADE_TO failed (exit $rc): the schema may be half-migrated (MLflow's migrations are not transactional) and no pod of either version serves. The database is restorable from the backup taken before the migration: $UPGRADE_BACKUP (scripts/restore-database.sh; docs/runbooks.md, 'Upgrade MLflow', 'The way back')"
printf '%s\n' "$msg" >&2
printf '%s\n' "$msg" > "${"${"}TERMINATION_LOG:-/dev/termination-log}" 2>/dev/null || true
exit "$rc"`;

export function dbUpgradeJob(spec: {
    namespace: string;
    name: Input<string>;
    image: Input<string>;
    serviceAccountName: string;
    backendStoreSecretName: Input<string>;
    resources: Resources;
    /** MLflow's usage telemetry on (telemetry.enabled). Defaults to off. */
    telemetry?: boolean;
    /** The version upgrade this migration is part of and the backup taken before it. Defaults to none: a fresh schema or the same version. */
    upgrade?: MigrationUpgrade;
}): k8s.types.input.batch.v1.Job {
    const upgrade = spec.upgrade;
    const migrate = ["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"];
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta(spec.name, spec.namespace, "schema-migration", upgrade ? { "mlflow-platform/upgrade-from": upgrade.from, "mlflow-platform/upgrade-to": upgrade.to, "mlflow-platform/restorable-from": upgrade.backup } : undefined),
        spec: {
            // An upgrade's migration is not retried: MLflow's migrations are not transactional, a second run on a
            // half-migrated schema may fail differently and hide the first error.
            backoffLimit: upgrade ? 0 : 2,
            activeDeadlineSeconds: 1800,
            template: {
                metadata: { labels: { ...labels("schema-migration"), [DB_CLIENT_LABEL]: "true" } },
                spec: {
                    restartPolicy: "Never",
                    serviceAccountName: spec.serviceAccountName,
                    securityContext: podSecurityContext(),
                    containers: [
                        {
                            name: "db-upgrade",
                            image: spec.image,
                            // Once the database accepts the pod's connections (a NetworkPolicy engine admits a new pod a
                            // moment late); the kubelet expands $(MLFLOW_BACKEND_STORE_URI) from the Secret.
                            command: afterDatabase("MLFLOW_BACKEND_STORE_URI", upgrade ? ["sh", "-c", MIGRATION_FAILURE_SH, "db-upgrade", ...migrate] : migrate),
                            env: [
                                secretEnv("MLFLOW_BACKEND_STORE_URI", spec.backendStoreSecretName, BACKEND_URI_KEY),
                                env("HOME", "/tmp"),
                                ...(upgrade ? [env("UPGRADE_FROM", upgrade.from), env("UPGRADE_TO", upgrade.to), env("UPGRADE_BACKUP", upgrade.backup)] : []),
                                ...telemetryEnv(spec.telemetry),
                            ],
                            // The failure line (MIGRATION_FAILURE_SH) is the container's termination message.
                            terminationMessagePolicy: "FallbackToLogsOnError",
                            resources: resourceRequirements(spec.resources),
                            securityContext: containerSecurityContext(),
                            volumeMounts: [TMP_MOUNT],
                        },
                    ],
                    volumes: [TMP_VOLUME],
                },
            },
        },
    };
}
