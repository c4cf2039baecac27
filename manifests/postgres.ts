/**
 * In-cluster PostgreSQL (the current state's backend store) as plain data: StatefulSet with a volume
 * claim template, headless Service.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { Resources } from "../config";
import { containerSecurityContext, env, meta, persistentStatefulSet, resourceRequirements, secretEnv, selectorLabels, telemetryEnv } from "./common";

export const POSTGRES_NAME = "postgres";
export const POSTGRES_PORT = 5432;
export const POSTGRES_COMPONENT = "database";
/**
 * Pods with this label may reach PostgreSQL through its NetworkPolicy: the tracking server and the Jobs that run
 * SQL (schema migration, backups, gc, the copy to RDS, the auth database).
 */
export const DB_CLIENT_LABEL = "mlflow-platform/database-client";

/**
 * How long a database client waits for PostgreSQL to accept its connection before it starts. A new pod's address
 * reaches a NetworkPolicy engine's allow-list a moment after the pod starts: on a real node with kube-router, a
 * backup Job's pg_dump, run at the pod's first instant, was refused three times until the Job gave up.
 */
export const DATABASE_WAIT_SECONDS = 60;

/** Shell (PostgreSQL image): wait until pg_isready succeeds; `target` as pg_isready's -d (default: the PG* env). */
export function waitForPostgresShell(target?: string): string {
    const d = target ? ` -d "${target}"` : "";
    return [
        `waited=0; until pg_isready --quiet --timeout=3${d}; do`,
        `  waited=$((waited + 1)); if [ "$waited" -ge ${DATABASE_WAIT_SECONDS} ]; then echo "PostgreSQL does not accept connections after ${DATABASE_WAIT_SECONDS} s" >&2; exit 1; fi; sleep 1`,
        "done",
    ].join("\n");
}

/**
 * Python (the mlflow image, psycopg): connects to the database of the URI in env var argv[1] until it accepts
 * (DATABASE_WAIT_SECONDS; failed authentication fails at once), then execs argv[2:]. No shell, and the URI stays in
 * the environment.
 */
const WAIT_FOR_DATABASE_PY = [
    "import os, re, sys, time",
    "import psycopg",
    // SQLAlchemy's driver suffix (postgresql+psycopg2:) is no libpq URI scheme.
    'uri = re.sub(r"^(postgres(?:ql)?)\\+[a-z0-9]+:", r"\\1:", os.environ[sys.argv[1]])',
    `deadline = time.monotonic() + ${DATABASE_WAIT_SECONDS}`,
    "while True:",
    "    try:",
    "        psycopg.connect(uri, connect_timeout=3).close(); break",
    "    except psycopg.OperationalError as e:",
    '        if "authentication failed" in str(e) or time.monotonic() > deadline:',
    `            print(f"wait-for-database: the database does not accept the connection: {str(e).strip()}", file=sys.stderr); sys.exit(1)`,
    "        time.sleep(1)",
    "os.execvp(sys.argv[2], sys.argv[2:])",
].join("\n");

/** `command` run once the database of the URI in env var `uriEnv` accepts connections (mlflow image). */
export function afterDatabase(uriEnv: string, command: readonly string[]): string[] {
    return ["python", "-c", WAIT_FOR_DATABASE_PY, uriEnv, ...command];
}

/** The official postgres image runs as uid/gid 999. */
const POSTGRES_UID = 999;

export interface PostgresSpec {
    readonly namespace: string;
    readonly image: string;
    readonly storageSize: string;
    readonly storageClassName?: string;
    readonly resources: Resources;
    readonly database: string;
    readonly username: string;
    /** Secret with key `password`. */
    readonly passwordSecretName: Input<string>;
}

/** In-cluster DNS name of the database Service. */
export function postgresHost(namespace: string): string {
    return `${POSTGRES_NAME}.${namespace}.svc.cluster.local`;
}

