/**
 * Builds the integration-test venvs up front so their install time shows on its own:
 *   npx tsx test/integration/support/prepare.ts [mlflow|trainer|tools ...]   (default: all)
 * A venv whose requirements file does not exist yet is skipped with a note.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT, VENV_NAMES, ensureVenv, isVenvName, requirementsFile } from "../../../testbed/venv";

async function main(argv: string[]): Promise<number> {
  const bad = argv.filter((n) => !isVenvName(n));
  if (bad.length > 0) {
    process.stderr.write(`prepare: unknown venv ${bad.map((b) => `"${b}"`).join(", ")}; valid: ${VENV_NAMES.join(", ")}\n`);
    return 2;
  }
  const names = argv.length > 0 ? argv.filter(isVenvName) : VENV_NAMES;
  for (const name of names) {
    const req = path.relative(REPO_ROOT, requirementsFile(name));
    if (!fs.existsSync(requirementsFile(name))) {
      process.stdout.write(`prepare: skip venv "${name}": ${req} does not exist yet\n`);
      continue;
    }
    const started = Date.now();
    const venv = await ensureVenv(name);
    process.stdout.write(`prepare: venv "${name}" ready at ${venv.dir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`prepare: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
