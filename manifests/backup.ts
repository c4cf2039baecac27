/**
 * Backups of the in-cluster PostgreSQL as plain data: a scheduled CronJob `mlflow-db-backup` whose pod dumps each
 * database with `pg_dump -Fc` in the PostgreSQL image (an init container: the image the StatefulSet runs, so
 * pg_dump matches the server's major version), checks every dump reads back, and then uploads it from the MLflow
 * image (boto3) to `<artifact root>/backups/<db>/<UTC timestamp>.dump`, with server-side encryption and no ACL.
 *
 * Two images because none has both tools: the postgres image has no S3 client, the MLflow image (boto3, psycopg)
 * no pg_dump. They share the pod's emptyDir `/backup`; the dump step writes `MANIFEST` (timestamp, and per database
 * size, sha256 and number of tables) only after every dump passed `pg_restore --list` and a full read, and the
 * upload step uploads nothing unless every file still matches it. Any failure exits non-zero: the pod fails, the
 * Job retries (backoffLimit) and then fails, visibly (failedJobsHistoryLimit).
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { Resources } from "../config";
import { awsEnv, type AwsCredentialSource, containerSecurityContext, env, labels, meta, podSecurityContext, resourceRequirements, secretEnv, telemetryEnv, TMP_MOUNT, TMP_VOLUME, underArtifactRoot } from "./common";
import { templateLaunchCommand } from "./job-template";
import { DB_CLIENT_LABEL, POSTGRES_PORT, waitForPostgresShell } from "./postgres";

export const BACKUP_NAME = "mlflow-db-backup";
/**
 * The backup pods' own ServiceAccount: under IRSA its role reads and puts objects under `<root>/backups/` and
 * nothing else (lib/iam-policies.ts workloadAccess), so the database's dumps need no artifact-wide role.
 */
export const BACKUP_SERVICE_ACCOUNT = BACKUP_NAME;
export const BACKUP_COMPONENT = "database-backup";
/** Key prefix of the backups inside the artifact root (the bucket's lifecycle rule expires it). */
export const BACKUP_PREFIX = "backups/";
export const DUMP_CONTAINER = "dump";
export const UPLOAD_CONTAINER = "upload";
/** The pod's shared emptyDir. */
export const BACKUP_DIR = "/backup";
/** Default schedule: daily at 03:17 UTC (off the hour, when the platform is quiet). */
export const DEFAULT_BACKUP_SCHEDULE = "17 3 * * *";
/** The schedule's time zone: the timestamps in the object keys are UTC too. */
export const BACKUP_TIME_ZONE = "Etc/UTC";
/** UTC timestamp of a backup, as in its key: 20250131T031700Z. */
export const BACKUP_STAMP = /^\d{8}T\d{6}Z$/;

/** How the upload asks S3 to encrypt: SSE-S3, SSE-KMS (optionally with a key), or nothing (MinIO without KMS). */
export type BackupEncryption = { readonly algorithm: "AES256" } | { readonly algorithm: "aws:kms"; readonly kmsKeyId?: Input<string> } | { readonly algorithm: "none" };

export interface BackupSpec {
    readonly namespace: string;
    /** Cron schedule, in BACKUP_TIME_ZONE. */
    readonly schedule: string;
    /** Image with pg_dump/pg_restore of the server's major version (the StatefulSet's postgres image). */
    readonly postgresImage: string;
    /** Image with Python and boto3 (images/mlflow). */
    readonly uploaderImage: Input<string>;
    readonly host: Input<string>;
    readonly port?: number;
    readonly username: Input<string>;
    /** Secret holding the database user's password. */
    readonly passwordSecretName: Input<string>;
    /** Key of the password in that Secret. Defaults to `password`. */
    readonly passwordSecretKey?: string;
    /** Databases dumped, in order (MLflow's, then the basic-auth app's when it is on). */
    readonly databases: readonly string[];
    /** s3://bucket[/prefix] of the artifact store; backups go to `<root>/backups/<db>/<stamp>.dump`. */
    readonly artifactRoot: Input<string>;
    readonly aws: AwsCredentialSource;
    readonly encryption: BackupEncryption;
    /** ServiceAccount of the pod (its IRSA role writes the bucket when there are no static keys). */
    readonly serviceAccountName: string;
    /** Requests and limits of each of the two containers. */
    readonly resources: Resources;
    readonly activeDeadlineSeconds: number;
    readonly backoffLimit: number;
    /** sizeLimit of the emptyDir holding the dumps. */
    readonly workDirSize: string;
}

