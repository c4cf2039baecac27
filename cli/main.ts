#!/usr/bin/env node
/**
 * `mlflow-platform <command> [options]`: one entry point for the CLIs (package.json "bin"), the same
 * commands as the npm scripts.
 */
// The AWS SDK warns on every start that Node 20 support ends; the CLIs print one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const COMMANDS: Record<string, { summary: string; load: () => { main(argv: string[]): Promise<number> } }> = {
    render: { summary: "run the program under mocks and write the render", load: () => require("./render") },
    diff: { summary: "what a config change adds, removes and changes", load: () => require("./diff") },
    policy: { summary: "the policy pack over a render directory", load: () => require("./policy") },
    "resolve-model": { summary: "models:/<name>@<alias> → storage URI", load: () => require("./resolve-model") },
    promote: { summary: "point an alias at a model version", load: () => require("./promote") },
    bench: { summary: "the performance budget", load: () => require("./bench") },
    testbed: { summary: "this project's own cluster with a real node (root), until Ctrl-C", load: () => require("./testbed") },
};

export async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    const entry = command === undefined ? undefined : COMMANDS[command];
    if (!entry) {
        const list = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`).join("\n");
        process.stderr.write(`${command && command !== "--help" ? `unknown command "${command}"\n` : ""}usage: mlflow-platform <command> [options]\n${list}\n`);
        return command === "--help" ? 0 : 2;
    }
    return entry.load().main(rest);
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
