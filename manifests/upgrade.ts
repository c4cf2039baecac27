/**
 * The steps around an MLflow version upgrade (docs: /work/notes/upgrade-design.md, issue 20) as plain data:
 *
 * 1. `Job mlflow-upgrade-<f>-to-<t>-stop`: scripts/upgrade-control.py `stop` (the mlflow image, Python stdlib only)
 *    suspends the gc CronJob, waits for its Jobs, records the tracking Deployment's replicas in its annotations,
 *    scales it to 0 and waits until none of its pods is left.
 * 2. `Job mlflow-upgrade-<f>-to-<t>-backup`: the backup CronJob's pod (manifests/backup.ts backupPodTemplate) writing
 *    to `<artifact root>/backups/pre-upgrade-<f>-to-<t>/`, MANIFEST last.
 * 5. `Job mlflow-upgrade-<f>-to-<t>-resume`: upgrade-control.py `resume` scales back to the recorded count when the
 *    Deployment is still at 0, waits for the rollout, unsuspends what stop suspended, removes the annotations.
 *
 * The two control Jobs run as the ServiceAccount `mlflow-upgrade`, whose Role allows exactly the calls the script
 * makes (test/unit/upgrade-manifests.test.ts reads them from the script), on the named objects only where RBAC can
 * name them. The script comes from a ConfigMap; its digest is in each control pod's annotations, so an edited
 * script is a new pod (the Job is replaced) while the same upgrade is pending.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import type { Resources } from "../config";
import { checkBackupJobLimits, backupPodTemplate, type BackupPodSpec } from "./backup";
import { containerSecurityContext, env, labels, meta, podSecurityContext, resourceRequirements, telemetryEnv, TMP_MOUNT, TMP_VOLUME, underArtifactRoot } from "./common";
import { GC_CRONJOB } from "./gc";
import { MLFLOW_VERSION_PATTERN } from "../lib/mlflow-version";
import { SCHEMA_CONFIGMAP, SCHEMA_VERSION_ANNOTATION, UPGRADED_FROM_ANNOTATION } from "../lib/schema-record";
import { TRACKING_SERVICE_NAME } from "./tracking-server";

export const UPGRADE_NAME = "mlflow-upgrade";
/** The control Jobs' ServiceAccount (and its Role and RoleBinding). */
export const UPGRADE_SERVICE_ACCOUNT = UPGRADE_NAME;
export const UPGRADE_COMPONENT = "upgrade";
/** The ConfigMap holding scripts/upgrade-control.py. */
export const UPGRADE_CONFIGMAP = "mlflow-upgrade-control";
export const UPGRADE_SCRIPT_KEY = "upgrade-control.py";
export const UPGRADE_SCRIPT_DIR = "/scripts";
/** Annotations the stop step writes on the Deployment (the script's REPLICAS_ANNOTATION, SUSPENDED_ANNOTATION). */
export const REPLICAS_ANNOTATION = "mlflow-platform.io/replicas-before-upgrade";
export const SUSPENDED_ANNOTATION = "mlflow-platform.io/suspended-for-upgrade";
/** Label of every upgrade pod: which step it is. */
export const UPGRADE_STEP_LABEL = "mlflow-platform.io/upgrade-step";
export const SCRIPT_DIGEST_ANNOTATION = "mlflow-platform/script-sha256";

export const UPGRADE_STEPS = ["stop", "backup", "resume"] as const;
export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

const MLFLOW_VERSION = MLFLOW_VERSION_PATTERN;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkVersions(from: string, to: string): void {
    for (const [which, v] of [["from", from], ["to", to]] as const) {
        if (typeof v !== "string" || !MLFLOW_VERSION.test(v)) {
            throw new Error(`upgrade: the MLflow version upgraded ${which} must be a release version such as 3.10.0 (MAJOR.MINOR[.PATCH][rcN]), got ${JSON.stringify(v)}`);
        }
    }
    if (from === to) throw new Error(`upgrade: from and to are the same version ${from}: a rebuild of the same version needs no stop, backup or resume`);
}

