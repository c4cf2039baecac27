/**
 * The images a test runs, from images/build.sh: the project's own and the stand-ins of the official images the
 * local stack names (PostgreSQL, MinIO, mc). build.sh caches each by a hash of its inputs, so a call on a warm
 * machine takes seconds; it writes images.json (reference and OCI archive of each) in its cache.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCommand, tail } from "./process";
import { REPO_ROOT } from "./toolchain";

export interface BuiltImage { readonly ref: string; readonly refs: readonly string[]; readonly inputs: string; readonly archive: string }

/** `$MLFLOW_PLATFORM_IMAGE_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/mlflow-platform/images` (as images/build.sh). */
export function imageCacheRoot(): string {
  return process.env.MLFLOW_PLATFORM_IMAGE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "mlflow-platform", "images");
}

let built: Promise<Record<string, BuiltImage>> | undefined;

/** Runs images/build.sh once per process (builds what is missing) and returns images.json, checking `names` are in it. */
export function ensureImages<N extends string>(names: readonly N[]): Promise<Record<N, BuiltImage>> {
  built ??= (async () => {
    const t0 = Date.now();
    const r = await runCommand("bash", [path.join(REPO_ROOT, "images", "build.sh")], { env: process.env, timeoutMs: 75 * 60_000 });
    if (r.code !== 0) throw new Error(`images/build.sh exited ${r.code}:\n${tail(r.stdout + r.stderr, 40)}`);
    process.stderr.write(`      [images] images/build.sh: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return JSON.parse(fs.readFileSync(path.join(imageCacheRoot(), "images.json"), "utf8")) as Record<string, BuiltImage>;
  })().catch((err: unknown) => { built = undefined; throw err; });
  return built.then((index) => {
    for (const n of names) {
      if (!index[n]) throw new Error(`images.json has no ${n} (images/build.sh builds: ${Object.keys(index).join(", ")})`);
      if (!fs.existsSync(index[n].archive)) throw new Error(`${n}: ${index[n].archive} is missing: run images/build.sh`);
    }
    return index as Record<N, BuiltImage>;
  });
}
