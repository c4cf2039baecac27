/**
 * PostgreSQL 16's client tools on this machine, for scripts/restore-database.sh (PG_BIN) and psql against the
 * in-cluster database: Debian bookworm ships 15 only, whose pg_restore cannot read a 16 dump. They are taken
 * from the PostgreSQL stand-in image images/build.sh built (its /usr/lib/postgresql/16, built on bookworm
 * against the host's own libraries), once per process.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { registerCleanup, runCommand } from "../../../testbed/process";
import { engineEnv } from "../../../testbed/podman";

const IMAGE = "docker.io/library/postgres:16.10";
let extracted: Promise<string> | undefined;

/** The bin directory of PostgreSQL 16 (psql, pg_restore, pg_dump …). */
export function postgresBinaries(): Promise<string> {
  extracted ??= (async () => {
    const env = { ...process.env, ...engineEnv() };
    const m = await runCommand("podman", ["image", "mount", IMAGE], { env });
    if (m.code !== 0) throw new Error(`podman image mount ${IMAGE}: ${m.stderr.trim()} (run images/build.sh)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-pg16-"));
    registerCleanup(() => fs.rmSync(dir, { recursive: true, force: true }), () => fs.rmSync(dir, { recursive: true, force: true }));
    try {
      fs.cpSync(path.join(m.stdout.trim(), "usr", "lib", "postgresql", "16"), path.join(dir, "16"), { recursive: true, verbatimSymlinks: true });
    } finally {
      await runCommand("podman", ["image", "unmount", IMAGE], { env });
    }
    const bin = path.join(dir, "16", "bin");
    const v = await runCommand(path.join(bin, "pg_restore"), ["--version"]);
    if (v.code !== 0 || !/ 16\./.test(v.stdout)) throw new Error(`pg_restore of ${IMAGE} does not run here: ${v.stdout}${v.stderr}`);
    return bin;
  })().catch((err: unknown) => { extracted = undefined; throw err; });
  return extracted;
}
