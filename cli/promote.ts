/**
 * `npm run promote -- --tracking-uri <url> --model <name> --version <n> [--alias production]` points the alias
 * at the version if the gate passes and prints one line. Exit 0 on success, 2 on bad arguments, 1 when the
 * gate refuses or the registry fails.
 *
 * The promotion gate of lib/promotion-gate.ts decides first, on the `--metric` (default test_rmse, lower is better) of the candidate's
 * run and of the current alias holder's run, read from MLflow's REST API. A refusal is exit 1 and one line on
 * stderr naming both versions and values; the alias is unchanged. A promotion sets the alias, then writes the tag
 * trail (mlflow-platform.promotion.<alias>.*) on the promoted version. `--force` needs `--reason`. The in-cluster
 * template (images/trainer/promote.py) applies the same gate. There is no ungated path: overriding the gate takes
 * `--force` and a reason, and leaves both in the trail.
 */
import { RunNotFoundError, type MlflowRegistryClient, type ModelVersion } from "../lib/registry/client";
import { isRegistryError } from "../lib/registry/errors";
import { decidePromotion, gateOptionsError, metricValue, promotionTags, type VersionMetric } from "../lib/promotion-gate";
import { formatUsage, parseArgs, UsageError, type ArgSpec } from "./args";
import { makeClient, processIo, reportError, type CliIo } from "./resolve-model";

const SPEC = {
    "tracking-uri": { type: "string", description: "MLflow tracking server URL (default $MLFLOW_TRACKING_URI)" },
    model: { type: "string", required: true, description: "registered model name" },
    version: { type: "string", required: true, description: "model version number" },
    alias: { type: "string", default: "production", description: "alias to set (default production)" },
    "max-regression": { type: "string", description: "gate: how much worse than the current version's metric the candidate may be, a fraction >= 0 (0.02 = 2% worse; default 0)" },
    metric: { type: "string", description: "gate: run metric to compare, lower is better (default test_rmse)" },
    force: { type: "boolean", description: "gate: promote even when the gate refuses (needs --reason)" },
    reason: { type: "string", description: "gate: why, written to the tag trail (required with --force)" },
    user: { type: "string", description: "gate: who promotes, written to the tag trail (default $USER)" },
    help: { type: "boolean", description: "show usage" },
} as const satisfies ArgSpec;

const USAGE = formatUsage("npm run promote --", SPEC);

/** The clock of the trail's time tag, a parameter so that tests can pin it. */
export interface PromoteDeps {
    now?: () => Date;
}

export async function main(argv: string[], io: CliIo = processIo, deps: PromoteDeps = {}): Promise<number> {
    try {
        if (argv.includes("--help")) {
            io.stdout(`${USAGE}\n`);
            return 0;
        }
        const { values } = parseArgs(argv, SPEC);
        const { model, version, alias } = values;
        if (model.trim() === "" || /[/:]/.test(model)) {
            throw new UsageError(`--model "${model}" is not a registered model name (no "/" or ":")`);
        }
        if (!/^[1-9]\d*$/.test(version)) throw new UsageError(`--version "${version}" must be a positive integer`);
        if (!/^[\w-]+$/.test(alias) || alias.toLowerCase() === "latest" || /^v\d+$/i.test(alias)) {
            throw new UsageError(
                `--alias "${alias}" is not a valid alias: letters, digits, "_" and "-" only; "latest" and "v<number>" are reserved`,
            );
        }
        const gate = gateArgs(values, io.env);
        const client = makeClient(values["tracking-uri"], io.env);
        return await promoteGated(client, { model, version, alias, ...gate }, io, deps.now ?? (() => new Date()));
    } catch (err) {
        return reportError("promote", err, io);
    }
}

interface GateArgs {
    metric: string;
    maxRegression: number;
    force: boolean;
    reason?: string;
    user: string;
}

function gateArgs(
    values: { "max-regression"?: string | undefined; metric?: string | undefined; force: boolean; reason?: string | undefined; user?: string | undefined },
    env: NodeJS.ProcessEnv,
): GateArgs {
    const raw = values["max-regression"];
    let maxRegression = 0;
    if (raw !== undefined) {
        if (!/^\s*(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw)) {
            throw new UsageError(`--max-regression "${raw}" must be a number >= 0 (a fraction: 0.02 = 2% worse)`);
        }
        maxRegression = Number(raw);
    }
    const metric = values.metric ?? "test_rmse";
    const err = gateOptionsError({ metric, maxRegression, force: values.force, ...(values.reason !== undefined ? { reason: values.reason } : {}) });
    if (err !== undefined) throw new UsageError(err.startsWith("force needs a reason") ? `--force needs --reason "<why the gate is overridden>"` : err);
    const user = (values.user ?? env.USER ?? env.LOGNAME ?? "unknown").trim();
    if (user === "") throw new UsageError(`--user must not be empty`);
    return { metric, maxRegression, force: values.force, ...(values.reason !== undefined ? { reason: values.reason } : {}), user };
}

async function promoteGated(
    client: MlflowRegistryClient,
    p: GateArgs & { model: string; version: string; alias: string },
    io: CliIo,
    now: () => Date,
): Promise<number> {
    const candidateMv = await client.getModelVersion(p.model, p.version);
    let currentMv: ModelVersion | undefined;
    try {
        currentMv = await client.getModelVersionByAlias(p.model, p.alias);
    } catch (e) {
        if (!isRegistryError(e, "ALIAS_NOT_FOUND")) throw e;
    }
    const candidate = await withMetric(client, candidateMv, p.metric);
    const current = currentMv === undefined ? undefined : currentMv.version === candidateMv.version ? candidate : await withMetric(client, currentMv, p.metric);
    const decision = decidePromotion({
        model: p.model,
        alias: p.alias,
        candidate,
        ...(current ? { current } : {}),
        metric: p.metric,
        maxRegression: p.maxRegression,
        force: p.force,
        ...(p.reason !== undefined ? { reason: p.reason } : {}),
    });
    switch (decision.action) {
        case "invalid":
            throw new UsageError(decision.message);
        case "refuse":
            io.stderr(`promote: ${decision.message}\n`);
            return 1;
        case "noop":
            io.stdout(`${decision.message}\n`);
            return 0;
        case "promote": {
            await client.setAlias(p.model, p.alias, p.version);
            const tags = promotionTags(decision, { user: p.user, now: now() });
            try {
                for (const [key, value] of Object.entries(tags)) await client.setModelVersionTag(p.model, p.version, key, value);
            } catch (e) {
                const msg = e instanceof Error ? e.message : String(e);
                throw new Error(`models:/${p.model}@${p.alias} now points at version ${p.version}, but writing its promotion tags failed: ${msg}`);
            }
            io.stdout(`${decision.message}\n`);
            return 0;
        }
    }
}

/** The version and its run's value of `metric` (undefined when the version has no run, the run is gone, or lacks it). */
async function withMetric(client: MlflowRegistryClient, mv: ModelVersion, metric: string): Promise<VersionMetric> {
    if (!mv.run_id) return { version: mv.version };
    let value: number | undefined;
    try {
        const run = await client.getRun(mv.run_id, { name: mv.name, version: mv.version });
        value = metricValue(run.data?.metrics?.find((m) => m.key === metric)?.value);
    } catch (e) {
        if (!(e instanceof RunNotFoundError)) throw e;
    }
    return value === undefined ? { version: mv.version } : { version: mv.version, value };
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
