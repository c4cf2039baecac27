/**
 * `npm run diff -- --from <stack> --to <stack> [--set <path>=<value>]... [--json] [--mlflow-uri <url>]`
 * Renders both stacks offline (the --sets apply to the --to side) and prints what would be added, removed
 * and changed; each changed Kubernetes object as an update or a replace, with the fields that force the
 * replacement (lib/replace-fields.ts). Exit 0, 2 on invalid config or arguments, 3 when a registry lookup
 * fails.
 */
import { diffRenders, formatDiff } from "../lib/diff";
import { projectRoot } from "../lib/paths";
import { renderStack } from "../lib/render";
import { providerFlagsFrom } from "../lib/replace-fields";
import { loadStackConfig } from "../lib/stack-config";
import { parseArgs } from "./args";
import { guarded } from "./render";
// The AWS SDK warns on every start that Node 20 support ends; the CLIs print one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";


export async function main(argv: string[]): Promise<number> {
    return guarded("diff", async () => {
        const args = parseArgs(argv, {
            from: { type: "string", required: true, description: "stack before the change" },
            to: { type: "string", required: true, description: "stack after the change" },
            set: { type: "string", multiple: true, description: "config override <path>=<value> for the --to side" },
            json: { type: "boolean", description: "print JSON" },
            "mlflow-uri": { type: "string", description: "registry URI for model lookups (both sides)" },
        });
        const root = projectRoot();
        const mlflowUri = args.values["mlflow-uri"] as string | undefined;
        const from = await renderStack({ root, stack: args.values.from as string, mlflowUri });
        const to = await renderStack({ root, stack: args.values.to as string, sets: args.values.set as string[], mlflowUri });
        // The provider's kubernetes:enableSecretMutable / enableConfigMapMutable of the --to side (unset here: off).
        const providerFlags = providerFlagsFrom(loadStackConfig(root, args.values.to as string, (args.values.set as string[] | undefined) ?? []).values);
        const d = diffRenders(from.resources, to.resources, { providerFlags });
        process.stdout.write(args.values.json ? `${JSON.stringify(d, null, 2)}\n` : `${formatDiff(d)}\n`);
        return 0;
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
