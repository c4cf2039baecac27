/**
 * `npm run render -- --stack <stack> [--out <dir>] [--set <path>=<value>]... [--mlflow-uri <url>]`
 * Runs the program under Pulumi's mocks and writes kubernetes.yaml, resources.json and outputs.json.
 * Exit 0 on success, 2 on invalid config or arguments, 3 when a registry lookup fails, 1 otherwise.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { ConfigError } from "../config";
import { projectRoot } from "../lib/paths";
import { renderStack, RenderResult } from "../lib/render";
import { parseArgs, UsageError } from "./args";
// The AWS SDK warns on every start that Node 20 support ends; the CLIs print one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";


export function writeRender(result: RenderResult, outDir: string): void {
    fs.mkdirSync(outDir, { recursive: true });
    const yaml = result.kubernetes.map((o) => YAML.stringify(o, { lineWidth: 0, sortMapEntries: false })).join("---\n");
    fs.writeFileSync(path.join(outDir, "kubernetes.yaml"), yaml);
    fs.writeFileSync(path.join(outDir, "resources.json"), `${JSON.stringify(result.resources, null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, "outputs.json"), `${JSON.stringify(result.outputs, null, 2)}\n`);
}

/** Maps an error to the CLIs' exit code and one message: 2 invalid config or arguments, 3 registry lookup, 1 else. */
export function exitCodeOf(err: unknown): { code: number; message: string } {
    if (err instanceof ConfigError || (err instanceof Error && err.name === "ConfigError")) return { code: 2, message: err.message };
    if (err instanceof UsageError) return { code: 2, message: err.message };
    if (err instanceof Error && err.name === "RegistryError") return { code: 3, message: err.message };
    return { code: 1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/** Runs a CLI body; a thrown error becomes its exit code and one `<name>: <message>` line on stderr. */
export async function guarded(name: string, body: () => Promise<number>): Promise<number> {
    try {
        return await body();
    } catch (err) {
        const { code, message } = exitCodeOf(err);
        process.stderr.write(`${name}: ${message}\n`);
        return code;
    }
}

export async function main(argv: string[]): Promise<number> {
    return guarded("render", async () => {
        const args = parseArgs(argv, {
            stack: { type: "string", required: true, description: "stack to render (Pulumi.<stack>.yaml)" },
            out: { type: "string", description: "output folder (default rendered/<stack>)" },
            set: { type: "string", multiple: true, description: "config override <path>=<value>" },
            "mlflow-uri": { type: "string", description: "registry URI for model lookups" },
        });
        const root = projectRoot();
        const stack = args.values.stack as string;
        const started = Date.now();
        const result = await renderStack({ root, stack, sets: (args.values.set as string[] | undefined) ?? [], mlflowUri: args.values["mlflow-uri"] as string | undefined });
        const outDir = path.resolve((args.values.out as string | undefined) ?? path.join(root, "rendered", stack));
        writeRender(result, outDir);
        process.stderr.write(`rendered ${stack}: ${result.resources.length} resources, ${result.kubernetes.length} Kubernetes objects → ${path.relative(process.cwd(), outDir) || "."} (${Date.now() - started} ms)\n`);
        return 0;
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