/** What the pod of a backup needs: the CronJob's spec without its schedule and Job limits. */
export type BackupPodSpec = Omit<BackupSpec, "schedule" | "activeDeadlineSeconds" | "backoffLimit">;

const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const CRON = /^\S+(\s+\S+){4}$/;

/** The databases a backup dumps: MLflow's, then the basic-auth app's when it is on. */
export function backupDatabases(database: string, authDatabase?: string): string[] {
    return authDatabase === undefined ? [database] : [database, authDatabase];
}

/** `<root>/backups` (no trailing slash) for an `s3://bucket[/prefix][/]` artifact root; throws on anything else. */
export function backupPrefix(artifactRoot: Input<string>): Input<string> {
    return underArtifactRoot(artifactRoot, BACKUP_PREFIX.replace(/\/$/, ""), "backup");
}

/**
 * The upload's encryption: the requested algorithm, else SSE-KMS with the bucket's key when there is one, else
 * SSE-S3. A KMS key with another algorithm is refused (the uploads would not use the key the bucket is set up with).
 */
export function backupEncryption(requested?: BackupEncryption["algorithm"], kmsKeyArn?: Input<string>): BackupEncryption {
    const algorithm = requested ?? (kmsKeyArn !== undefined ? "aws:kms" : "AES256");
    if (algorithm !== "aws:kms" && kmsKeyArn !== undefined) throw new Error(`backup: a KMS key is set but server-side encryption is ${algorithm}`);
    return algorithm === "aws:kms" ? { algorithm, kmsKeyId: kmsKeyArn } : { algorithm };
}

/** The command that starts a backup now, outside the schedule. */
export function backupLaunchCommand(namespace: string): string {
    return templateLaunchCommand(namespace, BACKUP_NAME);
}

/**
 * The dump step (bash in the postgres image). Connection from libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD, databases
 * from BACKUP_DATABASES, output in BACKUP_DIR. A dump counts only when it is not empty, its table of contents reads
 * (`pg_restore --list`), it holds table data and it reads back to its end (`pg_restore --file=/dev/null`, which
 * catches a truncated file the table of contents alone does not); MANIFEST is written last.
 */
export const DUMP_SCRIPT = String.raw`set -euo pipefail
umask 077
PROG=backup-dump
fail() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
dir=${"$"}{BACKUP_DIR:?BACKUP_DIR is not set}
[ -n "${"$"}{BACKUP_DATABASES:-}" ] || fail "BACKUP_DATABASES is empty"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
version=$(pg_dump --version | awk '{print $3}')
${waitForPostgresShell()}
printf 'stamp %s\nversion %s\n' "$stamp" "$version" > "$dir/MANIFEST.partial"
for db in $BACKUP_DATABASES; do
  out="$dir/$db.dump"
  printf '%s: dumping database %s from %s:%s as %s (pg_dump %s)\n' "$PROG" "$db" "$PGHOST" "$PGPORT" "$PGUSER" "$version"
  pg_dump --format=custom --file="$out.partial" --dbname="$db" || fail "pg_dump of database $db failed (message above)"
  [ -s "$out.partial" ] || fail "pg_dump wrote an empty dump of database $db"
  toc=$(pg_restore --list "$out.partial") || fail "pg_restore --list cannot read the dump of database $db: not uploaded"
  tables=$(printf '%s\n' "$toc" | grep -c ' TABLE DATA ' || true)
  [ "$tables" -gt 0 ] || fail "the dump of database $db holds no table data (wrong database?): not uploaded"
  pg_restore --file=/dev/null "$out.partial" || fail "the dump of database $db does not read back to its end: not uploaded"
  mv "$out.partial" "$out"
  size=$(stat -c %s "$out")
  sum=$(sha256sum "$out" | cut -d' ' -f1)
  printf 'db %s %s %s %s\n' "$db" "$size" "$sum" "$tables" >> "$dir/MANIFEST.partial"
  printf '%s: %s: %s bytes, %s tables, sha256 %s\n' "$PROG" "$db" "$size" "$tables" "$sum"
done
mv "$dir/MANIFEST.partial" "$dir/MANIFEST"
printf '%s: OK: dumps of %s verified at %s\n' "$PROG" "$BACKUP_DATABASES" "$stamp"
`;

