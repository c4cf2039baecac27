/**
 * Access to the tracking server as plain data: the Ingress or the Gateway API HTTPRoute, MLflow's basic-auth
 * configuration, and the NetworkPolicy of the tracking server (PostgreSQL's own is manifests/postgres.ts).
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import { containerSecurityContext, labels, meta, podSecurityContext, secretEnv, telemetryEnv } from "./common";
import { DB_CLIENT_LABEL, waitForPostgresShell } from "./postgres";
import { BACKEND_URI_KEY, COMPONENT as TRACKING_COMPONENT, TRACKING_PORT, TRACKING_SERVICE_NAME } from "./tracking-server";

export const ACCESS_COMPONENT = "access";

export interface IngressSpec {
    readonly namespace: string;
    readonly host: string;
    readonly className: string;
    readonly tlsSecretName?: string;
    readonly clusterIssuer?: string;
    readonly annotations?: Readonly<Record<string, string>>;
}

export function trackingIngress(spec: IngressSpec): k8s.types.input.networking.v1.Ingress {
    const annotations: Record<string, string> = { ...(spec.annotations ?? {}) };
    if (spec.clusterIssuer) annotations["cert-manager.io/cluster-issuer"] = spec.clusterIssuer;
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: { ...meta(TRACKING_SERVICE_NAME, spec.namespace, ACCESS_COMPONENT), ...(Object.keys(annotations).length ? { annotations } : {}) },
        spec: {
            ingressClassName: spec.className,
            tls: [{ hosts: [spec.host], secretName: spec.tlsSecretName ?? "mlflow-tls" }],
            rules: [
                {
                    host: spec.host,
                    http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: TRACKING_SERVICE_NAME, port: { number: TRACKING_PORT } } } }] },
                },
            ],
        },
    };
}

export const HTTP_ROUTE_API = "gateway.networking.k8s.io/v1";

export interface HttpRouteSpec {
    readonly namespace: string;
    readonly host: string;
    readonly gatewayName: string;
    readonly gatewayNamespace: string;
    /** The Gateway's listener; unset: every listener whose hostname matches. */
    readonly sectionName?: string;
}

/** An HTTPRoute object (created with the provider's CustomResource). */
export interface HttpRouteObject {
    readonly apiVersion: typeof HTTP_ROUTE_API;
    readonly kind: "HTTPRoute";
    readonly metadata: ReturnType<typeof meta>;
    readonly spec: {
        readonly parentRefs: ReadonlyArray<Record<string, string>>;
        readonly hostnames: string[];
        readonly rules: ReadonlyArray<Record<string, unknown>>;
    };
}

/**
 * The Gateway API alternative to the Ingress: every path of the host to the `mlflow` Service on 5000. TLS
 * is the Gateway's (its HTTPS listener's certificate), as it is the ingress controller's with an Ingress.
 */
export function trackingHttpRoute(spec: HttpRouteSpec): HttpRouteObject {
    return {
        apiVersion: HTTP_ROUTE_API,
        kind: "HTTPRoute",
        metadata: meta(TRACKING_SERVICE_NAME, spec.namespace, ACCESS_COMPONENT),
        spec: {
            parentRefs: [
                {
                    group: "gateway.networking.k8s.io",
                    kind: "Gateway",
                    name: spec.gatewayName,
                    namespace: spec.gatewayNamespace,
                    ...(spec.sectionName !== undefined ? { sectionName: spec.sectionName } : {}),
                },
            ],
            hostnames: [spec.host],
            rules: [
                {
                    matches: [{ path: { type: "PathPrefix", value: "/" } }],
                    backendRefs: [{ group: "", kind: "Service", name: TRACKING_SERVICE_NAME, port: TRACKING_PORT, weight: 1 }],
                },
            ],
        },
    };
}

/** The https origin of the Ingress host, for CORS. */
export function httpsOrigin(host: string): string {
    return `https://${host}`;
}

