/**
 * The policy pack over a stack's offline render, as `npm run render` writes it and `npm run policy -- --dir`
 * reads it: the render (with `sets`), optional edits of its resources.json and outputs.json, then the CLI's main.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main as policyMain } from "../../cli/policy";
import { writeRender } from "../../cli/render";
import { render } from "./render";

export interface PolicyRun {
    readonly code: number;
    readonly lines: string[];
}

export async function policyOn(
    stack: string,
    opts: {
        readonly sets?: readonly string[];
        readonly edit?: (resources: { type: string; inputs: Record<string, unknown> }[]) => void;
        readonly editOutputs?: (outputs: Record<string, unknown>) => void;
    } = {},
): Promise<PolicyRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `policy-${stack}-`));
    try {
        writeRender(await render(stack, opts.sets ?? []), dir);
        for (const [name, fn] of [["resources.json", opts.edit], ["outputs.json", opts.editOutputs]] as const) {
            if (!fn) continue;
            const file = path.join(dir, name);
            const json = JSON.parse(fs.readFileSync(file, "utf8"));
            fn(json);
            fs.writeFileSync(file, JSON.stringify(json));
        }
        const lines: string[] = [];
        const code = await policyMain(["--dir", dir], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
        return { code, lines };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