/**
 * The upload step (Python with boto3 in the MLflow image). Checks MANIFEST against the files (every database
 * present, size, `PGDMP` header, sha256) before it uploads any, then uploads each to
 * `<BACKUP_S3_PREFIX>/<db>/<stamp>.dump` with the requested server-side encryption and no ACL (the bucket's owner
 * owns it), and checks the stored object's size and encryption; with BACKUP_MANIFEST_OBJECT=true it then uploads
 * MANIFEST to `<BACKUP_S3_PREFIX>/MANIFEST`, last. Errors are one line on stderr, exit 1.
 */
export const UPLOAD_SCRIPT = String.raw`import hashlib
import os
import re
import sys

PROG = "backup-upload"


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    work = os.environ["BACKUP_DIR"]
    expected = os.environ["BACKUP_DATABASES"].split()
    prefix = os.environ["BACKUP_S3_PREFIX"].rstrip("/")
    sse = os.environ.get("BACKUP_SSE", "AES256")
    if not expected:
        fail("BACKUP_DATABASES is empty")
    if not re.fullmatch(r"s3://[^/]+(/.*)?", prefix):
        fail(f"BACKUP_S3_PREFIX must be s3://<bucket>[/<prefix>], got {prefix!r}")
    bucket, _, key_prefix = prefix[len("s3://"):].partition("/")
    extra = {"ContentType": "application/octet-stream"}
    if sse in ("AES256", "aws:kms"):
        extra["ServerSideEncryption"] = sse
        if sse == "aws:kms" and os.environ.get("BACKUP_SSE_KMS_KEY_ID"):
            extra["SSEKMSKeyId"] = os.environ["BACKUP_SSE_KMS_KEY_ID"]
    elif sse != "none":
        fail(f"BACKUP_SSE must be AES256, aws:kms or none, got {sse!r}")

    manifest = os.path.join(work, "MANIFEST")
    if not os.path.isfile(manifest):
        fail(f"no {manifest}: the dump step did not finish, nothing uploaded")
    stamp, version, entries = None, "", {}
    with open(manifest) as f:
        for line in f:
            parts = line.split()
            if parts[:1] == ["stamp"] and len(parts) == 2:
                stamp = parts[1]
            elif parts[:1] == ["version"] and len(parts) == 2:
                version = parts[1]
            elif parts[:1] == ["db"] and len(parts) == 5:
                entries[parts[1]] = {"size": int(parts[2]), "sha256": parts[3], "tables": parts[4]}
            elif parts:
                fail(f"unexpected line in {manifest}: {line.strip()!r}, nothing uploaded")
    if stamp is None or not re.fullmatch(r"\d{8}T\d{6}Z", stamp):
        fail(f"{manifest} has no valid stamp line, nothing uploaded")
    if sorted(entries) != sorted(expected):
        fail(f"{manifest} lists databases {sorted(entries)}, expected {sorted(expected)}, nothing uploaded")

    # Every dump is checked before the first upload: all or nothing of a bad run.
    for db in expected:
        e, path = entries[db], os.path.join(work, f"{db}.dump")
        if not os.path.isfile(path):
            fail(f"{path} is missing, nothing uploaded")
        size = os.path.getsize(path)
        if size == 0 or size != e["size"]:
            fail(f"{path} is {size} bytes, the dump step verified {e['size']}, nothing uploaded")
        with open(path, "rb") as f:
            if f.read(5) != b"PGDMP":
                fail(f"{path} is not a pg_dump custom-format archive, nothing uploaded")
        if sha256(path) != e["sha256"]:
            fail(f"{path} changed since the dump step verified it (sha256 differs), nothing uploaded")

    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)
    for db in expected:
        e, path = entries[db], os.path.join(work, f"{db}.dump")
        key = "/".join(p for p in (key_prefix, db, f"{stamp}.dump") if p)
        metadata = {"sha256": e["sha256"], "database": db, "tables": e["tables"], "pg-dump-version": version}
        s3.upload_file(path, bucket, key, ExtraArgs={**extra, "Metadata": metadata})
        head = s3.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] != e["size"]:
            fail(f"s3://{bucket}/{key} holds {head['ContentLength']} bytes, expected {e['size']}")
        if "ServerSideEncryption" in extra and head.get("ServerSideEncryption") != extra["ServerSideEncryption"]:
            fail(f"s3://{bucket}/{key} is stored with encryption {head.get('ServerSideEncryption')!r}, expected {extra['ServerSideEncryption']!r}")
        print(f"{PROG}: uploaded s3://{bucket}/{key} ({e['size']} bytes, {e['tables']} tables, sha256 {e['sha256']})", flush=True)
    if os.environ.get("BACKUP_MANIFEST_OBJECT") == "true":
        # Last: its presence says every dump of this backup is stored (it names the stamp of their keys).
        key = "/".join(p for p in (key_prefix, "MANIFEST") if p)
        size = os.path.getsize(manifest)
        s3.upload_file(manifest, bucket, key, ExtraArgs={**extra, "ContentType": "text/plain", "Metadata": {"stamp": stamp}})
        head = s3.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] != size:
            fail(f"s3://{bucket}/{key} holds {head['ContentLength']} bytes, expected {size}")
        if "ServerSideEncryption" in extra and head.get("ServerSideEncryption") != extra["ServerSideEncryption"]:
            fail(f"s3://{bucket}/{key} is stored with encryption {head.get('ServerSideEncryption')!r}, expected {extra['ServerSideEncryption']!r}")
        print(f"{PROG}: uploaded s3://{bucket}/{key} (the MANIFEST, last)", flush=True)
    print(f"{PROG}: OK: {len(expected)} database(s) backed up at {stamp}")


try:
    main()
except SystemExit:
    raise
except Exception as err:  # one line, whatever failed (credentials, network, S3 refusal)
    fail(f"{type(err).__name__}: {' '.join(str(err).split())}")
`;

