/**
 * `npm run resolve-model -- --tracking-uri <url> models:/<name>@<alias>` (or `models:/<name>/<version>`)
 * prints the s3:// storage URI KServe would load; `--json` prints { name, version, alias, runId, source, storageUri }.
 * Exit 0 on success, 2 on bad arguments, 1 when the registry lookup or the artifact check fails; one line on stderr.
 */
import { MlflowRegistryClient, authFromEnv } from "../lib/registry/client";
import { verifyArtifact } from "../lib/registry/artifact-check";
import { RegistryError } from "../lib/registry/errors";
import { resolveModel, type ResolveTarget } from "../lib/registry/resolver";
import { parseModelUri, validateAllowedPrefixes } from "../lib/registry/uri";
import { formatUsage, parseArgs, UsageError, type ArgSpec } from "./args";

/** Where a CLI writes, and the environment it reads (tests pass their own). */
export interface CliIo {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
};

const SPEC = {
    "tracking-uri": { type: "string", description: "MLflow tracking server URL (default $MLFLOW_TRACKING_URI)" },
    json: { type: "boolean", description: "print { name, version, alias, runId, source, storageUri }" },
    "artifacts-destination": { type: "string", description: "the server's --artifacts-destination, maps mlflow-artifacts:/ to s3://" },
    "allow-prefix": { type: "string", multiple: true, description: "s3:// prefix the result must be inside (repeatable; default any s3://)" },
    verify: { type: "boolean", description: "check that <storageUri>/MLmodel exists in S3" },
    "s3-endpoint": { type: "string", description: "S3 endpoint for --verify (default $AWS_ENDPOINT_URL_S3)" },
    help: { type: "boolean", description: "show usage" },
} as const satisfies ArgSpec;

const USAGE = formatUsage("npm run resolve-model --", SPEC, "models:/<name>@<alias>|models:/<name>/<version>");

/** Bad input detected before any lookup: exit 2. */
const ARGUMENT_CODES = new Set(["INVALID_URI", "INVALID_TARGET"]);

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
    try {
        const args = parseArgs(argv, SPEC, { positionals: { max: 1, name: "model URI" } });
        if (args.values.help) {
            io.stdout(`${USAGE}\n`);
            return 0;
        }
        const modelUri = args.positionals[0];
        if (modelUri === undefined) throw new UsageError(`missing model URI; ${USAGE}`);
        const ref = parseModelUri(modelUri);
        const allowedPrefixes = args.values["allow-prefix"];
        validateAllowedPrefixes(allowedPrefixes);
        const artifactsDestination = args.values["artifacts-destination"];
        if (artifactsDestination !== undefined && !artifactsDestination.startsWith("s3://")) {
            throw new UsageError(`--artifacts-destination "${artifactsDestination}" must be an s3:// URI`);
        }

        let target: ResolveTarget;
        let client: MlflowRegistryClient | undefined;
        if (ref.kind === "storageUri") {
            target = { servedName: ref.uri, registeredModel: "", storageUri: ref.uri };
        } else {
            client = makeClient(args.values["tracking-uri"], io.env);
            target =
                ref.kind === "alias"
                    ? { servedName: ref.name, registeredModel: ref.name, alias: ref.alias }
                    : { servedName: ref.name, registeredModel: ref.name, version: ref.version };
        }

        const resolved = await resolveModel(
            client ?? { registry: "(none)", getModelVersionByAlias: unused, getModelVersion: unused, getDownloadUri: unused },
            target,
            { allowedPrefixes, ...(artifactsDestination ? { artifactsDestination } : {}) },
        );
        if (args.values.verify) {
            const endpoint = args.values["s3-endpoint"];
            const label = ref.kind === "storageUri" ? ref.uri : modelUri;
            await verifyArtifact(resolved.storageUri, { label, env: io.env, ...(endpoint ? { endpoint } : {}) });
        }
        if (args.values.json) {
            const { name, version, alias, runId, source, storageUri } = resolved;
            const record = { name: ref.kind === "storageUri" ? null : name, version: version ?? null, alias: alias ?? null, runId: runId ?? null, source: source ?? null, storageUri };
            io.stdout(`${JSON.stringify(record)}\n`);
        } else {
            io.stdout(`${resolved.storageUri}\n`);
        }
        return 0;
    } catch (err) {
        return reportError("resolve-model", err, io);
    }
}

/** Client from --tracking-uri or $MLFLOW_TRACKING_URI, credentials from MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN. */
export function makeClient(flag: string | undefined, env: NodeJS.ProcessEnv): MlflowRegistryClient {
    const trackingUri = flag ?? env.MLFLOW_TRACKING_URI;
    if (!trackingUri) throw new UsageError("missing --tracking-uri (or set MLFLOW_TRACKING_URI)");
    try {
        return new MlflowRegistryClient({ trackingUri, auth: authFromEnv(env) });
    } catch (e) {
        if (e instanceof RegistryError && flag === undefined) throw new UsageError(`MLFLOW_TRACKING_URI: ${e.message}`);
        throw e;
    }
}

/** One line on stderr; 2 for bad arguments, 1 for everything else. */
export function reportError(command: string, err: unknown, io: CliIo): number {
    const argumentError = err instanceof UsageError || (err instanceof RegistryError && ARGUMENT_CODES.has(err.code));
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`${command}: ${message.replace(/\s+/g, " ").trim()}\n`);
    return argumentError ? 2 : 1;
}

function unused(): never {
    throw new Error("a pinned s3:// URI needs no registry lookup");
}

if (require.main === module) {
    // the SDK's Node-version notice would break the one-line stderr contract
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    void main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
