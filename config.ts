/**
 * Typed stack configuration: the spec (defaults, allowed values, descriptions), the TypeScript shape,
 * the cross-field rules that a spec cannot say, and the loader that reads Pulumi config.
 *
 * Every key lives in the project namespace: `mlflow-platform:<key>`. Structured keys are objects
 * (set them in Pulumi.<stack>.yaml or with `pulumi config set --path database.mode rds`).
 */
import { MLFLOW_PYFUNC_RUNTIME, OLDER_THAN_HINT, OLDER_THAN_PATTERN, runtimeNeeded, SCHEDULE_HINT, SCHEDULE_PATTERN } from "./lib/terms";
import { check, ConfigError, ConfigIssue, ObjectSpec, show, Spec } from "./lib/schema";
import { BUILT_MLFLOW_VERSION, MLFLOW_VERSION_HINT, MLFLOW_VERSION_PATTERN } from "./lib/mlflow-version";

export { ConfigError } from "./lib/schema";
export const PROJECT = "mlflow-platform";

const quantity = { pattern: /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/, patternHint: "a Kubernetes quantity such as 500m, 512Mi or 20Gi" };
const dnsLabel = { pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, patternHint: "a DNS label: lower-case letters, digits and '-', at most 63 characters" };
/** A training or batch profile name: a launched Job is `train-<name>-<timestamp>` or `batch-<name>-<timestamp>` (14 digits), and a Job name is at most 63 characters. */
const profileName = { pattern: /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/, patternHint: "a DNS label of at most 42 characters: lower-case letters, digits and '-' (a launched Job, <train|batch>-<name>-<14-digit timestamp>, must fit in 63)" };
const cronSchedule = { pattern: SCHEDULE_PATTERN, patternHint: SCHEDULE_HINT };
const s3Uri = { pattern: /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, patternHint: "an s3://bucket/path URI" };

/** No control characters (newlines among them): every supplied secret ends up in an env var or a file line. */
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
/** A MinIO access key: MinIO reserves "=" and "," (its credentials checks refuse them). */
const MINIO_KEY = /^[^\u0000-\u001f\u007f=,]*$/;
/** The RDS rule for a master password: printable ASCII other than "/", '"', "@" and space. */
const RDS_PASSWORD = /^[\u0021\u0023-\u002e\u0030-\u003f\u0041-\u007e]*$/;
/** Printable ASCII, no space at either end (configparser trims them in basic_auth.ini). */
const AUTH_PASSWORD = /^([\u0021-\u007e]([\u0020-\u007e]*[\u0021-\u007e])?)?$/;

/** https, or http only on a loopback host (a provider the tests start); a path may follow. */
const OIDC_ISSUER = /^(https:\/\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?|http:\/\/(localhost|127\.0\.0\.1)(:[0-9]{1,5})?)(\/[\u0021-\u007e]*)?$/;

/** How to supply a secret key, for its description. */
const supply = (path: string, generated: string) =>
    `Set as a secret: \`pulumi config set --secret --path ${path} <value>\` (plain config is refused). Unset: generated (random, ${generated}).`;

const resources = (cpuReq: string, memReq: string, cpuLim: string, memLim: string, what: string): Spec => ({
    kind: "object",
    description: `Requests and limits of ${what}.`,
    fields: {
        requests: {
            kind: "object",
            description: "Requested CPU and memory.",
            fields: {
                cpu: { kind: "string", default: cpuReq, description: "CPU request.", ...quantity },
                memory: { kind: "string", default: memReq, description: "Memory request.", ...quantity },
            },
        },
        limits: {
            kind: "object",
            description: "CPU and memory limits.",
            fields: {
                cpu: { kind: "string", default: cpuLim, description: "CPU limit.", ...quantity },
                memory: { kind: "string", default: memLim, description: "Memory limit.", ...quantity },
            },
        },
    },
});

