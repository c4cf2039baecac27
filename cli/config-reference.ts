/**
 * `npx tsx cli/config-reference.ts [--check]`: writes docs/config-reference.md from the config spec
 * (config.ts), or with --check exits 1 when the file is out of date.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { configSpec, PROJECT } from "../config";
import { projectRoot } from "../lib/paths";
import { referenceRows } from "../lib/schema";

export function configReference(): string {
    const rows = referenceRows(configSpec, PROJECT).slice(1);
    const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
    return [
        "# Configuration reference",
        "",
        "Generated from `config.ts` by `npx tsx cli/config-reference.ts`; a unit test fails when it is out of date.",
        "Every key is in the project namespace: set nested keys with `pulumi config set --path 'database.mode' rds`,",
        "or in `Pulumi.<stack>.yaml`. Unknown keys are errors (with a did-you-mean).",
        "",
        "| key | type | default | description |",
        "| --- | --- | --- | --- |",
        ...rows.map((r) => `| \`${r.key.replace(`${PROJECT}.`, `${PROJECT}:`)}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`),
        "",
    ].join("\n");
}

export const REFERENCE_PATH = path.join("docs", "config-reference.md");

if (require.main === module) {
    const file = path.join(projectRoot(), REFERENCE_PATH);
    const text = configReference();
    if (process.argv.includes("--check")) {
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (current !== text) {
            process.stderr.write(`${REFERENCE_PATH} is out of date: run npx tsx cli/config-reference.ts\n`);
            process.exit(1);
        }
    } else {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        process.stderr.write(`wrote ${REFERENCE_PATH}\n`);
    }
}