/** SQLAlchemy URI of a PostgreSQL database, password URL-encoded. */
export function postgresUri(p: { username: string; password: string; host: string; port?: number; database: string; sslmode?: "require" | "verify-full" | "disable" }): string {
    const query = p.sslmode ? `?sslmode=${p.sslmode}` : "";
    return `postgresql://${encodeURIComponent(p.username)}:${encodeURIComponent(p.password)}@${p.host}:${p.port ?? POSTGRES_PORT}/${p.database}${query}`;
}

function readiness(periodSeconds: number, failureThreshold: number, initialDelaySeconds = 0): k8s.types.input.core.v1.Probe {
    return {
        exec: { command: ["/bin/sh", "-c", 'pg_isready -h 127.0.0.1 -p 5432 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'] },
        initialDelaySeconds,
        periodSeconds,
        timeoutSeconds: 5,
        failureThreshold,
    };
}

export function postgresStatefulSet(spec: PostgresSpec): k8s.types.input.apps.v1.StatefulSet {
    // The claim outlives the StatefulSet: it holds every experiment's metadata.
    return persistentStatefulSet({
        name: POSTGRES_NAME,
        namespace: spec.namespace,
        component: POSTGRES_COMPONENT,
        storageSize: spec.storageSize,
        storageClassName: spec.storageClassName,
        pod: {
            securityContext: { runAsNonRoot: true, runAsUser: POSTGRES_UID, runAsGroup: POSTGRES_UID, fsGroup: POSTGRES_UID, seccompProfile: { type: "RuntimeDefault" } },
            terminationGracePeriodSeconds: 60,
            automountServiceAccountToken: false,
            containers: [
                {
                    name: "postgres",
                    image: spec.image,
                    imagePullPolicy: "IfNotPresent",
                    ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
                    env: [
                        env("POSTGRES_DB", spec.database),
                        env("POSTGRES_USER", spec.username),
                        secretEnv("POSTGRES_PASSWORD", spec.passwordSecretName, "password"),
                        // A subdirectory: the volume's root holds lost+found on most provisioners.
                        env("PGDATA", "/var/lib/postgresql/data/pgdata"),
                        ...telemetryEnv(),
                    ],
                    startupProbe: readiness(5, 60),
                    readinessProbe: readiness(10, 3),
                    livenessProbe: readiness(20, 6, 30),
                    resources: resourceRequirements(spec.resources),
                    // PostgreSQL writes its socket and pid under /var/run/postgresql: an emptyDir.
                    securityContext: containerSecurityContext(true),
                    volumeMounts: [
                        { name: "data", mountPath: "/var/lib/postgresql/data" },
                        { name: "run", mountPath: "/var/run/postgresql" },
                        { name: "tmp", mountPath: "/tmp" },
                    ],
                },
            ],
            volumes: [
                { name: "run", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
            ],
        },
    });
}

/** PostgreSQL reachable only from the database's clients (DB_CLIENT_LABEL), on 5432: in every stack with the in-cluster database. */
export function postgresNetworkPolicy(namespace: string): k8s.types.input.networking.v1.NetworkPolicy {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta(`${POSTGRES_NAME}-ingress`, namespace, POSTGRES_COMPONENT),
        spec: {
            podSelector: { matchLabels: selectorLabels(POSTGRES_COMPONENT, POSTGRES_NAME) },
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ podSelector: { matchLabels: { [DB_CLIENT_LABEL]: "true" } } }], ports: [{ protocol: "TCP", port: POSTGRES_PORT }] }],
        },
    };
}

export function postgresService(namespace: string): k8s.types.input.core.v1.Service {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(POSTGRES_NAME, namespace, POSTGRES_COMPONENT),
        spec: {
            type: "ClusterIP",
            selector: selectorLabels(POSTGRES_COMPONENT, POSTGRES_NAME),
            ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "postgres", protocol: "TCP" }],
        },
    };
}
