/**
 * Cached Python virtual environments built from the project's pinned requirements files.
 *
 * A venv lives at `<cache>/<name>-<hash12>.<suffix>` and is published by atomically renaming a
 * symlink `<cache>/<name>-<hash12>` onto it once pip has finished (venvs are not relocatable: their
 * console scripts carry the absolute interpreter path, so the directory itself is never moved).
 * hash12 = first 12 hex chars of sha256(python version + requirements file content).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runChecked } from "./process";
import { REPO_ROOT } from "./toolchain";

export type VenvName = "mlflow" | "mlflow-previous" | "trainer" | "serving" | "pytest" | "tools";

export interface Venv {
  /** The venv directory (real path). */
  dir: string;
  /** Absolute path of the venv's python. */
  python: string;
  /** Absolute path of a console script installed in the venv, e.g. bin("mlflow"). */
  bin(tool: string): string;
}

/** The checkout (found by its Pulumi.yaml, so also from the compiled bin/testbed). */
export { REPO_ROOT };

const REQUIREMENTS: Record<VenvName, string> = {
  mlflow: "images/mlflow/requirements.txt",
  "mlflow-previous": "test/integration/mlflow-previous-requirements.txt",
  trainer: "images/trainer/requirements.txt",
  serving: "images/serving/requirements.txt",
  pytest: "test/python/requirements.txt",
  tools: "test/integration/requirements.txt",
};

export const VENV_NAMES = Object.keys(REQUIREMENTS) as VenvName[];

export function isVenvName(name: string): name is VenvName {
  return Object.prototype.hasOwnProperty.call(REQUIREMENTS, name);
}

/** Absolute path of the requirements file behind a venv. */
export function requirementsFile(name: VenvName): string {
  return path.join(REPO_ROOT, REQUIREMENTS[name]);
}

/** `$MLFLOW_PLATFORM_VENV_CACHE`, else `~/.cache/mlflow-platform/venvs`. */
export function venvCacheRoot(): string {
  return process.env.MLFLOW_PLATFORM_VENV_CACHE || path.join(os.homedir(), ".cache", "mlflow-platform", "venvs");
}

/** Base interpreter: `$MLFLOW_PLATFORM_PYTHON`, else `python3` on PATH. */
function basePython(): string {
  return process.env.MLFLOW_PLATFORM_PYTHON || "python3";
}

function venvFromDir(dir: string): Venv {
  return { dir, python: path.join(dir, "bin", "python"), bin: (tool) => path.join(dir, "bin", tool) };
}

const memo = new Map<VenvName, Promise<Venv>>();

/** Returns the venv for `name`, building it (once per process, cached across processes) when needed. */
export function ensureVenv(name: VenvName): Promise<Venv> {
  if (!isVenvName(name)) {
    return Promise.reject(new Error(`ensureVenv: unknown venv "${String(name)}"; valid: ${VENV_NAMES.join(", ")}`));
  }
  let p = memo.get(name);
  if (!p) {
    p = build(name);
    p.catch(() => memo.delete(name));
    memo.set(name, p);
  }
  return p;
}

/** A requirements file with its `-r` includes inlined, so the cache key changes when an included file does. */
function requirementsText(file: string, seen = new Set<string>()): string {
  if (seen.has(file)) return "";
  seen.add(file);
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .map((line) => {
      const m = /^\s*-r\s+(\S+)/.exec(line);
      return m ? requirementsText(path.resolve(path.dirname(file), m[1]), seen) : line;
    })
    .join("\n");
}

async function build(name: VenvName): Promise<Venv> {
  const reqFile = requirementsFile(name);
  if (!fs.existsSync(reqFile)) {
    throw new Error(`ensureVenv("${name}"): requirements file ${path.relative(REPO_ROOT, reqFile)} does not exist yet`);
  }
  const requirements = requirementsText(reqFile);
  const python = basePython();
  const version = (await runChecked(python, ["-c", "import sys, platform; print(sys.version, platform.machine())"])).stdout.trim();
  const hash12 = createHash("sha256").update(version).update("\0").update(requirements).digest("hex").slice(0, 12);

  const root = venvCacheRoot();
  const link = path.join(root, `${name}-${hash12}`);
  const ready = readyDir(link);
  if (ready) return venvFromDir(ready);

  fs.mkdirSync(root, { recursive: true });
  // One builder per venv across processes: others wait for its result instead of building too.
  const release = await acquireLock(`${link}.lock`, () => readyDir(link) !== undefined);
  if (!release) return venvFromDir(readyDir(link)!);
  try {
    return await buildUnlocked(name, python, version, reqFile, link);
  } finally {
    release();
  }
}

async function buildUnlocked(name: VenvName, python: string, version: string, reqFile: string, link: string): Promise<Venv> {
  const ready = readyDir(link);
  if (ready) return venvFromDir(ready);
  const started = Date.now();
  const dir = fs.mkdtempSync(`${link}.`);
  try {
    await runChecked(python, ["-m", "venv", dir]);
    await runChecked(path.join(dir, "bin", "python"), [
      "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-input", "-r", reqFile,
    ], { env: { ...process.env, PIP_NO_INPUT: "1" } });
    fs.writeFileSync(path.join(dir, ".complete"), `${version}\n`);
    // Publish: rename a fresh symlink over the final name (atomic; a racing builder's result also works).
    const tmpLink = `${dir}.link`;
    fs.symlinkSync(path.basename(dir), tmpLink);
    fs.renameSync(tmpLink, link);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`building venv "${name}" from ${path.relative(REPO_ROOT, reqFile)} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`[venv] built "${name}" (${path.relative(REPO_ROOT, reqFile)}) at ${link} in ${secs} s\n`);
  return venvFromDir(readyDir(link) ?? dir);
}

/** The real directory behind a published venv link, if it is complete; else undefined. */
function readyDir(link: string): string | undefined {
  try {
    const real = fs.realpathSync(link);
    return fs.existsSync(path.join(real, ".complete")) && fs.existsSync(path.join(real, "bin", "python")) ? real : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `lockPath` (O_EXCL file holding our pid) and resolves with a release function, or resolves
 * undefined as soon as `done()` holds while another live process owns the lock. A lock whose owner
 * is gone is taken over.
 */
async function acquireLock(lockPath: string, done: () => boolean): Promise<(() => void) | undefined> {
  const deadline = Date.now() + 60 * 60_000;
  for (;;) {
    try {
      const fd = fs.openSync(lockPath, "wx");
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (done()) return undefined;
    let owner: number;
    let ageMs: number;
    try {
      owner = Number(fs.readFileSync(lockPath, "utf8").trim());
      ageMs = Date.now() - fs.statSync(lockPath).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // An empty lock file is one being written right now, unless it has been empty for a while.
    const stale = Number.isInteger(owner) && owner > 0 ? !isAlive(owner) : ageMs > 30_000;
    if (stale) {
      fs.rmSync(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`venv lock ${lockPath} still held by pid ${owner} after 60 min`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
