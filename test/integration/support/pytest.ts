/**
 * `npm run test:python`: the trainer's pytest suite (test/python) in its cached venv
 * (test/python/requirements.txt = the trainer's pins + pytest + moto).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ensureVenv } from "../../../testbed/venv";

async function main(): Promise<number> {
    const venv = await ensureVenv("pytest");
    const root = path.resolve(__dirname, "..", "..", "..");
    const r = spawnSync(venv.python, ["-m", "pytest", "test/python", ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
    return r.status ?? 1;
}

main().then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(`test:python: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
    },
);
