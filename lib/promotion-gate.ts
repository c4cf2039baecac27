/**
 * The promotion gate, as a pure function: may `candidate` take the alias from its current holder?
 * The metric is lower-is-better (default test_rmse). The candidate may be at most
 * `current * (1 + maxRegression)`; maxRegression 0 means no worse. Rules, first match wins:
 *   1. bad options (metric empty, maxRegression not a number >= 0, force without a reason) → invalid;
 *   2. the alias is unset → promote (nothing to compare against);
 *   3. the candidate already holds the alias → no-op;
 *   4. the candidate lacks the metric, or the current holder does (nothing to compare) → refuse;
 *   5. candidate <= limit → promote, else refuse;
 *   6. a refusal with force (and a reason) → promote, forced.
 * images/trainer/promote.py implements the same rules, messages and tags; the integration test
 * (test/integration/promotion.test.ts) compares the two on a table of cases.
 */

export const DEFAULT_PROMOTION_METRIC = "test_rmse";
/** Every tag of the trail starts with this, then the alias: `mlflow-platform.promotion.<alias>.<field>`. */
export const PROMOTION_TAG_PREFIX = "mlflow-platform.promotion.";
/** The fields of the trail, in the order they are written. */
export const PROMOTION_TAG_FIELDS = [
    "user",
    "time",
    "reason",
    "forced",
    "previous_version",
    "metric",
    "value",
    "previous_value",
    "max_regression",
    "limit",
] as const;
export type PromotionTagField = (typeof PROMOTION_TAG_FIELDS)[number];
/** Longest reason (after collapsing whitespace) the trail takes. */
export const MAX_REASON_LENGTH = 500;

/** A model version and its run's value of the gate metric (undefined: the run lacks it, or there is no run). */
export interface VersionMetric {
    readonly version: string;
    readonly value?: number;
}

export interface GateInput {
    readonly model: string;
    readonly alias: string;
    readonly candidate: VersionMetric;
    /** The alias's current holder; undefined when the alias is unset. */
    readonly current?: VersionMetric;
    /** Defaults to test_rmse (lower is better). */
    readonly metric?: string;
    /** Defaults to 0 (no worse). */
    readonly maxRegression?: number;
    /** Promote even when the gate refuses; needs a reason. Defaults to false. */
    readonly force?: boolean;
    readonly reason?: string;
}

export type GateAction = "promote" | "noop" | "refuse" | "invalid";

export interface GateDecision {
    readonly action: GateAction;
    /** One line naming both versions, both metric values and the limit. */
    readonly message: string;
    /** True when force overrode a refusal. */
    readonly forced: boolean;
    readonly model: string;
    readonly alias: string;
    readonly metric: string;
    readonly maxRegression: number;
    readonly candidate: VersionMetric;
    readonly current?: VersionMetric;
    /** current * (1 + maxRegression), when both values were known. */
    readonly limit?: number;
    /** The normalized reason (whitespace collapsed), or undefined. */
    readonly reason?: string;
    /** Why the gate passed, when it did ("the alias was unset", "test_rmse 0.4 <= limit 0.5 …"). */
    readonly passed?: string;
}

/** A whitespace-collapsed, trimmed reason; undefined when empty. */
export function normalizeReason(reason: string | undefined): string | undefined {
    const r = (reason ?? "").replace(/\s+/g, " ").trim();
    return r === "" ? undefined : r;
}

/** The error of bad gate options, or undefined; the front ends check it before any registry call (exit 2). */
export function gateOptionsError(opts: { metric?: string; maxRegression?: number; force?: boolean; reason?: string }): string | undefined {
    const metric = opts.metric ?? DEFAULT_PROMOTION_METRIC;
    if (metric.trim() === "") return "the metric must not be empty";
    const m = opts.maxRegression ?? 0;
    if (typeof m !== "number" || !Number.isFinite(m) || m < 0) return `max regression must be a number >= 0 (a fraction: 0.02 = 2% worse), got ${String(m)}`;
    const reason = normalizeReason(opts.reason);
    if (opts.force === true && reason === undefined) return "force needs a reason: say why the gate is overridden";
    if (reason !== undefined && reason.length > MAX_REASON_LENGTH) return `the reason is ${reason.length} characters; at most ${MAX_REASON_LENGTH}`;
    return undefined;
}

/**
 * A number as JavaScript's String(x) writes it (shortest round-trip digits; exponent below 1e-6 and from
 * 1e21). promote.py's format_number() writes the same text, so the two front ends' messages are equal.
 */
export function formatNumber(x: number): string {
    return String(x);
}