/**
 * The name of one step's Job: `mlflow-upgrade-<f>-to-<t>-<step>`, the versions with every character outside
 * [a-z0-9] as `-` (3.10.0 → 3-10-0). Over 63 characters (a DNS-1123 label): `mlflow-upgrade-<hash of both
 * versions>-<step>`. The same upgrade always gets the same names (a rerun of `pulumi up` finds its Jobs).
 */
export function upgradeJobName(from: string, to: string, step: UpgradeStep): string {
    checkVersions(from, to);
    if (!(UPGRADE_STEPS as readonly string[]).includes(step)) throw new Error(`upgrade: step must be one of ${UPGRADE_STEPS.join(", ")}, got ${JSON.stringify(step)}`);
    const slug = (v: string) => v.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    const name = `${UPGRADE_NAME}-${slug(from)}-to-${slug(to)}-${step}`;
    if (name.length <= 63 && DNS_LABEL.test(name)) return name;
    const hash = crypto.createHash("sha256").update(`${from}->${to}`).digest("hex").slice(0, 12);
    return `${UPGRADE_NAME}-${hash}-${step}`;
}

/**
 * `<artifact root>/backups/pre-upgrade-<f>-to-<t>/` (trailing slash: a listing under it cannot reach a sibling such
 * as ...-to-3.17.2rc1). Each database's dump lands at `<it><db>/<stamp>.dump`, MANIFEST at `<it>MANIFEST`, so
 * scripts/restore-database.sh `latest` restores with BACKUP_PREFIX=`<it><db>`.
 */
export function preUpgradeBackupPrefix(artifactRoot: Input<string>, from: string, to: string): Input<string> {
    checkVersions(from, to);
    return underArtifactRoot(artifactRoot, `backups/pre-upgrade-${from}-to-${to}/`, "pre-upgrade backup");
}

/**
 * The RDS snapshot taken before an upgrade of an RDS backend store: `<instance>-pre-upgrade-<f>-to-<t>` (the versions
 * as in the Job names, 3.10.0 → 3-10-0), at most 255 characters as RDS allows; longer: a hash of both versions.
 */
export function preUpgradeSnapshotId(instance: string, from: string, to: string): string {
    checkVersions(from, to);
    const slug = (v: string) => v.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    const id = `${instance}-pre-upgrade-${slug(from)}-to-${slug(to)}`;
    if (id.length <= 255) return id;
    const suffix = `-pre-upgrade-${crypto.createHash("sha256").update(`${instance}/${from}->${to}`).digest("hex").slice(0, 12)}`;
    return `${instance.slice(0, 255 - suffix.length)}${suffix}`;
}

/** The sha256 (16 hex) of the script as the control pods' annotation records it. */
export function upgradeScriptDigest(script: string): string {
    return crypto.createHash("sha256").update(script).digest("hex").slice(0, 16);
}

/** The objects the control script acts on. */
export interface UpgradeTargets {
    /** The tracking server's Deployment. Defaults to `mlflow`. */
    readonly deployment: string;
    /** CronJobs suspended during the upgrade. Defaults to [`mlflow-gc`]; an absent one is skipped. */
    readonly cronJobs: readonly string[];
}

export const DEFAULT_UPGRADE_TARGETS: UpgradeTargets = { deployment: TRACKING_SERVICE_NAME, cronJobs: [GC_CRONJOB] };

function checkTargets(t: UpgradeTargets): void {
    for (const [what, n] of [["deployment", t.deployment], ...t.cronJobs.map((c) => ["cronJobs", c] as const)] as const) {
        if (!DNS_LABEL.test(n)) throw new Error(`upgrade: ${what} must name objects by DNS-1123 label (lower-case letters, digits, -), got ${JSON.stringify(n)}`);
    }
    if (new Set(t.cronJobs).size !== t.cronJobs.length) throw new Error(`upgrade: cronJobs lists a name twice: ${t.cronJobs.join(", ")}`);
}