/** The full configuration spec: one entry per top-level key under `mlflow-platform:`. */
export const configSpec: ObjectSpec = {
    kind: "object",
    description: "mlflow-platform stack configuration",
    fields: {
        namespace: { kind: "string", default: "mlflow", description: "Kubernetes namespace of every workload.", ...dnsLabel },
        artifactStore: {
            kind: "object",
            description: "Where MLflow keeps artifacts.",
            fields: {
                mode: { kind: "string", enum: ["s3", "minio"], default: "s3", description: "`s3`: an Amazon S3 bucket; `minio`: MinIO in the cluster, no AWS at all (local clusters)." },
                bucketName: { kind: "string", optional: true, description: "Bucket name; unset: `mlflow-artifacts-<stack>-<random suffix>`.", pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, patternHint: "an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-'" },
                forceDestroy: { kind: "boolean", default: false, description: "Let `pulumi destroy` delete a non-empty bucket. Leave false: the bucket holds every model." },
                noncurrentVersionDays: { kind: "number", integer: true, min: 1, default: 90, description: "Days a replaced object version is kept before it expires." },
                abortIncompleteUploadDays: { kind: "number", integer: true, min: 1, default: 7, description: "Days before an unfinished multipart upload is aborted." },
                kmsKeyArn: { kind: "string", optional: true, description: "KMS key for default encryption; unset: SSE-S3 (AES256).", pattern: /^arn:aws[a-z-]*:kms:/, patternHint: "a KMS key ARN (arn:aws:kms:...)" },
                minio: {
                    kind: "object",
                    description: "MinIO settings (mode `minio`).",
                    fields: {
                        image: { kind: "string", default: "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z", description: "MinIO server image." },
                        storageSize: { kind: "string", default: "20Gi", description: "Size of MinIO's volume.", ...quantity },
                        storageClassName: { kind: "string", optional: true, description: "StorageClass of MinIO's volume; unset: the cluster default." },
                        bucketName: { kind: "string", default: "mlflow-artifacts", description: "Bucket created in MinIO." },
                        rootUser: {
                            kind: "string", optional: true, secret: true, minLength: 3, pattern: MINIO_KEY,
                            patternHint: "at least 3 characters, without '=', ',' or control characters (MinIO's rule for an access key)",
                            description: `MinIO's root user. ${supply("artifactStore.minio.rootUser", "16 characters")}`,
                        },
                        rootPassword: {
                            kind: "string", optional: true, secret: true, minLength: 8, pattern: NO_CONTROL,
                            patternHint: "at least 8 characters, without control characters (MinIO refuses a shorter root password)",
                            description: `MinIO's root password. ${supply("artifactStore.minio.rootPassword", "40 characters")}`,
                        },
                        accessKeyId: {
                            kind: "string", optional: true, secret: true, minLength: 3, pattern: MINIO_KEY,
                            patternHint: "at least 3 characters, without '=', ',' or control characters (MinIO's rule for an access key)",
                            description: `Access key id of MLflow's MinIO user (the Secret mlflow-aws-credentials). ${supply("artifactStore.minio.accessKeyId", "20 characters")} The bucket Job creates the user once: a new key on a running stack needs the Job re-run.`,
                        },
                        secretAccessKey: {
                            kind: "string", optional: true, secret: true, minLength: 8, pattern: NO_CONTROL,
                            patternHint: "at least 8 characters, without control characters (MinIO refuses a shorter secret key)",
                            description: `Secret key of MLflow's MinIO user. ${supply("artifactStore.minio.secretAccessKey", "40 characters")}`,
                        },
                    },
                },
            },
        },
        database: {
            kind: "object",
            description: "MLflow's backend store.",
            fields: {
                mode: { kind: "string", enum: ["inCluster", "rds"], default: "inCluster", description: "`inCluster`: PostgreSQL StatefulSet (current state); `rds`: Amazon RDS (future state)." },
                name: { kind: "string", default: "mlflow", description: "Database name.", pattern: /^[a-z_][a-z0-9_]{0,62}$/, patternHint: "a PostgreSQL identifier: lower-case letters, digits and '_'" },
                username: { kind: "string", default: "mlflow", description: "Database user.", pattern: /^[a-z_][a-z0-9_]{0,62}$/, patternHint: "a PostgreSQL identifier: lower-case letters, digits and '_'" },
                inCluster: {
                    kind: "object",
                    description: "In-cluster PostgreSQL.",
                    fields: {
                        image: { kind: "string", default: "postgres:16.10", description: "PostgreSQL image (major version 16)." },
                        storageSize: { kind: "string", default: "20Gi", description: "Size of the data volume.", ...quantity },
                        storageClassName: { kind: "string", optional: true, description: "StorageClass of the data volume; unset: the cluster default." },
                        resources: resources("250m", "512Mi", "1", "1Gi", "PostgreSQL"),
                        password: {
                            kind: "string", optional: true, secret: true, minLength: 1, pattern: NO_CONTROL,
                            patternHint: "a non-empty password without control characters (any other character works: the backend-store URI percent-encodes it)",
                            description: `Password of database.username. ${supply("database.inCluster.password", "32 characters")} PostgreSQL takes it only when it initialises an empty volume: on an existing database set it with ALTER ROLE too (docs/runbooks.md, password rotation).`,
                        },
                    },
                },
                rds: {
                    kind: "object",
                    description: "Amazon RDS for PostgreSQL (mode `rds`).",
                    fields: {
                        instanceClass: { kind: "string", default: "db.t4g.medium", description: "RDS instance class.", pattern: /^db\.[a-z0-9]+\.[a-z0-9]+$/, patternHint: "an RDS instance class such as db.t4g.medium" },
                        allocatedStorage: { kind: "number", integer: true, min: 20, max: 65536, default: 50, description: "Storage in GiB." },
                        maxAllocatedStorage: { kind: "number", integer: true, min: 20, max: 65536, default: 200, description: "Storage autoscaling ceiling in GiB." },
                        engineVersion: { kind: "string", default: "16", description: "PostgreSQL engine version (16 or 16.x).", pattern: /^16(\.[0-9]+)?$/, patternHint: "\"16\" or a 16.x minor version" },
                        vpcId: { kind: "string", optional: true, description: "VPC of the cluster.", pattern: /^vpc-[0-9a-f]{8,17}$/, patternHint: "a VPC id such as vpc-0123456789abcdef0" },
                        subnetIds: { kind: "array", description: "Private subnets for the DB subnet group (at least two, in different AZs).", items: { kind: "string", description: "Subnet id.", pattern: /^subnet-[0-9a-f]{8,17}$/, patternHint: "a subnet id such as subnet-0123456789abcdef0" } },
                        allowedCidrBlocks: { kind: "array", description: "CIDRs admitted on 5432 (e.g. the cluster's pod or node CIDRs).", items: { kind: "string", description: "CIDR.", pattern: /^([0-9]{1,3}\.){3}[0-9]{1,3}\/([0-9]|[12][0-9]|3[0-2])$/, patternHint: "an IPv4 CIDR such as 10.0.0.0/16" } },
                        allowedSecurityGroupIds: { kind: "array", description: "Security groups admitted on 5432 (e.g. the node security group).", items: { kind: "string", description: "Security group id.", pattern: /^sg-[0-9a-f]{8,17}$/, patternHint: "a security group id such as sg-0123456789abcdef0" } },
                        multiAz: { kind: "boolean", default: true, description: "Standby in a second AZ." },
                        backupRetentionDays: { kind: "number", integer: true, min: 7, max: 35, default: 7, description: "Days of automated backups (at least 7)." },
                        deletionProtection: { kind: "boolean", default: true, description: "Refuse deletion of the instance." },
                        password: {
                            kind: "string", optional: true, secret: true, minLength: 8, maxLength: 128, pattern: RDS_PASSWORD,
                            patternHint: "8 to 128 printable ASCII characters other than '/', '\"', '@' and space (the RDS rule for a master password)",
                            description: `Master password of the instance. ${supply("database.rds.password", "32 characters")} A change is applied to the instance in place; restart the tracking server after it (docs/runbooks.md).`,
                        },
                    },
                },
                migrateFromInCluster: { kind: "boolean", default: false, description: "With mode `rds`: run the one-shot copy Job from the in-cluster PostgreSQL before the tracking server moves." },
                retireInCluster: { kind: "boolean", default: false, description: "With mode `rds`: remove the in-cluster StatefulSet (its volume is retained)." },
                keepRds: { kind: "boolean", default: false, description: "With mode `inCluster`: keep the RDS instance declared (a rollback from `rds`; the instance is protected and holds the newer writes)." },
            },
        },
        artifactAuth: { kind: "string", enum: ["staticKeys", "irsa"], default: "staticKeys", description: "`staticKeys`: an IAM user's access key in a Secret (current state); `irsa`: IAM roles for service accounts (future state)." },
        staticKeys: {
            kind: "object",
            description: "With artifactAuth `staticKeys`: bring your own key instead of the IAM user the stack creates.",
            fields: {
                accessKeyId: { kind: "string", optional: true, secret: true, description: "AWS access key id (set as a secret)." },
                secretAccessKey: { kind: "string", optional: true, secret: true, description: "AWS secret access key (set as a secret)." },
            },
        },
        cluster: {
            kind: "object",
            description: "The existing EKS cluster.",
            fields: {
                oidcProviderArn: { kind: "string", optional: true, description: "IAM OIDC provider of the cluster (needed for irsa).", pattern: /^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider\/.+$/, patternHint: "an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer host/path>)" },
                oidcIssuerUrl: { kind: "string", optional: true, description: "OIDC issuer URL of the cluster (needed for irsa).", pattern: /^https:\/\/[^\s/]+(\/[^\s]*)?$/, patternHint: "an https:// issuer URL such as https://oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
                region: { kind: "string", optional: true, description: "AWS region; unset: aws:region.", pattern: /^[a-z]{2}(-[a-z]+)+-[0-9]$/, patternHint: "an AWS region such as eu-west-1" },
                ingressControllerNamespace: { kind: "string", default: "ingress-nginx", description: "Namespace of the ingress controller (admitted by the tracking server's NetworkPolicy).", ...dnsLabel },
            },
        },
        access: {
            kind: "object",
            description: "How people reach the MLflow UI and API.",
            fields: {
                mode: { kind: "string", enum: ["clusterLocal", "ingress", "gateway"], default: "clusterLocal", description: "`clusterLocal`: Service only, port-forward for the UI (current state); `ingress`: Ingress with TLS (future state); `gateway`: a Gateway API HTTPRoute on an existing Gateway, instead of the Ingress." },
                ingress: {
                    kind: "object",
                    description: "With mode `ingress`.",
                    fields: {
                        host: { kind: "string", optional: true, description: "Public host name of the UI/API.", pattern: /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, patternHint: "a DNS name such as mlflow.example.com" },
                        className: { kind: "string", default: "nginx", description: "IngressClass." },
                        tlsSecretName: { kind: "string", optional: true, description: "Existing TLS Secret; unset with clusterIssuer: cert-manager creates `mlflow-tls`." },
                        clusterIssuer: { kind: "string", optional: true, description: "cert-manager ClusterIssuer that issues the certificate." },
                        annotations: { kind: "map", description: "Extra Ingress annotations.", values: { kind: "string", description: "Annotation value." } },
                    },
                },
                gateway: {
                    kind: "object",
                    description: "With mode `gateway`: the HTTPRoute `mlflow` attaches to this Gateway, which terminates TLS on an HTTPS listener for the host.",
                    fields: {
                        host: { kind: "string", optional: true, description: "Public host name of the UI/API (the route's hostname).", pattern: /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, patternHint: "a DNS name such as mlflow.example.com" },
                        name: { kind: "string", optional: true, description: "Name of the Gateway.", ...dnsLabel },
                        namespace: { kind: "string", optional: true, description: "Namespace of the Gateway (its listener must allow routes from this stack's namespace).", ...dnsLabel },
                        sectionName: { kind: "string", optional: true, description: "The Gateway's HTTPS listener to attach to; unset: every listener that accepts the host.", ...dnsLabel },
                        proxyNamespace: { kind: "string", optional: true, description: "Namespace of the Gateway's proxy pods, which the tracking server's NetworkPolicy admits; unset: the Gateway's namespace.", ...dnsLabel },
                    },
                },
                auth: { kind: "string", enum: ["none", "basic", "oidc"], default: "none", description: "`basic`: MLflow's basic-auth app; `oidc`: single sign-on through oauth2-proxy in each tracking-server pod (see access.oidc). One of them is required with mode `ingress` or `gateway`." },
                oidc: {
                    kind: "object",
                    description: "With auth `oidc`: an oauth2-proxy sidecar in each tracking-server pod signs browser users in with an OpenID Connect provider and is the pod's only way in (MLflow listens on loopback). Machine clients (training, batch and promotion Jobs, the deploy-time registry lookup, Prometheus) send basic auth as the user `machine` from the Secret mlflow-tracking-credentials.",
                    fields: {
                        issuerUrl: { kind: "string", optional: true, description: "The provider's issuer URL, exactly as its discovery document states it (https; http only on a loopback host, e.g. a test provider).", pattern: OIDC_ISSUER, patternHint: "an https URL such as https://login.example.com/realms/ml (http only for localhost or 127.0.0.1)" },
                        clientId: { kind: "string", optional: true, minLength: 1, pattern: /^[\u0021-\u007e]*$/, patternHint: "the client id registered at the provider: printable ASCII without spaces", description: "The OAuth client registered at the provider (its redirect URI: https://<host>/oauth2/callback)." },
                        clientSecret: {
                            kind: "string", optional: true, secret: true, minLength: 1, pattern: NO_CONTROL,
                            patternHint: "the client secret the provider issued, without control characters",
                            description: "The client's secret at the provider (issued there, so never generated). Set as a secret: `pulumi config set --secret --path access.oidc.clientSecret <value>` (plain config is refused).",
                        },
                        cookieSecret: {
                            kind: "string", optional: true, secret: true, pattern: /^[\u0021-\u007e]{32}$/,
                            patternHint: "exactly 32 printable ASCII characters without spaces (oauth2-proxy's AES-256 session-cookie key; e.g. openssl rand -hex 16)",
                            description: `Key that encrypts the session cookies. ${supply("access.oidc.cookieSecret", "32 characters")}`,
                        },
                        machinePassword: {
                            kind: "string", optional: true, secret: true, minLength: 24, maxLength: 72, pattern: /^[\u0021-\u007e]*$/,
                            patternHint: "24 to 72 printable ASCII characters without spaces (oauth2-proxy checks it against a bcrypt hash, which reads 72 bytes)",
                            description: `Password of the machine user \`machine\`. ${supply("access.oidc.machinePassword", "32 characters")}`,
                        },
                        allowedEmailDomains: { kind: "array", description: "Users whose verified email is in one of these domains get in.", items: { kind: "string", description: "Email domain.", pattern: /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, patternHint: "a domain such as example.com" } },
                        allowedEmails: { kind: "array", description: "Users with one of these verified emails get in (as well as allowedEmailDomains).", items: { kind: "string", description: "Email address.", pattern: /^[^\s@,]+@([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, patternHint: "an email address such as alice@example.com" } },
                        allowedGroups: { kind: "array", description: "With groups set, a user must also be in one of them (the groupsClaim of the ID token).", items: { kind: "string", description: "Group.", minLength: 1, pattern: NO_CONTROL, patternHint: "a group name without control characters" } },
                        groupsClaim: { kind: "string", default: "groups", description: "The ID-token claim that lists the user's groups.", minLength: 1, pattern: /^[\u0021-\u007e]*$/, patternHint: "a claim name such as groups" },
                        scope: { kind: "string", default: "openid email profile", description: "Scopes requested at sign-in (add the one your provider needs for the groups claim).", pattern: /^openid( [\u0021-\u007e]+)*$/, patternHint: "space-separated scopes starting with openid, e.g. \"openid email profile groups\"" },
                        proxyImage: { kind: "string", optional: true, description: "A prebuilt oauth2-proxy image (ideally pinned by digest); unset: built from images/oauth2-proxy (oauth2-proxy v7.15.6 from the Go module proxy) and pushed to ECR (image.build), pinned by digest." },
                    },
                },
                defaultPermission: { kind: "string", enum: ["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"], default: "READ", description: "Permission of authenticated users on resources they did not create." },
                credentialCacheSeconds: {
                    kind: "number",
                    integer: true,
                    min: 0,
                    max: 3600,
                    default: 60,
                    description: "With auth `basic`: seconds each server worker caches a verified password (MLflow's auth_cache_ttl_seconds). Without the cache every request pays MLflow's scrypt check twice (about 200 ms of CPU per log-batch: 0.21 of an unauthenticated server's batches/s, `npm run bench -- --part tracking`); with 60 s, 0.94-0.99. A password changed through the API is refused at once by the worker that changed it, and by the others after at most this long; 0 turns the cache off.",
                },
                adminPassword: {
                    kind: "string", optional: true, secret: true, minLength: 12, pattern: AUTH_PASSWORD,
                    patternHint: "at least 12 printable ASCII characters, not starting or ending with a space (MLflow's basic-auth app refuses shorter passwords)",
                    description: `Password of the basic-auth admin (with auth \`basic\`). ${supply("access.adminPassword", "32 characters")} MLflow creates the admin from it only once: on a running stack change the admin's password in MLflow first.`,
                },
                flaskSecretKey: {
                    kind: "string", optional: true, secret: true, minLength: 32, pattern: NO_CONTROL,
                    patternHint: "at least 32 characters, without control characters (Flask signs session cookies and CSRF tokens with it; e.g. openssl rand -hex 32)",
                    description: `Flask secret key of the basic-auth app (with auth \`basic\`). ${supply("access.flaskSecretKey", "48 characters")}`,
                },
            },
        },
        image: {
            kind: "object",
            description: "The images the stack builds: images/mlflow (tracking server), images/trainer (training, batch, promotion), images/serving (the serving runtime) and images/oauth2-proxy (the single sign-on sidecar).",
            fields: {
                build: { kind: "boolean", default: true, description: "Build each image in use that config does not name (image.ref, training.image, serving.runtimeImage, access.oidc.proxyImage) and push it to ECR, pinned by digest; false: each image in use must be named." },
                ref: { kind: "string", optional: true, description: "A prebuilt tracking-server image (ideally pinned by digest); skips its build." },
                mlflowVersion: {
                    kind: "string",
                    optional: true,
                    pattern: MLFLOW_VERSION_PATTERN,
                    patternHint: MLFLOW_VERSION_HINT,
                    description: `The MLflow version the tracking-server image runs; required with image.ref; unset with a built image: ${BUILT_MLFLOW_VERSION} (images/mlflow). A change of it is an upgrade: the tracking server stops, the database is backed up, the schema migrates once, the new version rolls out (docs/runbooks.md, "Upgrade MLflow"); an older version than the database's is refused.`,
                },
                repositoryName: { kind: "string", optional: true, description: "ECR repository of the built tracking-server image; unset: `mlflow-platform/<stack>/mlflow` (the trainer, serving and oauth2-proxy images go to `mlflow-platform/<stack>/trainer`, `…/serving` and `…/oauth2-proxy`; stacks sharing an account do not collide)." },
                platform: { kind: "string", default: "linux/amd64", description: "Platform the images are built for.", pattern: /^linux\/(amd64|arm64)$/, patternHint: "linux/amd64 or linux/arm64" },
            },
        },
        trackingServer: {
            kind: "object",
            description: "The MLflow tracking server.",
            fields: {
                replicas: { kind: "number", integer: true, min: 0, max: 20, default: 2, description: "Pods (0 freezes writes, e.g. during the database copy)." },
                workers: { kind: "number", integer: true, min: 1, max: 32, default: 2, description: "uvicorn/gunicorn workers per pod." },
                resources: resources("250m", "1Gi", "2", "2Gi", "each tracking-server pod"),
                extraAllowedHosts: { kind: "array", description: "More Host headers to accept (e.g. an internal load balancer name).", items: { kind: "string", description: "Host or host:port." } },
                autoscaling: {
                    kind: "object",
                    description: "A HorizontalPodAutoscaler on CPU; when enabled the Deployment leaves replicas to it (pulumi up does not reset them).",
                    fields: {
                        enabled: { kind: "boolean", default: false, description: "Scale the tracking server between minReplicas and maxReplicas." },
                        minReplicas: { kind: "number", integer: true, min: 1, max: 20, default: 2, description: "Fewest pods (the PodDisruptionBudget keeps one up from 2)." },
                        maxReplicas: { kind: "number", integer: true, min: 1, max: 50, default: 6, description: "Most pods." },
                        targetCPUUtilization: { kind: "number", integer: true, min: 10, max: 100, default: 70, description: "Average CPU use, in percent of the pods' CPU request, that the autoscaler aims for." },
                    },
                },
            },
        },
        observability: {
            kind: "object",
            description: "Prometheus metrics of the tracking server.",
            fields: {
                metrics: { kind: "boolean", default: true, description: "Serve /metrics on the tracking server's http port (mlflow server --expose-prometheus, request counters and latencies per endpoint)." },
                serviceMonitor: { kind: "boolean", default: false, description: "Create a monitoring.coreos.com/v1 ServiceMonitor for it (needs the Prometheus Operator's CRDs)." },
                scrapeInterval: { kind: "string", default: "30s", description: "Scrape interval of the ServiceMonitor.", pattern: /^[1-9][0-9]*(s|m)$/, patternHint: "a duration in seconds or minutes such as 30s or 1m" },
                prometheusNamespace: { kind: "string", default: "monitoring", description: "Namespace Prometheus scrapes from: the tracking server's NetworkPolicy admits it when serviceMonitor is on.", ...dnsLabel },
            },
        },
        training: {
            kind: "object",
            description: "Training job templates (suspended CronJobs).",
            fields: {
                image: { kind: "string", optional: true, description: "Trainer image (images/trainer); unset: built from images/trainer and pushed to ECR with the tracking-server image (image.build), pinned by digest." },
                experiment: { kind: "string", default: "california_housing_price", description: "MLflow experiment of every run." },
                registeredModel: { kind: "string", default: "CaliforniaHousingRegressor", description: "Registered model the trainer writes versions to." },
                dataset: {
                    kind: "object",
                    description: "Training data.",
                    fields: {
                        s3Path: { kind: "string", optional: true, description: "CSV in S3; unset: s3://<artifact bucket>/datasets/california_housing.csv. In another bucket, the training credentials get read access to its directory.", ...s3Uri },
                        dvcRemote: { kind: "string", optional: true, description: "DVC remote the dataset is tracked in (recorded as a tag)." },
                        dvcHash: { kind: "string", optional: true, description: "DVC md5 of the dataset; unset: the trainer computes it.", pattern: /^[0-9a-f]{32}$/, patternHint: "a 32-character md5 hex digest" },
                    },
                },
                profiles: {
                    kind: "array",
                    description: "One suspended CronJob per profile.",
                    default: [{ name: "baseline", params: {} }],
                    items: {
                        kind: "object",
                        description: "A training profile.",
                        fields: {
                            name: { kind: "string", description: "Profile name (part of the CronJob name).", ...profileName },
                            params: {
                                kind: "object",
                                description: "Hyperparameters.",
                                fields: {
                                    max_depth: { kind: "number", integer: true, min: 1, max: 64, default: 6, description: "max_depth of HistGradientBoostingRegressor." },
                                    learning_rate: { kind: "number", min: 0.0001, max: 1, default: 0.1, description: "learning_rate." },
                                    max_iter: { kind: "number", integer: true, min: 1, max: 10000, default: 200, description: "max_iter." },
                                    random_state: { kind: "number", integer: true, min: 0, default: 42, description: "random_state (seed)." },
                                },
                            },
                            schedule: { kind: "string", optional: true, description: "Cron schedule; set it to run on a schedule (the CronJob is then not suspended).", ...cronSchedule },
                        },
                    },
                },
                resources: resources("1", "2Gi", "2", "4Gi", "each training pod"),
                activeDeadlineSeconds: { kind: "number", integer: true, min: 60, default: 7200, description: "A run is stopped after this many seconds." },
                ttlSecondsAfterFinished: { kind: "number", integer: true, min: 0, default: 86400, description: "Finished Jobs are removed after this many seconds." },
                backoffLimit: { kind: "number", integer: true, min: 0, max: 2, default: 1, description: "Retries of a failed run (at most 2: each retry is a new MLflow run)." },
            },
        },
        batch: {
            kind: "object",
            description: "Batch inference templates (suspended CronJobs): load models:/<registeredModel>@<alias> with mlflow.pyfunc, read a CSV from S3, write predictions to S3.",
            fields: {
                registeredModel: { kind: "string", default: "CaliforniaHousingRegressor", description: "Registered model to load." },
                alias: { kind: "string", default: "production", description: "Alias MLflow resolves when the Job starts (the version used is logged).", pattern: /^[A-Za-z_][\w-]*$/, patternHint: "an alias such as production: letters, digits, '_' and '-'" },
                profiles: {
                    kind: "array",
                    description: "One suspended CronJob per profile (batch-<name>); none by default.",
                    items: {
                        kind: "object",
                        description: "A batch inference profile.",
                        fields: {
                            name: { kind: "string", description: "Profile name (part of the CronJob name).", ...profileName },
                            inputS3Path: { kind: "string", optional: true, description: "Input CSV (feature columns); unset: s3://<artifact bucket>/batch/<name>/input.csv. In another bucket, the training credentials get read access to its directory.", ...s3Uri },
                            outputS3Prefix: { kind: "string", optional: true, description: "Where each run writes <prefix>/<job name>/predictions.csv; unset: s3://<artifact bucket>/batch/<name>/predictions. In another bucket, the training credentials get read and put (no delete) under it.", ...s3Uri },
                            schedule: { kind: "string", optional: true, description: "Cron schedule; set it to run on a schedule (the CronJob is then not suspended).", ...cronSchedule },
                        },
                    },
                },
                resources: resources("500m", "1Gi", "2", "4Gi", "each batch pod"),
                activeDeadlineSeconds: { kind: "number", integer: true, min: 60, default: 7200, description: "A batch run is stopped after this many seconds." },
                ttlSecondsAfterFinished: { kind: "number", integer: true, min: 0, default: 86400, description: "Finished Jobs are removed after this many seconds." },
                backoffLimit: { kind: "number", integer: true, min: 0, max: 5, default: 1, description: "Retries of a failed batch run." },
            },
        },
        promotion: {
            kind: "object",
            description: "Promotion: a suspended Job template that moves an alias to a version if the gate passes (`npm run promote` applies the same rules).",
            fields: {
                template: { kind: "boolean", default: true, description: "Create the suspended CronJob `promote`; one promotion is a Job made from it with PROMOTE_VERSION set (the stack output `promotionTemplate` has the command)." },
                alias: { kind: "string", default: "production", description: "Alias the template moves.", pattern: /^[A-Za-z_][\w-]*$/, patternHint: "an alias such as production: letters, digits, '_' and '-'" },
                metric: { kind: "string", default: "test_rmse", description: "Run metric the gate compares (lower is better).", pattern: /^[\w./ -]+$/, patternHint: "an MLflow metric key such as test_rmse" },
                maxRegression: { kind: "number", min: 0, max: 1, default: 0, description: "How much worse than the current version's metric a candidate may be, as a fraction (0.02 = 2% worse); 0: no worse." },
                resources: resources("100m", "256Mi", "1", "1Gi", "the promotion pod"),
            },
        },
        backup: {
            kind: "object",
            description: "Backups of the in-cluster PostgreSQL: the CronJob `mlflow-db-backup` writes a pg_dump of the MLflow database (and the basic-auth database) to <artifact root>/backups/ (RDS keeps its own automated backups).",
            fields: {
                enabled: { kind: "boolean", default: true, description: "Create the CronJob when database.mode is inCluster." },
                schedule: { kind: "string", default: "17 3 * * *", description: "Cron schedule (UTC).", pattern: /^(\S+\s+){4}\S+$/, patternHint: 'a five-field cron expression such as "17 3 * * *"' },
                retentionDays: { kind: "number", integer: true, min: 1, max: 3650, default: 30, description: "The bucket's lifecycle expires backups after this many days (S3; MinIO keeps them)." },
            },
        },
        gc: {
            kind: "object",
            description: "Garbage collection: the CronJob `mlflow-gc` runs `mlflow gc`, which permanently deletes runs (and experiments, logged models) deleted more than `olderThan` ago, with their S3 artifacts.",
            fields: {
                enabled: { kind: "boolean", default: false, description: "Create the CronJob mlflow-gc. Off by default: a deleted run can be restored until gc removes it, so turning it on is a decision per stack." },
                schedule: { kind: "string", default: "17 3 * * *", description: "Cron schedule (the controller's time zone).", ...cronSchedule },
                olderThan: { kind: "string", default: "30d", description: "Deleted runs older than this are removed for good.", pattern: OLDER_THAN_PATTERN, patternHint: OLDER_THAN_HINT },
                backoffLimit: { kind: "number", integer: true, min: 0, max: 5, default: 1, description: "Retries of a failed run (gc is idempotent)." },
                resources: resources("100m", "384Mi", "1", "1Gi", "the garbage-collection pod"),
            },
        },
        telemetry: {
            kind: "object",
            description: "MLflow 3's usage telemetry (mlflow/telemetry reports to an outside endpoint unless told not to).",
            fields: {
                enabled: { kind: "boolean", default: false, description: "Let the MLflow workloads (tracking server, schema migration, training, batch, promotion, gc, the serving runtime) send MLflow's usage telemetry. Off: every container the platform runs has MLFLOW_DISABLE_TELEMETRY and DO_NOT_TRACK set to true." },
            },
        },
        serving: {
            kind: "object",
            description: "Models served with KServe.",
            fields: {
                registry: {
                    kind: "object",
                    description: "The MLflow registry read at deploy time.",
                    fields: {
                        uri: { kind: "string", default: "http://localhost:5000", description: "Tracking URI the program reads the registry from (env MLFLOW_TRACKING_URI wins).", pattern: /^https?:\/\/[^\s]+$/, patternHint: "an http(s):// URL" },
                        username: { kind: "string", optional: true, description: "Basic-auth user (env MLFLOW_TRACKING_USERNAME wins)." },
                        password: { kind: "string", optional: true, secret: true, description: "Basic-auth password, as a secret (env MLFLOW_TRACKING_PASSWORD wins)." },
                        artifactsDestination: { kind: "string", optional: true, description: "For a proxied server: what mlflow-artifacts:/ maps to; unset: s3://<artifact bucket>.", ...s3Uri },
                        timeoutSeconds: { kind: "number", min: 1, max: 120, default: 10, description: "Timeout of one registry call." },
                        concurrency: { kind: "number", integer: true, min: 1, max: 64, default: 8, description: "Lookups in flight at once." },
                    },
                },
                verifyArtifacts: { kind: "boolean", default: true, description: "Check that <storageUri>/MLmodel exists before writing an InferenceService." },
                allowedStoragePrefixes: { kind: "array", description: "More s3:// prefixes a storageUri may point into (the artifact bucket is always allowed).", items: { kind: "string", description: "s3:// prefix.", ...s3Uri } },
                runtime: { kind: "string", default: "mlflow-pyfunc", description: "Default serving runtime of models (see docs/serving-runtime.md)." },
                installRuntime: { kind: "boolean", default: true, description: "Create the project's ClusterServingRuntime when a served model runs on it (a stack serving nothing declares no KServe object)." },
                runtimeImage: { kind: "string", optional: true, description: "Image of the project's serving runtime (images/serving); unset: built from images/serving and pushed to ECR (image.build), pinned by digest, when a served model runs on it." },
                deploymentMode: {
                    kind: "string", enum: ["Standard", "Knative"], default: "Standard",
                    description: "KServe deployment mode every InferenceService states (annotation serving.kserve.io/deploymentMode), so it does not depend on how KServe was installed: `Standard` (a Deployment and a Service per predictor; KServe before 0.16 called it RawDeployment) or `Knative` (needs Knative Serving).",
                },
                readyTimeoutSeconds: {
                    kind: "number", integer: true, min: 0, max: 3600, default: 600,
                    description: "How long `pulumi up` waits for each InferenceService to load its model version (storage initializer done, predictor rolled out and ready); a failed load fails the up at once, naming the model and KServe's reason. 0: do not wait.",
                },
                storageInitializer: {
                    kind: "object",
                    description: "The init container KServe injects into each predictor pod to download the model version: the platform's own (images/storage-initializer), declared as the ClusterStorageContainer `mlflow-platform-<namespace>` that each InferenceService names.",
                    fields: {
                        image: { kind: "string", optional: true, description: "Image of the storage initializer; unset: built from images/storage-initializer and pushed to ECR (image.build), pinned by digest, when a model is served." },
                        resources: resources("100m", "256Mi", "1", "1Gi", "the storage initializer (each predictor pod's init container)"),
                    },
                },
                models: {
                    kind: "array",
                    description: "One InferenceService per entry.",
                    items: {
                        kind: "object",
                        description: "A served model.",
                        fields: {
                            name: { kind: "string", description: "InferenceService name.", ...dnsLabel },
                            registeredModel: { kind: "string", default: "CaliforniaHousingRegressor", description: "Registered model." },
                            alias: { kind: "string", optional: true, description: "Alias to serve (e.g. production)." },
                            version: { kind: "string", optional: true, description: "Pinned version instead of an alias.", pattern: /^[1-9][0-9]*$/, patternHint: "a version number such as 7" },
                            storageUri: { kind: "string", optional: true, description: "Pinned s3:// location instead of a registry lookup.", ...s3Uri },
                            runtime: { kind: "string", optional: true, description: "Serving runtime; unset: serving.runtime." },
                            minReplicas: { kind: "number", integer: true, min: 0, default: 1, description: "Minimum replicas." },
                            maxReplicas: { kind: "number", integer: true, min: 1, default: 3, description: "Maximum replicas. Equal to minReplicas: a fixed count and no autoscaler (KServe's autoscalerClass `none`); above it: an HPA on CPU (Standard mode)." },
                            targetCPUUtilization: { kind: "number", integer: true, min: 1, max: 100, default: 80, description: "CPU utilization (percent of the request) the HPA keeps the predictor pods at, when maxReplicas > minReplicas (Standard mode)." },
                            visibility: {
                                kind: "string", enum: ["clusterLocal", "exposed"], default: "clusterLocal",
                                description: "`clusterLocal`: the predictor's Service only, no Ingress (label networking.kserve.io/visibility: cluster-local; callers are in the cluster); `exposed`: KServe's ingress for the predictor, as the KServe install configures it.",
                            },
                            canaryTrafficPercent: { kind: "number", integer: true, min: 0, max: 100, optional: true, description: "Traffic to the new revision (KServe canary)." },
                            resources: resources("500m", "1Gi", "1", "2Gi", "each predictor pod"),
                            workers: {
                                kind: "number", integer: true, min: 1, max: 32, optional: true,
                                description: `Server processes in each predictor pod of the project's runtime \`${MLFLOW_PYFUNC_RUNTIME}\` (uvicorn workers of the scoring server, images/serving/scoring_server.py, env MLFLOW_MODELS_WORKERS; each loads its own copy of the model and predicts one request at a time). Unset: one per CPU of resources.limits.cpu, rounded up (1 at the default limit of 1 CPU; measured with \`npx tsx cli/bench-serving.ts --sweep 1x1,2x1,3x1,1x2\`: at a 1-CPU limit on a quiet machine 1 worker gave the most requests/s at 1 row and the lowest p99 at both sizes; 3 workers matched its requests/s at 100 rows with a higher p99, and each adds a model copy and start-up time). Only for that runtime.`,
                            },
                            threadsPerWorker: {
                                kind: "number", integer: true, min: 1, max: 64, optional: true,
                                description: `Native compute threads (OpenMP / BLAS: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) each worker of the project's runtime \`${MLFLOW_PYFUNC_RUNTIME}\` may use per prediction. Unset: 1 (measured the same way: more native threads per request only contend for the pod's CPU limit; use workers for concurrency). Only for that runtime.`,
                            },
                        },
                    },
                },
            },
        },
    },
};

export interface Resources {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
}
export interface TrainingParams {
    readonly max_depth: number;
    readonly learning_rate: number;
    readonly max_iter: number;
    readonly random_state: number;
}
/** The tracking server's HorizontalPodAutoscaler (trackingServer.autoscaling). */
export interface TrackingAutoscaling {
    readonly enabled: boolean;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilization: number;
}

export interface TrainingProfile {
    readonly name: string;
    readonly params: TrainingParams;
    readonly schedule?: string;
}
export interface ServedModel {
    readonly name: string;
    readonly registeredModel: string;
    readonly alias?: string;
    readonly version?: string;
    readonly storageUri?: string;
    readonly runtime?: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilization: number;
    readonly visibility: "clusterLocal" | "exposed";
    readonly canaryTrafficPercent?: number;
    readonly resources: Resources;
    /** Uvicorn workers of the project's runtime; undefined: servingProcesses' default. */
    readonly workers?: number;
    /** Native compute threads per worker of the project's runtime; undefined: 1. */
    readonly threadsPerWorker?: number;
}
export interface BatchProfile {
    readonly name: string;
    readonly inputS3Path?: string;
    readonly outputS3Prefix?: string;
    readonly schedule?: string;
}
export type DatabaseMode = "inCluster" | "rds";
export type ArtifactAuth = "staticKeys" | "irsa";
export type AccessMode = "clusterLocal" | "ingress" | "gateway";

/** access.oidc: single sign-on through the oauth2-proxy sidecar. */
export interface OidcConfig {
    readonly issuerUrl?: string;
    readonly clientId?: string;
    readonly clientSecret?: string;
    readonly cookieSecret?: string;
    readonly machinePassword?: string;
    readonly allowedEmailDomains: readonly string[];
    readonly allowedEmails: readonly string[];
    readonly allowedGroups: readonly string[];
    readonly groupsClaim: string;
    readonly scope: string;
    readonly proxyImage?: string;
}

/** The validated configuration of one stack. */
export interface PlatformConfig {
    readonly stack: string;
    readonly namespace: string;
    readonly artifactStore: {
        readonly mode: "s3" | "minio";
        readonly bucketName?: string;
        readonly forceDestroy: boolean;
        readonly noncurrentVersionDays: number;
        readonly abortIncompleteUploadDays: number;
        readonly kmsKeyArn?: string;
        readonly minio: {
            readonly image: string;
            readonly storageSize: string;
            readonly storageClassName?: string;
            readonly bucketName: string;
            readonly rootUser?: string;
            readonly rootPassword?: string;
            readonly accessKeyId?: string;
            readonly secretAccessKey?: string;
        };
    };
    readonly database: {
        readonly mode: DatabaseMode;
        readonly name: string;
        readonly username: string;
        readonly inCluster: { readonly image: string; readonly storageSize: string; readonly storageClassName?: string; readonly resources: Resources; readonly password?: string };
        readonly rds: {
            readonly instanceClass: string;
            readonly allocatedStorage: number;
            readonly maxAllocatedStorage: number;
            readonly engineVersion: string;
            readonly vpcId?: string;
            readonly subnetIds: readonly string[];
            readonly allowedCidrBlocks: readonly string[];
            readonly allowedSecurityGroupIds: readonly string[];
            readonly multiAz: boolean;
            readonly backupRetentionDays: number;
            readonly deletionProtection: boolean;
            readonly password?: string;
        };
        readonly migrateFromInCluster: boolean;
        readonly retireInCluster: boolean;
        readonly keepRds: boolean;
    };
    readonly artifactAuth: ArtifactAuth;
    readonly staticKeys: { readonly accessKeyId?: string; readonly secretAccessKey?: string };
    readonly cluster: { readonly oidcProviderArn?: string; readonly oidcIssuerUrl?: string; readonly region?: string; readonly ingressControllerNamespace: string };
    readonly access: {
        readonly mode: AccessMode;
        readonly ingress: { readonly host?: string; readonly className: string; readonly tlsSecretName?: string; readonly clusterIssuer?: string; readonly annotations: Readonly<Record<string, string>> };
        readonly gateway: { readonly host?: string; readonly name?: string; readonly namespace?: string; readonly sectionName?: string; readonly proxyNamespace?: string };
        readonly auth: "none" | "basic" | "oidc";
        readonly oidc: OidcConfig;
        readonly defaultPermission: "READ" | "EDIT" | "MANAGE" | "NO_PERMISSIONS";
        readonly credentialCacheSeconds: number;
        readonly adminPassword?: string;
        readonly flaskSecretKey?: string;
    };
    readonly image: { readonly build: boolean; readonly ref?: string; readonly mlflowVersion?: string; readonly repositoryName?: string; readonly platform: string };
    readonly trackingServer: {
        readonly replicas: number;
        readonly workers: number;
        readonly resources: Resources;
        readonly extraAllowedHosts: readonly string[];
        readonly autoscaling: TrackingAutoscaling;
    };
    readonly observability: { readonly metrics: boolean; readonly serviceMonitor: boolean; readonly scrapeInterval: string; readonly prometheusNamespace: string };
    readonly training: {
        readonly image?: string;
        readonly experiment: string;
        readonly registeredModel: string;
        readonly dataset: { readonly s3Path?: string; readonly dvcRemote?: string; readonly dvcHash?: string };
        readonly profiles: readonly TrainingProfile[];
        readonly resources: Resources;
        readonly activeDeadlineSeconds: number;
        readonly ttlSecondsAfterFinished: number;
        readonly backoffLimit: number;
    };
    readonly batch: {
        readonly registeredModel: string;
        readonly alias: string;
        readonly profiles: readonly BatchProfile[];
        readonly resources: Resources;
        readonly activeDeadlineSeconds: number;
        readonly ttlSecondsAfterFinished: number;
        readonly backoffLimit: number;
    };
    readonly promotion: { readonly template: boolean; readonly alias: string; readonly metric: string; readonly maxRegression: number; readonly resources: Resources };
    readonly backup: { readonly enabled: boolean; readonly schedule: string; readonly retentionDays: number };
    readonly gc: { readonly enabled: boolean; readonly schedule: string; readonly olderThan: string; readonly backoffLimit: number; readonly resources: Resources };
    readonly telemetry: { readonly enabled: boolean };
    readonly serving: {
        readonly registry: {
            readonly uri: string;
            readonly username?: string;
            readonly password?: string;
            readonly artifactsDestination?: string;
            readonly timeoutSeconds: number;
            readonly concurrency: number;
        };
        readonly verifyArtifacts: boolean;
        readonly allowedStoragePrefixes: readonly string[];
        readonly runtime: string;
        readonly installRuntime: boolean;
        readonly runtimeImage?: string;
        readonly deploymentMode: "Standard" | "Knative";
        readonly readyTimeoutSeconds: number;
        readonly storageInitializer: { readonly image?: string; readonly resources: Resources };
        readonly models: readonly ServedModel[];
    };
}

/** The config sections, each the Args of the component that owns it (plus the wiring it needs from others). */
export type ArtifactStoreConfig = PlatformConfig["artifactStore"];
export type MinioConfig = ArtifactStoreConfig["minio"];
export type DatabaseConfig = PlatformConfig["database"];
export type StaticKeysConfig = PlatformConfig["staticKeys"];
export type ClusterConfig = PlatformConfig["cluster"];
export type AccessConfig = PlatformConfig["access"];
export type TrackingServerConfig = PlatformConfig["trackingServer"];
export type ObservabilityConfig = PlatformConfig["observability"];
export type TrainingConfig = PlatformConfig["training"];
export type BatchConfig = PlatformConfig["batch"];
export type PromotionConfig = PlatformConfig["promotion"];
export type BackupConfig = PlatformConfig["backup"];
export type GcConfig = PlatformConfig["gc"];
export type ServingConfig = PlatformConfig["serving"];

/** The PostgreSQL major version the platform's databases run, in the cluster and on RDS. */
export const POSTGRES_MAJOR = 16;

/**
 * The major version a PostgreSQL image's tag names: `postgres:16.10`, `docker.io/library/postgres:16.9-bookworm`,
 * `r.example.com/postgres:16@sha256:…` → 16; undefined when the tag names none (no tag, `latest`, a digest only).
 */
export function postgresImageMajor(image: string): number | undefined {
    const noDigest = image.split("@")[0];
    const lastSlash = noDigest.lastIndexOf("/");
    const colon = noDigest.indexOf(":", lastSlash + 1);
    if (colon < 0) return undefined;
    const m = /^(\d+)(\.|-|$)/.exec(noDigest.slice(colon + 1));
    return m ? Number(m[1]) : undefined;
}

/** The parts of the stack that run the trainer image (training, batch inference, promotion templates). */
export function trainerImageUsers(cfg: PlatformConfig): string[] {
    return [
        ...(cfg.training.profiles.length > 0 ? ["training.profiles"] : []),
        ...(cfg.batch.profiles.length > 0 ? ["batch.profiles"] : []),
        ...(cfg.promotion.template ? ["promotion.template"] : []),
    ];
}

/** The MLflow version the tracking-server image runs: image.mlflowVersion, else the built image's. */
export function mlflowVersionOf(cfg: Pick<PlatformConfig, "image">): string {
    return cfg.image.mlflowVersion ?? BUILT_MLFLOW_VERSION;
}

/** Whether the stack declares the project's serving runtime (a served model runs on it). */
export function servingRuntimeUsed(cfg: PlatformConfig): boolean {
    return runtimeNeeded({ installRuntime: cfg.serving.installRuntime, models: cfg.serving.models, defaultRuntime: cfg.serving.runtime });
}

/** A Kubernetes CPU quantity in cores ("1" → 1, "500m" → 0.5, "1.5" → 1.5); undefined for anything else. */
export function cpuCores(q: string): number | undefined {
    const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(q.trim());
    return m ? Number(m[1]) / (m[2] ? 1000 : 1) : undefined;
}

/** What the project's runtime runs in each predictor pod of a model: uvicorn workers and native threads per worker. */
export interface ServingProcesses {
    readonly workers: number;
    readonly threadsPerWorker: number;
}

/**
 * serving.models[].workers and .threadsPerWorker with their defaults: one worker per CPU of the pod's CPU limit,
 * rounded up (1 at 1 CPU), and 1 native thread per worker (measured: `npx tsx cli/bench-serving.ts --sweep ...`).
 */
export function servingProcesses(model: Pick<ServedModel, "workers" | "threadsPerWorker" | "resources">): ServingProcesses {
    const cores = cpuCores(model.resources.limits.cpu);
    return {
        workers: model.workers ?? Math.max(1, Math.ceil(cores ?? 1)),
        threadsPerWorker: model.threadsPerWorker ?? 1,
    };
}

/** Rules across keys, which the per-key spec cannot express. */
function crossFieldIssues(c: PlatformConfig, k: (path: string) => string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const add = (path: string, message: string) => issues.push({ key: k(path), message: `${k(path)} ${message}` });

    if (c.artifactStore.mode === "minio") {
        if (c.database.mode === "rds") add("database.mode", `must be "inCluster" when artifactStore.mode is "minio" (a local stack has no AWS account; got "rds")`);
        if (c.artifactAuth === "irsa") add("artifactAuth", `must be "staticKeys" when artifactStore.mode is "minio" (IRSA needs AWS IAM; got "irsa")`);
        if (c.image.build) add("image.build", `must be false when artifactStore.mode is "minio" (no ECR to push to): set image.ref to an image the local cluster can pull (got true)`);
    }
    if (!c.image.build && !c.image.ref) add("image.ref", `is required when image.build is false: an image such as registry.example.com/mlflow@sha256:... (got undefined)`);
    if (c.image.ref !== undefined && c.image.mlflowVersion === undefined)
        add("image.mlflowVersion", `is required with image.ref (${c.image.ref}): the MLflow version that image runs, such as ${BUILT_MLFLOW_VERSION}; the platform compares it with the database's before it migrates anything (got undefined)`);
    if (c.image.ref === undefined && c.image.mlflowVersion !== undefined && c.image.mlflowVersion !== BUILT_MLFLOW_VERSION)
        add("image.mlflowVersion", `is ${c.image.mlflowVersion}, but the image the stack builds (images/mlflow) runs MLflow ${BUILT_MLFLOW_VERSION}: set image.ref to an image of ${c.image.mlflowVersion}, or leave image.mlflowVersion unset`);
    const pgMajor = postgresImageMajor(c.database.inCluster.image);
    if (pgMajor === undefined)
        add("database.inCluster.image", `must name PostgreSQL's major version in its tag, e.g. postgres:${POSTGRES_MAJOR}.10 or registry.example.com/postgres:${POSTGRES_MAJOR}.10@sha256:... (got "${c.database.inCluster.image}"): a new major version cannot start on the existing data directory, so the platform checks it`);
    else if (pgMajor !== POSTGRES_MAJOR)
        add("database.inCluster.image", `names PostgreSQL ${pgMajor} (got "${c.database.inCluster.image}"), but the in-cluster database's data directory is PostgreSQL ${POSTGRES_MAJOR}'s, which PostgreSQL ${pgMajor} refuses to start on: the tracking server's database would go down. Keep a ${POSTGRES_MAJOR}.x image (minor versions are a normal rolling change); a major upgrade moves the data (dump and restore): docs/runbooks.md, "Upgrade PostgreSQL"`);

    if (c.database.mode === "rds" || c.database.keepRds) {
        const r = c.database.rds;
        if (!r.vpcId) add("database.rds.vpcId", `is required when database.mode is "rds": the VPC of the cluster, e.g. vpc-0123456789abcdef0 (got undefined)`);
        if (r.subnetIds.length < 2) add("database.rds.subnetIds", `must list at least two private subnets in different AZs when database.mode is "rds" (got ${show(r.subnetIds)})`);
        if (new Set(r.subnetIds).size !== r.subnetIds.length) add("database.rds.subnetIds", `must not repeat a subnet (got ${show(r.subnetIds)})`);
        if (r.allowedCidrBlocks.length === 0 && r.allowedSecurityGroupIds.length === 0)
            add("database.rds.allowedCidrBlocks", `or database.rds.allowedSecurityGroupIds must admit the cluster when database.mode is "rds" (both are empty)`);
        if (r.allowedCidrBlocks.includes("0.0.0.0/0")) add("database.rds.allowedCidrBlocks", `must not contain 0.0.0.0/0: the database would be open to every address the VPC routes (got ${show(r.allowedCidrBlocks)})`);
        if (r.maxAllocatedStorage < r.allocatedStorage) add("database.rds.maxAllocatedStorage", `must be at least database.rds.allocatedStorage (${r.allocatedStorage}) (got ${r.maxAllocatedStorage})`);
    } else {
        if (c.database.migrateFromInCluster) add("database.migrateFromInCluster", `only applies when database.mode is "rds" (got true with "inCluster")`);
        if (c.database.retireInCluster) add("database.retireInCluster", `would remove the only database: it only applies when database.mode is "rds" (got true with "inCluster")`);
    }
    if (c.database.keepRds && c.database.mode === "rds") add("database.keepRds", `only applies when database.mode is "inCluster" (a rollback from rds); with "rds" the instance is in use`);
    if (c.database.migrateFromInCluster && c.database.retireInCluster)
        add("database.retireInCluster", `cannot be true while database.migrateFromInCluster is true: the copy reads the in-cluster database (finish the move, then retire it)`);

    if (c.artifactAuth === "irsa") {
        if (!c.cluster.oidcProviderArn) add("cluster.oidcProviderArn", `is required when artifactAuth is "irsa": the cluster's IAM OIDC provider ARN (got undefined)`);
        if (!c.cluster.oidcIssuerUrl) add("cluster.oidcIssuerUrl", `is required when artifactAuth is "irsa": the cluster's OIDC issuer URL (got undefined)`);
        if (c.staticKeys.accessKeyId || c.staticKeys.secretAccessKey) add("staticKeys", `must be unset when artifactAuth is "irsa": no pod gets static keys in that mode`);
    }
    if (c.cluster.oidcProviderArn && c.cluster.oidcIssuerUrl) {
        const issuerHost = c.cluster.oidcIssuerUrl.replace(/^https:\/\//, "");
        if (!c.cluster.oidcProviderArn.endsWith(`oidc-provider/${issuerHost}`))
            add("cluster.oidcProviderArn", `must be the provider of cluster.oidcIssuerUrl (expected it to end with "oidc-provider/${issuerHost}", got ${show(c.cluster.oidcProviderArn)})`);
    }
    if (Boolean(c.staticKeys.accessKeyId) !== Boolean(c.staticKeys.secretAccessKey))
        add("staticKeys", `needs both accessKeyId and secretAccessKey, or neither (the stack then creates an IAM user)`);

    if (c.access.auth !== "none" && c.access.mode === "clusterLocal")
        add("access.auth", `"${c.access.auth}" is set up together with access.mode "ingress" or "gateway" (${c.access.auth === "basic" ? "the auth app, its database and credentials" : "the sign-in proxy, its callback URL and credentials"} come with the external route); set access.mode to "ingress" or "gateway", or access.auth to "none" (got "${c.access.auth}" with "clusterLocal")`);
    if (c.access.mode === "gateway") {
        for (const key of ["host", "name", "namespace"] as const)
            if (!c.access.gateway[key]) add(`access.gateway.${key}`, `is required when access.mode is "gateway": ${key === "host" ? "a DNS name such as mlflow.example.com" : `the ${key} of the Gateway the route attaches to`} (got undefined)`);
        if (c.access.auth === "none") add("access.auth", `must be "basic" or "oidc" when access.mode is "gateway": the UI and API would be open to everyone who reaches the host (got "none")`);
    }
    if (c.access.mode === "ingress") {
        if (!c.access.ingress.host) add("access.ingress.host", `is required when access.mode is "ingress": a DNS name such as mlflow.example.com (got undefined)`);
        if (c.access.auth === "none") add("access.auth", `must be "basic" or "oidc" when access.mode is "ingress": the UI and API would be open to everyone who reaches the host (got "none")`);
        if (!c.access.ingress.tlsSecretName && !c.access.ingress.clusterIssuer)
            add("access.ingress.tlsSecretName", `or access.ingress.clusterIssuer is required when access.mode is "ingress": credentials must not cross the network in clear text`);
    }

    issues.push(...suppliedSecretIssues(c, k));
    issues.push(...oidcIssues(c, k));

    const hpa = c.trackingServer.autoscaling;
    if (hpa.enabled && hpa.minReplicas > hpa.maxReplicas)
        add("trackingServer.autoscaling.minReplicas", `must not exceed trackingServer.autoscaling.maxReplicas (${hpa.maxReplicas}) (got ${hpa.minReplicas})`);
    if (hpa.enabled && c.trackingServer.replicas === 0)
        add("trackingServer.replicas", `0 freezes writes, which the autoscaler would undo: set trackingServer.autoscaling.enabled to false while writes are frozen (got 0 with autoscaling on)`);
    if (c.observability.serviceMonitor && !c.observability.metrics)
        add("observability.serviceMonitor", `needs observability.metrics: the ServiceMonitor scrapes the tracking server's /metrics (got serviceMonitor true with metrics false)`);

    const profileNames = new Set<string>();
    c.training.profiles.forEach((p, i) => {
        if (profileNames.has(p.name)) add(`training.profiles[${i}].name`, `must be unique (got "${p.name}" twice)`);
        profileNames.add(p.name);
    });
    const batchNames = new Set<string>();
    c.batch.profiles.forEach((p, i) => {
        if (batchNames.has(p.name)) add(`batch.profiles[${i}].name`, `must be unique (got "${p.name}" twice)`);
        batchNames.add(p.name);
    });
    for (const path of ["batch.alias", "promotion.alias"] as const) {
        const alias = path === "batch.alias" ? c.batch.alias : c.promotion.alias;
        if (alias.toLowerCase() === "latest" || /^v\d+$/i.test(alias)) add(path, `must not be "latest" or "v<number>": MLflow reserves them (got "${alias}")`);
    }
    // Images the stack would build: without image.build each one in use must be named.
    if (!c.image.build) {
        if (c.training.image === undefined && trainerImageUsers(c).length > 0)
            add("training.image", `is required when image.build is false (${trainerImageUsers(c).join(", ")} run the trainer image): an image the cluster can pull, such as registry.example.com/trainer@sha256:... (got undefined)`);
        if (c.serving.runtimeImage === undefined && servingRuntimeUsed(c))
            add("serving.runtimeImage", `is required when image.build is false and a served model runs on the project's runtime "${MLFLOW_PYFUNC_RUNTIME}": an image the cluster can pull (got undefined)`);
        if (c.serving.storageInitializer.image === undefined && c.serving.models.length > 0)
            add("serving.storageInitializer.image", `is required when image.build is false and serving.models is set (KServe runs it in each predictor pod to download the model): an image the cluster can pull, such as registry.example.com/storage-initializer@sha256:... (got undefined)`);
        if (c.access.oidc.proxyImage === undefined && c.access.auth === "oidc")
            add("access.oidc.proxyImage", `is required when image.build is false and access.auth is "oidc" (the sign-in sidecar runs it): an oauth2-proxy image the cluster can pull, such as registry.example.com/oauth2-proxy@sha256:... (got undefined)`);
    }
    const bucketKnown = c.artifactStore.mode === "minio" || c.artifactStore.bucketName !== undefined || c.serving.allowedStoragePrefixes.length > 0;
    if (c.serving.models.length > 0 && !bucketKnown)
        add("artifactStore.bucketName", `is required when serving.models is set: registry storage URIs are only accepted inside the artifact bucket (or set serving.allowedStoragePrefixes)`);
    const modelNames = new Set<string>();
    c.serving.models.forEach((m, i) => {
        const path = `serving.models[${i}]`;
        if (modelNames.has(m.name)) add(`${path}.name`, `must be unique (got "${m.name}" twice)`);
        modelNames.add(m.name);
        const refs = [m.alias !== undefined && "alias", m.version !== undefined && "version", m.storageUri !== undefined && "storageUri"].filter(Boolean);
        if (refs.length !== 1) add(path, `must set exactly one of alias, version or storageUri (got ${refs.length === 0 ? "none" : refs.join(" and ")})`);
        if (m.minReplicas > m.maxReplicas) add(`${path}.minReplicas`, `must not exceed maxReplicas (${m.maxReplicas}) (got ${m.minReplicas})`);
        const runtime = m.runtime ?? c.serving.runtime;
        for (const key of ["workers", "threadsPerWorker"] as const) {
            if (m[key] !== undefined && runtime !== MLFLOW_PYFUNC_RUNTIME)
                add(`${path}.${key}`, `applies only to the project's runtime "${MLFLOW_PYFUNC_RUNTIME}" (this model runs on "${runtime}": set that runtime's own settings, or remove ${key}) (got ${m[key]})`);
        }
        if (m.minReplicas === 0 && c.serving.deploymentMode === "Standard")
            add(`${path}.minReplicas`, `must be at least 1 when serving.deploymentMode is "Standard" (scale to zero needs Knative) (got 0)`);
    });
    return issues;
}

/**
 * Supplied secrets that the stack's modes would never use are refused by name: a value that is silently
 * ignored is a value someone believes is in use.
 */
export function suppliedSecretIssues(c: PlatformConfig, k: (path: string) => string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const add = (path: string, message: string) => issues.push({ key: k(path), message: `${k(path)} ${message}` });
    if (c.database.inCluster.password !== undefined && c.database.mode === "rds" && c.database.retireInCluster)
        add("database.inCluster.password", `only applies while the in-cluster PostgreSQL is declared (database.mode "inCluster", or "rds" before database.retireInCluster): unset it (got a value with database.mode "rds" and database.retireInCluster true)`);
    if (c.database.rds.password !== undefined && c.database.mode !== "rds" && !c.database.keepRds)
        add("database.rds.password", `only applies when database.mode is "rds" (or database.keepRds is true): unset it or set database.mode to "rds" (got a value with database.mode "${c.database.mode}")`);
    const m = c.artifactStore.minio;
    if (c.artifactStore.mode !== "minio") {
        for (const key of ["rootUser", "rootPassword", "accessKeyId", "secretAccessKey"] as const)
            if (m[key] !== undefined) add(`artifactStore.minio.${key}`, `only applies when artifactStore.mode is "minio": unset it (got a value with artifactStore.mode "${c.artifactStore.mode}")`);
    } else if (m.rootUser !== undefined && m.accessKeyId !== undefined && m.rootUser === m.accessKeyId) {
        add("artifactStore.minio.accessKeyId", `must differ from artifactStore.minio.rootUser: MLflow's MinIO user is a separate user with access to the bucket only (got the same value for both)`);
    }
    if (c.access.auth !== "basic") {
        for (const key of ["adminPassword", "flaskSecretKey"] as const)
            if (c.access[key] !== undefined) add(`access.${key}`, `only applies when access.auth is "basic": unset it (got a value with access.auth "${c.access.auth}")`);
    }
    if (c.access.auth !== "oidc") {
        for (const key of ["clientSecret", "cookieSecret", "machinePassword"] as const)
            if (c.access.oidc[key] !== undefined) add(`access.oidc.${key}`, `only applies when access.auth is "oidc": unset it (got a value with access.auth "${c.access.auth}")`);
    }
    return issues;
}

/** access.oidc: what the sign-in needs, and who may sign in. Its keys are refused without auth `oidc`. */
function oidcIssues(c: PlatformConfig, k: (path: string) => string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const add = (path: string, message: string) => issues.push({ key: k(path), message: `${k(path)} ${message}` });
    const o = c.access.oidc;
    if (c.access.auth !== "oidc") {
        for (const key of ["issuerUrl", "clientId"] as const)
            if (o[key] !== undefined) add(`access.oidc.${key}`, `only applies when access.auth is "oidc": unset it (got ${show(o[key])} with access.auth "${c.access.auth}")`);
        for (const key of ["allowedEmailDomains", "allowedEmails", "allowedGroups"] as const)
            if (o[key].length > 0) add(`access.oidc.${key}`, `only applies when access.auth is "oidc": unset it (got ${o[key].length} entries with access.auth "${c.access.auth}")`);
        return issues;
    }
    if (o.issuerUrl === undefined) add("access.oidc.issuerUrl", `is required when access.auth is "oidc": the provider's issuer URL, such as https://login.example.com/realms/ml (got undefined)`);
    if (o.clientId === undefined) add("access.oidc.clientId", `is required when access.auth is "oidc": the client registered at the provider, with redirect URI https://<host>/oauth2/callback (got undefined)`);
    if (o.clientSecret === undefined) add("access.oidc.clientSecret", `is required when access.auth is "oidc": the secret the provider issued for access.oidc.clientId, set with pulumi config set --secret --path access.oidc.clientSecret (got undefined)`);
    if (o.allowedEmailDomains.length === 0 && o.allowedEmails.length === 0 && o.allowedGroups.length === 0)
        add("access.oidc.allowedEmailDomains", `or access.oidc.allowedEmails or access.oidc.allowedGroups is required when access.auth is "oidc": without one, every account of the provider could sign in (got none)`);
    return issues;
}

/** Reads a path (`a.b.c`) of raw config; undefined when any step is missing. */
function valueAt(raw: Readonly<Record<string, unknown>>, path: string): unknown {
    let node: unknown = raw;
    for (const segment of path.split(".")) {
        if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
        node = (node as Record<string, unknown>)[segment];
    }
    return node;
}

/**
 * Secret keys set in plain config. Pulumi marks secrecy per top-level key: `pulumi config set --secret
 * --path database.rds.password` makes the whole `mlflow-platform:database` a secret key (its object holds a
 * `secure:` leaf). So a secret value under a top-level key that is not secret was set in plain text. (A
 * plain value next to a `secure:` one under the same top-level key cannot be told apart.)
 */
export function plainSecretIssues(raw: Readonly<Record<string, unknown>>, isSecretKey: (fullKey: string) => boolean): ConfigIssue[] {
    return secretPaths()
        .filter((path) => valueAt(raw, path) !== undefined && !isSecretKey(`${PROJECT}:${path.split(".")[0]}`))
        .map((path) => {
            const key = `${PROJECT}:${path}`;
            return { key, message: `${key} is a credential but is set in plain config (stored unencrypted in Pulumi.<stack>.yaml): set it with pulumi config set --secret --path ${path} <value>` };
        });
}

export interface ParseOptions {
    /**
     * Whether a full key (`mlflow-platform:database`) holds a secret, as the Pulumi engine says
     * (`pulumi.runtime.isConfigSecret`). When given, secret keys in plain config are refused.
     */
    readonly isSecretKey?: (fullKey: string) => boolean;
}

/**
 * Validates raw config (`key → parsed JSON value`, keys without the project prefix) and fills in defaults.
 * Throws ConfigError listing every bad value.
 */
export function parseConfig(raw: Readonly<Record<string, unknown>>, stack: string, options: ParseOptions = {}): PlatformConfig {
    const issues: ConfigIssue[] = [];
    const value = check(configSpec, raw, PROJECT, issues) as Record<string, unknown>;
    // check() names keys "mlflow-platform.x"; Pulumi's own spelling is "mlflow-platform:x".
    const fix = (s: string) => s.split(`${PROJECT}.`).join(`${PROJECT}:`);
    const named = issues.map((i) => ({ key: fix(i.key), message: fix(i.message) }));
    if (options.isSecretKey) named.push(...plainSecretIssues(raw, options.isSecretKey));
    if (named.length > 0) throw new ConfigError(named);
    const config = { stack, ...value } as unknown as PlatformConfig;
    const cross = crossFieldIssues(config, (path) => `${PROJECT}:${path}`);
    if (cross.length > 0) throw new ConfigError(cross);
    return config;
}

/** Paths (below the project namespace) of values that are credentials. */
export function secretPaths(spec: Spec = configSpec, prefix = ""): string[] {
    if (spec.kind === "string" && spec.secret) return [prefix];
    if (spec.kind === "object") return Object.entries(spec.fields).flatMap(([k, f]) => secretPaths(f, prefix ? `${prefix}.${k}` : k));
    return [];
}

/** Parses one raw Pulumi config value: structured keys arrive as JSON text. */
export function parseRawValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