/** The command of the dump container (bash: the postgres image is Debian-based). */
export const DUMP_COMMAND = ["bash", "-c", DUMP_SCRIPT] as const;
/** The command of the upload container (the MLflow image's ENTRYPOINT is mlflow, so it is set). */
export const UPLOAD_COMMAND = ["python", "-c", UPLOAD_SCRIPT] as const;

/** Databases of a backup pod: at least one, each a plain identifier, none twice. */
function checkDatabases(spec: Pick<BackupSpec, "databases">): void {
    if (spec.databases.length === 0) throw new Error("backup: at least one database to dump");
    const seen = new Set<string>();
    for (const db of spec.databases) {
        if (!DB_NAME.test(db)) throw new Error(`backup: database name "${db}" is not a plain identifier (letters, digits, _; at most 63)`);
        if (seen.has(db)) throw new Error(`backup: database "${db}" appears twice`);
        seen.add(db);
    }
}

/** backoffLimit and activeDeadlineSeconds of a backup Job (the CronJob's and the pre-upgrade one). */
export function checkBackupJobLimits(who: string, limits: { readonly backoffLimit: number; readonly activeDeadlineSeconds: number }): void {
    if (!Number.isInteger(limits.backoffLimit) || limits.backoffLimit < 0) throw new Error(`${who}: backoffLimit must be an integer >= 0, got ${limits.backoffLimit}`);
    if (!Number.isInteger(limits.activeDeadlineSeconds) || limits.activeDeadlineSeconds < 60) {
        throw new Error(`${who}: activeDeadlineSeconds must be an integer >= 60, got ${limits.activeDeadlineSeconds}`);
    }
}

function checkSpec(spec: BackupSpec): void {
    checkDatabases(spec);
    if (!CRON.test(spec.schedule.trim())) throw new Error(`backup: schedule "${spec.schedule}" is not a five-field cron expression`);
    checkBackupJobLimits("backup", spec);
}

/** The dump container's environment: libpq's connection variables, the password from its Secret. */
export function dumpEnv(spec: BackupPodSpec): k8s.types.input.core.v1.EnvVar[] {
    return [
        env("PGHOST", spec.host),
        env("PGPORT", String(spec.port ?? POSTGRES_PORT)),
        env("PGUSER", spec.username),
        secretEnv("PGPASSWORD", spec.passwordSecretName, spec.passwordSecretKey ?? "password"),
        env("PGCONNECT_TIMEOUT", "10"),
        env("BACKUP_DATABASES", spec.databases.join(" ")),
        env("BACKUP_DIR", BACKUP_DIR),
        env("HOME", "/tmp"),
        ...telemetryEnv(),
    ];
}

/** Where one backup pod uploads to, when not the scheduled backups' `<root>/backups`. */
export interface BackupDestination {
    /** s3://bucket/... under which each dump goes to `<prefix>/<db>/<stamp>.dump`. */
    readonly s3Prefix: Input<string>;
    /** Upload the checked MANIFEST to `<prefix>/MANIFEST` after every dump (its presence says the backup is whole). */
    readonly manifestObject: boolean;
}