export function upgradeServiceAccount(namespace: string): k8s.types.input.core.v1.ServiceAccount {
    return {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: meta(UPGRADE_SERVICE_ACCOUNT, namespace, UPGRADE_COMPONENT),
        // Only the control pods mount its token, and they say so themselves.
        automountServiceAccountToken: false,
    };
}

/**
 * Exactly what scripts/upgrade-control.py calls, on the named objects where RBAC can name them (a list cannot be
 * limited by name): read and annotate the Deployment, scale it, read and (un)suspend the CronJobs, list Jobs (of
 * those CronJobs) and pods (of the Deployment's selector).
 */
export function upgradeRole(namespace: string, targets: UpgradeTargets = DEFAULT_UPGRADE_TARGETS): k8s.types.input.rbac.v1.Role {
    checkTargets(targets);
    const rules: k8s.types.input.rbac.v1.PolicyRule[] = [
        { apiGroups: ["apps"], resources: ["deployments"], resourceNames: [targets.deployment], verbs: ["get", "patch"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: [targets.deployment], verbs: ["patch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    ];
    if (targets.cronJobs.length > 0) {
        rules.push(
            { apiGroups: ["batch"], resources: ["cronjobs"], resourceNames: [...targets.cronJobs], verbs: ["get", "patch"] },
            { apiGroups: ["batch"], resources: ["jobs"], verbs: ["list"] },
        );
    }
    return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(UPGRADE_NAME, namespace, UPGRADE_COMPONENT), rules };
}

export function upgradeRoleBinding(namespace: string): k8s.types.input.rbac.v1.RoleBinding {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: meta(UPGRADE_NAME, namespace, UPGRADE_COMPONENT),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: UPGRADE_NAME },
        subjects: [{ kind: "ServiceAccount", name: UPGRADE_SERVICE_ACCOUNT, namespace }],
    };
}

/** The ConfigMap with the control script (scripts/upgrade-control.py, read by the component). */
export function upgradeConfigMap(namespace: string, script: string): k8s.types.input.core.v1.ConfigMap {
    if (!script.includes("def stop(") || !script.includes("def resume(")) throw new Error("upgrade: the control script has no stop and resume steps (not scripts/upgrade-control.py?)");
    return { apiVersion: "v1", kind: "ConfigMap", metadata: meta(UPGRADE_CONFIGMAP, namespace, UPGRADE_COMPONENT), data: { [UPGRADE_SCRIPT_KEY]: script } };
}

/** How long each wait of the control script may take (its env), in seconds. */
export interface UpgradeTimeouts {
    /** stop: running Jobs of the CronJobs to end. Defaults to 900. */
    readonly jobsSeconds: number;
    /** stop: the Deployment's pods to be gone. Defaults to 300. */
    readonly podsSeconds: number;
    /** resume: the rollout to complete. Defaults to 900. */
    readonly rolloutSeconds: number;
}

export const DEFAULT_UPGRADE_TIMEOUTS: UpgradeTimeouts = { jobsSeconds: 900, podsSeconds: 300, rolloutSeconds: 900 };
/** Seconds a control Job gets beyond its waits (API calls, retries of the API server, the pod's start). */
export const CONTROL_MARGIN_SECONDS = 180;

export interface UpgradeControlSpec {
    readonly namespace: string;
    /** The mlflow image (Python 3.11): the running one for stop, the new one for resume do equally well. */
    readonly image: Input<string>;
    /** The MLflow version upgraded from (the database's) and to (the image's). */
    readonly from: string;
    readonly to: string;
    /** upgradeScriptDigest of the ConfigMap's script. */
    readonly scriptDigest: string;
    readonly targets?: UpgradeTargets;
    readonly timeouts?: Partial<UpgradeTimeouts>;
    /** Defaults to 50m/64Mi requested, 500m/128Mi limits (stdlib Python: ~25 MiB). */
    readonly resources?: Resources;
    /** MLflow's usage telemetry (telemetry.enabled); the script does not import MLflow. Defaults to off. */
    readonly telemetry?: boolean;
}

const CONTROL_RESOURCES: Resources = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } };

function timeoutsOf(spec: UpgradeControlSpec): UpgradeTimeouts {
    const t = { ...DEFAULT_UPGRADE_TIMEOUTS, ...spec.timeouts };
    for (const [k, v] of Object.entries(t)) {
        if (!Number.isInteger(v) || v < 1) throw new Error(`upgrade: timeouts.${k} must be a whole number of seconds >= 1, got ${JSON.stringify(v)}`);
    }
    return t;
}

/** The control container's environment: what it acts on and how long it waits. */
export function upgradeControlEnv(spec: UpgradeControlSpec): k8s.types.input.core.v1.EnvVar[] {
    const targets = spec.targets ?? DEFAULT_UPGRADE_TARGETS;
    checkTargets(targets);
    const t = timeoutsOf(spec);
    return [
        env("UPGRADE_NAMESPACE", spec.namespace),
        env("UPGRADE_DEPLOYMENT", targets.deployment),
        env("UPGRADE_CRONJOBS", targets.cronJobs.join(" ")),
        env("UPGRADE_JOBS_TIMEOUT_SECONDS", String(t.jobsSeconds)),
        env("UPGRADE_PODS_TIMEOUT_SECONDS", String(t.podsSeconds)),
        env("UPGRADE_ROLLOUT_TIMEOUT_SECONDS", String(t.rolloutSeconds)),
        env("HOME", "/tmp"),
        env("PYTHONDONTWRITEBYTECODE", "1"),
        ...telemetryEnv(spec.telemetry),
    ];
}

function upgradeLabels(step: UpgradeStep): Record<string, string> {
    return { ...labels(UPGRADE_COMPONENT, UPGRADE_NAME), [UPGRADE_STEP_LABEL]: step };
}

function jobAnnotations(from: string, to: string): Record<string, Input<string>> {
    return { "mlflow-platform/upgrade-from": from, "mlflow-platform/upgrade-to": to };
}

function controlJob(spec: UpgradeControlSpec, step: "stop" | "resume"): k8s.types.input.batch.v1.Job {
    const name = upgradeJobName(spec.from, spec.to, step);
    if (!/^[0-9a-f]{16}$/.test(spec.scriptDigest)) throw new Error(`upgrade: scriptDigest must be upgradeScriptDigest(script) (16 hex digits), got ${JSON.stringify(spec.scriptDigest)}`);
    const t = timeoutsOf(spec);
    const waits = step === "stop" ? t.jobsSeconds + t.podsSeconds : t.rolloutSeconds;
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta(name, spec.namespace, UPGRADE_COMPONENT, jobAnnotations(spec.from, spec.to)),
        spec: {
            // Not retried blindly: the script already retries the API server's transient errors, and a refusal
            // (RBAC, a timeout) would repeat. Rerunning is safe (both steps are idempotent): the operator reads the
            // one-line reason first. No TTL: a Job deleted by its TTL would be created (run) again by the next up.
            backoffLimit: 0,
            activeDeadlineSeconds: waits + CONTROL_MARGIN_SECONDS,
            template: {
                metadata: { labels: upgradeLabels(step), annotations: { [SCRIPT_DIGEST_ANNOTATION]: spec.scriptDigest } },
                spec: {
                    restartPolicy: "Never",
                    serviceAccountName: UPGRADE_SERVICE_ACCOUNT,
                    // The API server's token: the script's only credential.
                    automountServiceAccountToken: true,
                    securityContext: podSecurityContext(),
                    containers: [
                        {
                            name: step,
                            image: spec.image,
                            imagePullPolicy: "IfNotPresent",
                            command: ["python", `${UPGRADE_SCRIPT_DIR}/${UPGRADE_SCRIPT_KEY}`, step],
                            env: upgradeControlEnv(spec),
                            resources: resourceRequirements(spec.resources ?? CONTROL_RESOURCES),
                            securityContext: containerSecurityContext(),
                            volumeMounts: [{ name: "script", mountPath: UPGRADE_SCRIPT_DIR, readOnly: true }, TMP_MOUNT],
                        },
                    ],
                    volumes: [{ name: "script", configMap: { name: UPGRADE_CONFIGMAP, defaultMode: 0o444 } }, TMP_VOLUME],
                },
            },
        },
    };
}

