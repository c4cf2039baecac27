/**
 * The terms the config spec and the manifest builders share: patterns and hints a value is checked against,
 * and names both sides mean the same thing by. They live below both layers, so the spec (config.ts) imports
 * nothing from the builders and the builders agree with the spec by construction.
 */

/** The cron expressions every schedule of the platform accepts (training, batch, garbage collection, backups). */
export const SCHEDULE_PATTERN = /^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/;
export const SCHEDULE_HINT = 'a cron expression such as "0 3 * * 1" or @daily';

/**
 * A retention such as `30d`, `12h` or `1d12h`: whole days, hours, minutes and seconds in this order, not all
 * zero. A subset of what `mlflow gc --older-than` parses (which also takes fractions, and an empty string, which
 * it reads as "no age limit": every deleted run at once).
 */
export const OLDER_THAN_PATTERN = /^(?=.*[1-9])(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/;
export const OLDER_THAN_HINT = 'a retention such as "30d", "12h" or "1d12h" (days, hours, minutes, seconds in this order; not zero)';

/** The project's serving runtime: MLflow's own scoring server over the pyfunc model (images/serving). */
export const MLFLOW_PYFUNC_RUNTIME = "mlflow-pyfunc";

/**
 * Whether the stack declares the project's ClusterServingRuntime: only when it is to be installed and a
 * served model runs on it. A stack serving nothing declares no KServe object, so it needs no KServe CRDs
 * (found on the real engine: the runtime alone made `pulumi up` fail on a cluster without KServe).
 */
export function runtimeNeeded(opts: { installRuntime: boolean; models: readonly { runtime?: string }[]; defaultRuntime: string }): boolean {
    return opts.installRuntime && opts.models.some((m) => (m.runtime ?? opts.defaultRuntime) === MLFLOW_PYFUNC_RUNTIME);
}