/**
 * A value for an ini file that MLflow reads with Python's configparser.ConfigParser, whose interpolation
 * takes "%" as a reference: a percent-encoded database URI (password "p@ss" → "p%40ss") must be "%%".
 */
export function iniValue(value: string): string {
    return value.replace(/%/g, "%%");
}

/** MLflow's basic-auth app configuration (basic_auth.ini). */
export function basicAuthIni(p: { databaseUri: string; adminUsername: string; adminPassword: string; defaultPermission: string; credentialCacheSeconds: number }): string {
    if (!Number.isInteger(p.credentialCacheSeconds) || p.credentialCacheSeconds < 0) throw new Error(`basic auth: credentialCacheSeconds must be a whole number of seconds >= 0, got ${p.credentialCacheSeconds}`);
    return [
        "[mlflow]",
        `default_permission = ${p.defaultPermission}`,
        `database_uri = ${iniValue(p.databaseUri)}`,
        `admin_username = ${iniValue(p.adminUsername)}`,
        `admin_password = ${iniValue(p.adminPassword)}`,
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        // Per worker; 0: every request verifies the password (scrypt, twice for a log-batch).
        `auth_cache_ttl_seconds = ${p.credentialCacheSeconds}`,
        "",
    ].join("\n");
}

const selector = (component: string, name = component) => ({ matchLabels: { "app.kubernetes.io/name": name, "app.kubernetes.io/component": component } });

/**
 * Pods of this namespace (training jobs among them), the ingress controller's and the `scrapers` (a
 * Prometheus) may reach the tracking server's pods on `port`: MLflow's, or with single sign-on the proxy's.
 */
export function trackingNetworkPolicy(namespace: string, ingressControllerNamespace: Input<string>, scrapers: readonly string[] = [], port: number = TRACKING_PORT): k8s.types.input.networking.v1.NetworkPolicy {
    const fromNamespace = (n: Input<string>) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": n } } });
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta(`${TRACKING_SERVICE_NAME}-ingress`, namespace, ACCESS_COMPONENT),
        spec: {
            podSelector: selector(TRACKING_COMPONENT),
            policyTypes: ["Ingress"],
            ingress: [
                {
                    from: [{ podSelector: {} }, fromNamespace(ingressControllerNamespace), ...scrapers.map(fromNamespace)],
                    ports: [{ protocol: "TCP", port }],
                },
            ],
        },
    };
}

/** Creates the auth app's database next to MLflow's when it does not exist yet (idempotent). */
export function authDatabaseJob(p: {
    namespace: string;
    image: string;
    backendStoreSecretName: Input<string>;
    authDatabase: string;
}): k8s.types.input.batch.v1.Job {
    const script = [
        "set -eu",
        waitForPostgresShell("$MLFLOW_BACKEND_STORE_URI"),
        `exists=$(psql "$MLFLOW_BACKEND_STORE_URI" -Atc "select 1 from pg_database where datname = '${p.authDatabase}'")`,
        `if [ "$exists" != "1" ]; then psql "$MLFLOW_BACKEND_STORE_URI" -c 'create database ${p.authDatabase}'; fi`,
        `echo "database ${p.authDatabase} ready"`,
    ].join("\n");
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta("mlflow-auth-db", p.namespace, ACCESS_COMPONENT),
        spec: {
            backoffLimit: 3,
            activeDeadlineSeconds: 600,
            template: {
                metadata: { labels: { ...labels(ACCESS_COMPONENT, "auth-db"), [DB_CLIENT_LABEL]: "true" } },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    securityContext: { ...podSecurityContext(999) },
                    containers: [
                        {
                            name: "create-auth-db",
                            image: p.image,
                            command: ["/bin/sh", "-c", script],
                            env: [secretEnv("MLFLOW_BACKEND_STORE_URI", p.backendStoreSecretName, BACKEND_URI_KEY), ...telemetryEnv()],
                            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                            securityContext: containerSecurityContext(),
                        },
                    ],
                },
            },
        },
    };
}