/** Decides a promotion; pure (no I/O, no clock). */
export function decidePromotion(input: GateInput): GateDecision {
    const metric = input.metric ?? DEFAULT_PROMOTION_METRIC;
    const maxRegression = input.maxRegression ?? 0;
    const reason = normalizeReason(input.reason);
    const force = input.force === true;
    const ref = `models:/${input.model}@${input.alias}`;
    const base = {
        model: input.model,
        alias: input.alias,
        metric,
        maxRegression,
        candidate: input.candidate,
        ...(input.current ? { current: input.current } : {}),
        ...(reason !== undefined ? { reason } : {}),
    };
    const show = (v: VersionMetric) => `version ${v.version} (${v.value === undefined ? `no ${metric}` : `${metric} ${formatNumber(v.value)}`})`;
    const why = reason !== undefined ? `; reason: ${reason}` : "";

    const bad = gateOptionsError({ metric, maxRegression, force, ...(input.reason !== undefined ? { reason: input.reason } : {}) });
    if (bad !== undefined) return { ...base, action: "invalid", forced: false, message: `${ref}: ${bad}` };

    const cand = input.candidate;
    const cur = input.current;
    if (cur === undefined) {
        const passed = "the alias was unset";
        return { ...base, action: "promote", forced: false, passed, message: `${ref} → ${show(cand)}: ${passed}, nothing to compare against${why}` };
    }
    if (cur.version === cand.version) {
        return { ...base, action: "noop", forced: false, message: `${ref} is already ${show(cand)}: nothing to do` };
    }

    let cause: string;
    let limit: number | undefined;
    if (cand.value === undefined) {
        cause = `version ${cand.version}'s run has no ${metric} metric`;
    } else if (cur.value === undefined) {
        cause = `version ${cur.version}'s run has no ${metric} metric to compare against`;
    } else {
        limit = cur.value * (1 + maxRegression);
        const rule = `limit ${formatNumber(limit)} (version ${cur.version}'s ${formatNumber(cur.value)}, max regression ${formatNumber(maxRegression)}, lower is better)`;
        if (cand.value <= limit) {
            const passed = `${metric} ${formatNumber(cand.value)} <= ${rule}`;
            return { ...base, limit, action: "promote", forced: false, passed, message: `${ref} → ${show(cand)} from ${show(cur)}: gate passed, ${passed}${why}` };
        }
        cause = `${metric} ${formatNumber(cand.value)} is over the ${rule}`;
    }
    const withLimit = limit === undefined ? {} : { limit };
    if (force) {
        return { ...base, ...withLimit, action: "promote", forced: true, message: `${ref} → ${show(cand)} from ${show(cur)}: FORCED past the gate (${cause})${why}` };
    }
    return { ...base, ...withLimit, action: "refuse", forced: false, message: `${ref} stays ${show(cur)}: ${show(cand)} refused, ${cause}; force with a reason to promote anyway` };
}

/** The key of one trail field for an alias: `mlflow-platform.promotion.<alias>.<field>`. */
export function promotionTagKey(alias: string, field: PromotionTagField): string {
    return `${PROMOTION_TAG_PREFIX}${alias}.${field}`;
}

/** ISO-8601 UTC with milliseconds, e.g. 2025-01-31T12:00:00.000Z. */
export function isoUtc(now: Date): string {
    return now.toISOString();
}

/**
 * The model-version tags a promotion writes on the promoted version: who, when, why (the reason, or
 * "gate passed: …"), forced or not, the previous version and both metric values ("none" when unknown).
 */
export function promotionTags(decision: GateDecision, who: { user: string; now: Date }): Record<string, string> {
    if (decision.action !== "promote") throw new Error(`promotionTags: a ${decision.action} decision writes no trail`);
    const none = (v: number | undefined) => (v === undefined ? "none" : formatNumber(v));
    const values: Record<PromotionTagField, string> = {
        user: who.user,
        time: isoUtc(who.now),
        reason: decision.reason ?? `gate passed: ${decision.passed ?? "?"}`,
        forced: decision.forced ? "true" : "false",
        previous_version: decision.current?.version ?? "none",
        metric: decision.metric,
        value: none(decision.candidate.value),
        previous_value: none(decision.current?.value),
        max_regression: formatNumber(decision.maxRegression),
        limit: none(decision.limit),
    };
    const out: Record<string, string> = {};
    for (const f of PROMOTION_TAG_FIELDS) out[promotionTagKey(decision.alias, f)] = values[f];
    return out;
}

/** A metric value from MLflow's REST API (a JSON number, or "NaN"/"Infinity" strings): undefined unless finite. */
export function metricValue(raw: unknown): number | undefined {
    const v = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
    return Number.isFinite(v) ? v : undefined;
}