/** The upload container's environment: where to, how encrypted, and the pod's artifact credentials (awsEnv). */
export function uploadEnv(spec: BackupPodSpec, destination?: BackupDestination): k8s.types.input.core.v1.EnvVar[] {
    const out = [
        env("BACKUP_DATABASES", spec.databases.join(" ")),
        env("BACKUP_DIR", BACKUP_DIR),
        env("BACKUP_S3_PREFIX", destination?.s3Prefix ?? backupPrefix(spec.artifactRoot)),
        env("BACKUP_SSE", spec.encryption.algorithm),
    ];
    if (spec.encryption.algorithm === "aws:kms" && spec.encryption.kmsKeyId !== undefined) out.push(env("BACKUP_SSE_KMS_KEY_ID", spec.encryption.kmsKeyId));
    if (destination?.manifestObject) out.push(env("BACKUP_MANIFEST_OBJECT", "true"));
    out.push(env("HOME", "/tmp"), ...telemetryEnv(), ...awsEnv(spec.aws));
    return out;
}

/**
 * The ServiceAccount of the backup pods: IRSA's role annotation when there is one; with static keys the pods
 * need no token at all.
 */
export function backupServiceAccount(namespace: string, aws: AwsCredentialSource, annotations?: Input<Record<string, Input<string>>>): k8s.types.input.core.v1.ServiceAccount {
    return {
        metadata: { ...meta(BACKUP_SERVICE_ACCOUNT, namespace, BACKUP_COMPONENT), annotations },
        automountServiceAccountToken: aws.keysSecretName === undefined,
    };
}

/**
 * The pod of one backup, as the CronJob runs it and the pre-upgrade Job (manifests/upgrade.ts) too: the dump init
 * container in the postgres image, then the upload container in the MLflow image, sharing the emptyDir `/backup`.
 * Labelled a database client (the PostgreSQL NetworkPolicy admits it); `labels` are the pod's other labels.
 */
export function backupPodTemplate(spec: BackupPodSpec, podLabels: Record<string, string>, destination?: BackupDestination): k8s.types.input.core.v1.PodTemplateSpec {
    checkDatabases(spec);
    const mounts = [{ name: "backup", mountPath: BACKUP_DIR }, TMP_MOUNT];
    return {
        metadata: { labels: { ...podLabels, [DB_CLIENT_LABEL]: "true" } },
        spec: {
            restartPolicy: "Never",
            serviceAccountName: spec.serviceAccountName,
            // IRSA's projected token is injected by the webhook; static keys need no token at all.
            automountServiceAccountToken: spec.aws.keysSecretName === undefined,
            securityContext: podSecurityContext(),
            initContainers: [
                {
                    name: DUMP_CONTAINER,
                    image: spec.postgresImage,
                    imagePullPolicy: "IfNotPresent",
                    command: [...DUMP_COMMAND],
                    env: dumpEnv(spec),
                    resources: resourceRequirements(spec.resources),
                    securityContext: containerSecurityContext(),
                    volumeMounts: mounts,
                },
            ],
            containers: [
                {
                    name: UPLOAD_CONTAINER,
                    image: spec.uploaderImage,
                    imagePullPolicy: "IfNotPresent",
                    command: [...UPLOAD_COMMAND],
                    env: uploadEnv(spec, destination),
                    resources: resourceRequirements(spec.resources),
                    securityContext: containerSecurityContext(),
                    volumeMounts: mounts,
                },
            ],
            volumes: [{ name: "backup", emptyDir: { sizeLimit: spec.workDirSize } }, TMP_VOLUME],
        },
    };
}

export function backupCronJob(spec: BackupSpec): k8s.types.input.batch.v1.CronJob {
    checkSpec(spec);
    const podLabels = { ...labels(BACKUP_COMPONENT, BACKUP_NAME), [DB_CLIENT_LABEL]: "true" };
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(BACKUP_NAME, spec.namespace, BACKUP_COMPONENT, {
            "mlflow-platform/launch": backupLaunchCommand(spec.namespace),
            "mlflow-platform/backup-prefix": backupPrefix(spec.artifactRoot),
        }),
        spec: {
            schedule: spec.schedule,
            timeZone: BACKUP_TIME_ZONE,
            suspend: false,
            // A backup that could not start on time (controller down) still runs within the hour.
            startingDeadlineSeconds: 3600,
            concurrencyPolicy: "Forbid",
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                metadata: { labels: podLabels },
                spec: {
                    backoffLimit: spec.backoffLimit,
                    activeDeadlineSeconds: spec.activeDeadlineSeconds,
                    template: backupPodTemplate(spec, podLabels),
                },
            },
        },
    };
}