/** Step 1: stop the tracking server (and the gc CronJob) before anything is backed up or migrated. */
export function upgradeStopJob(spec: UpgradeControlSpec): k8s.types.input.batch.v1.Job {
    return controlJob(spec, "stop");
}

/** Step 5: bring the tracking server (and the gc CronJob) back after the migration and the Deployment's update. */
export function upgradeResumeJob(spec: UpgradeControlSpec): k8s.types.input.batch.v1.Job {
    return controlJob(spec, "resume");
}

export interface PreUpgradeBackupSpec extends BackupPodSpec {
    readonly from: string;
    readonly to: string;
    /** Defaults to 3600. */
    readonly activeDeadlineSeconds?: number;
    /** Defaults to 1 (a retry writes new stamped keys and the MANIFEST again). */
    readonly backoffLimit?: number;
}

/**
 * Step 2: the backup CronJob's pod (dump every database, verify each, upload with SSE and check) once, to
 * preUpgradeBackupPrefix, with the MANIFEST uploaded last; as the backup ServiceAccount (under IRSA its role puts
 * under `<root>/backups/`, which holds this prefix). It waits for PostgreSQL as the CronJob's pod does.
 */
export function upgradeBackupJob(spec: PreUpgradeBackupSpec): k8s.types.input.batch.v1.Job {
    const name = upgradeJobName(spec.from, spec.to, "backup");
    const limits = { backoffLimit: spec.backoffLimit ?? 1, activeDeadlineSeconds: spec.activeDeadlineSeconds ?? 3600 };
    checkBackupJobLimits("pre-upgrade backup", limits);
    const prefix = preUpgradeBackupPrefix(spec.artifactRoot, spec.from, spec.to);
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta(name, spec.namespace, UPGRADE_COMPONENT, { ...jobAnnotations(spec.from, spec.to), "mlflow-platform/backup-prefix": prefix }),
        spec: {
            ...limits,
            template: backupPodTemplate(spec, upgradeLabels("backup"), { s3Prefix: prefix, manifestObject: true }),
        },
    };
}

/**
 * The record of the MLflow version the tracking server's database was last migrated to (lib/schema-record.ts reads
 * it at pre-flight): written after the migration Job of that version completed. The version is an annotation, not
 * data: the provider replaces a ConfigMap whose data changes (delete, then create: a moment without a record), and
 * updates its metadata in place.
 */
export function schemaRecordConfigMap(namespace: string, mlflowVersion: string, upgradedFrom?: string): k8s.types.input.core.v1.ConfigMap {
    for (const v of [mlflowVersion, ...(upgradedFrom === undefined ? [] : [upgradedFrom])])
        if (!MLFLOW_VERSION.test(v)) throw new Error(`schema record: an MLflow version must be a release version such as 3.17.2, got ${JSON.stringify(v)}`);
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta(SCHEMA_CONFIGMAP, namespace, "schema-migration", { [SCHEMA_VERSION_ANNOTATION]: mlflowVersion, ...(upgradedFrom === undefined ? {} : { [UPGRADED_FROM_ANNOTATION]: upgradedFrom }) }),
        data: { about: "The annotation mlflow-platform.io/mlflow-version is the MLflow version the tracking server's database was migrated to (written by the platform after each migration; read before an upgrade)." },
    };
}
