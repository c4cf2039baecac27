/**
 * `npm run promote -- --tracking-uri <url> --model <name> --version <n> [--alias production]` points the alias
 * at the version and prints one line. Exit 0 on success, 2 on bad arguments, 1 when the registry fails.
 */
import { isRegistryError } from "../components/registry/errors";
import { formatUsage, parseArgs, UsageError, type ArgSpec } from "./args";
import { makeClient, processIo, reportError, type CliIo } from "./resolve-model";

const SPEC = {
    "tracking-uri": { type: "string", description: "MLflow tracking server URL (default $MLFLOW_TRACKING_URI)" },
    model: { type: "string", required: true, description: "registered model name" },
    version: { type: "string", required: true, description: "model version number" },
    alias: { type: "string", default: "production", description: "alias to set (default production)" },
    help: { type: "boolean", description: "show usage" },
} as const satisfies ArgSpec;

const USAGE = formatUsage("npm run promote --", SPEC);

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
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
        const client = makeClient(values["tracking-uri"], io.env);

        let previous: string | undefined;
        try {
            previous = (await client.getModelVersionByAlias(model, alias)).version;
        } catch (e) {
            if (!isRegistryError(e, "ALIAS_NOT_FOUND")) throw e;
        }
        await client.setAlias(model, alias, version);
        const was = previous === undefined ? "was unset" : previous === version ? "unchanged" : `was version ${previous}`;
        io.stdout(`models:/${model}@${alias} → version ${version} (${was}) at ${client.registry}\n`);
        return 0;
    } catch (err) {
        return reportError("promote", err, io);
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
