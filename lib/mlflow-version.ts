/**
 * MLflow versions: which one the built tracking-server image runs, how two compare, and what an upgrade from the
 * version the database was last migrated to (recorded in the ConfigMap `mlflow-schema`) to the configured one
 * takes. Plain functions: the spec checks the key with them, the component plans its steps with them.
 */

/** The MLflow version images/mlflow installs (its requirements.txt pins mlflow-skinny; a unit test holds them equal). */
export const BUILT_MLFLOW_VERSION = "3.17.2";

/** A release version as MLflow publishes them: 3.17.2, 3.0.0rc1, 2.22.1, 1.30.1.post1. */
export const MLFLOW_VERSION_PATTERN = /^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$/;
export const MLFLOW_VERSION_HINT = "an MLflow release version such as 3.17.2 (MAJOR.MINOR.PATCH, optionally rcN or .postN)";

/** The oldest MLflow whose database the platform migrates forward: MLflow 3's `mlflow db upgrade` runs alembic from any 1.x or 2.x schema, but the platform has run 3.x only. */
export const OLDEST_UPGRADABLE_MLFLOW = "3.0.0";

function key(v: string): number[] {
    const m = MLFLOW_VERSION_PATTERN.exec(v);
    if (!m) throw new Error(`not ${MLFLOW_VERSION_HINT}: ${JSON.stringify(v)}`);
    const pre = m[4] === undefined ? 3 : { a: 0, b: 1, rc: 2 }[m[4] as "a" | "b" | "rc"];
    return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), pre, Number(m[5] ?? 0), Number(m[6] ?? 0)];
}

/** Negative when a is older than b, 0 when equal (3.17 = 3.17.0), positive when newer. */
export function compareMlflowVersions(a: string, b: string): number {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return 0;
}

/** What the cluster says about the tracking server's database before anything changes (lib/schema-record.ts). */
export interface SchemaRecord {
    /** The MLflow version the database was last migrated to, from the ConfigMap `mlflow-schema`; undefined: none recorded. */
    readonly mlflowVersion?: string;
    /** The version the last upgrade came from (its steps stay declared, unchanged, until the next upgrade); undefined: none. */
    readonly upgradedFrom?: string;
    /** Whether the tracking server's Deployment exists (a stack deployed before versions were recorded has one and no record). */
    readonly trackingDeployed: boolean;
}

/**
 * What one `pulumi up` does about the MLflow version:
 * - `fresh`: nothing deployed yet; the schema is created by the migration Job and the version recorded;
 * - `unrecorded`: a tracking server runs but no version is recorded (a stack deployed before the record existed):
 *   the version is recorded, no extra step runs (the runbook asks for one up without a version change first);
 * - `same`: the recorded version is the configured one and no upgrade led to it (a rebuilt image migrates nothing);
 * - `upgrade`: stop the writers, back up, migrate, roll out, resume; after it, while the version stays, the same
 *   plan again (the record names where the upgrade came from), so the steps stay declared and unchanged: a further
 *   `up` changes nothing, and the next upgrade replaces them.
 */
export type UpgradePlan =
    | { readonly kind: "fresh"; readonly to: string }
    | { readonly kind: "unrecorded"; readonly to: string }
    | { readonly kind: "same"; readonly to: string }
    | { readonly kind: "upgrade"; readonly from: string; readonly to: string };

/** Why an upgrade is refused before anything changes: the config key and what to do. */
export class UpgradeRefused extends Error {
    constructor(
        public readonly key: string,
        message: string,
    ) {
        super(message);
    }
}

/**
 * The plan from the cluster's record to the configured version. Refused (UpgradeRefused, key image.mlflowVersion):
 * a downgrade below the database's schema (MLflow's migrations only go forward), a recorded version this program
 * cannot read, an upgrade from before OLDEST_UPGRADABLE_MLFLOW.
 */
export function planMlflowUpgrade(record: SchemaRecord, to: string): UpgradePlan {
    const runbook = `docs/runbooks.md, "Upgrade MLflow"`;
    if (record.mlflowVersion === undefined) return record.trackingDeployed ? { kind: "unrecorded", to } : { kind: "fresh", to };
    const from = record.mlflowVersion;
    if (!MLFLOW_VERSION_PATTERN.test(from))
        throw new UpgradeRefused(
            "image.mlflowVersion",
            `the ConfigMap mlflow-schema records MLflow version ${JSON.stringify(from)}, which is not ${MLFLOW_VERSION_HINT}: nothing was changed; fix the record (kubectl edit configmap mlflow-schema) to the version the database was migrated to: ${runbook}`,
        );
    const order = compareMlflowVersions(to, from);
    if (order === 0) {
        const last = record.upgradedFrom;
        return last !== undefined && MLFLOW_VERSION_PATTERN.test(last) && compareMlflowVersions(last, from) < 0 ? { kind: "upgrade", from: last, to } : { kind: "same", to };
    }
    if (order < 0)
        throw new UpgradeRefused(
            "image.mlflowVersion",
            `is ${to}, older than MLflow ${from}, the version the tracking server's database was migrated to: MLflow's schema migrations only go forward, and ${to} cannot run on a ${from} schema. Nothing was changed. Keep image.mlflowVersion at ${from} or newer; to go back, restore the backup taken before the upgrade to ${from} into a fresh database and run the old image: ${runbook}, "The way back"`,
        );
    if (compareMlflowVersions(from, OLDEST_UPGRADABLE_MLFLOW) < 0)
        throw new UpgradeRefused(
            "image.mlflowVersion",
            `upgrades from MLflow ${from} to ${to}, but the platform upgrades databases of MLflow ${OLDEST_UPGRADABLE_MLFLOW} or newer only (its steps were never run from ${from}). Nothing was changed. Upgrade to a 3.x release by hand first: ${runbook}`,
        );
    return { kind: "upgrade", from, to };
}
