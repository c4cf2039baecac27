/**
 * Low-level process helpers for the integration harness: run a command to completion, keep a
 * long-running service as a detached process group, and a process-wide cleanup registry so that
 * no server outlives the test process (async stop in the normal path, a synchronous kill on exit).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";

export interface CommandResult { code: number; stdout: string; stderr: string }

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the whole process group after this many ms and reject. Default: no limit. */
  timeoutMs?: number;
  input?: string;
}

/** Last `n` non-empty lines of `text`, for error messages. */
export function tail(text: string, n = 40): string {
  return text.split("\n").filter((l) => l.trim() !== "").slice(-n).join("\n");
}

/** Runs `cmd args` to completion and resolves with its exit code and output (never rejects on a non-zero exit). */
export function runCommand(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env, cwd: opts.cwd, detached: true, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGKILL");
    }, opts.timeoutMs);
    const untrack = trackChild(child);
    child.once("error", (err) => {
      if (timer) clearTimeout(timer);
      untrack();
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      untrack();
      if (timedOut) {
        reject(new Error(`${cmd} ${args.join(" ")} timed out after ${opts.timeoutMs} ms; last output:\n${tail(stdout + stderr)}`));
        return;
      }
      resolve({ code: code ?? (signal ? 128 + signalNumber(signal) : 1), stdout, stderr });
    });
    if (opts.input !== undefined) {
      child.stdin!.on("error", () => { /* EPIPE: the command exited without reading its input */ });
      child.stdin!.end(opts.input);
    }
  });
}

/** Like runCommand but rejects on a non-zero exit, naming the command and quoting its last output lines. */
export async function runChecked(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const r = await runCommand(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${r.code}:\n${tail(r.stdout + r.stderr)}`);
  }
  return r;
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** Sends `signal` to the child's whole process group (it was spawned detached, so it leads one). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

// ---- cleanup registry -------------------------------------------------------------------------

interface Cleanup { stop: () => Promise<void> | void; killSync?: () => void }
const cleanups = new Set<Cleanup>();
const children = new Set<ChildProcess>();

function trackChild(child: ChildProcess): () => void {
  children.add(child);
  return () => { children.delete(child); };
}

/**
 * Registers `stop` to run at stopAll() (reverse registration order). `killSync` is the last resort
 * run from the process 'exit' event, where nothing asynchronous can run. Returns an unregister function.
 */
export function registerCleanup(stop: () => Promise<void> | void, killSync?: () => void): () => void {
  const entry: Cleanup = { stop, killSync };
  cleanups.add(entry);
  return () => { cleanups.delete(entry); };
}

/** The last stdout line of a command that ends by printing its result as JSON (the trainer, batch_predict.py). */
export function lastJsonLine<T>(r: CommandResult, label: string): T {
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${label}: last stdout line is not JSON: ${line}\n${tail(r.stdout + r.stderr, 30)}`);
  }
}

/** A fresh directory `<tmpdir>/mlflow-it-<label>-XXXXXX`, removed at stopAll() and on exit. */
export function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mlflow-it-${label}-`));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  registerCleanup(remove, remove);
  return dir;
}

/** Runs every registered cleanup, newest first; errors are collected and reported together. */
export async function stopAll(): Promise<void> {
  const errors: string[] = [];
  for (const entry of [...cleanups].reverse()) {
    cleanups.delete(entry);
    try {
      await entry.stop();
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (errors.length > 0) throw new Error(`stopping test services failed:\n${errors.join("\n")}`);
}

/** Synchronous last resort for the 'exit' event: kill tracked commands and run every killSync. */
export function killAllSync(): void {
  for (const child of children) killGroup(child, "SIGKILL");
  for (const entry of [...cleanups].reverse()) {
    try { entry.killSync?.(); } catch { /* best effort while exiting */ }
  }
  cleanups.clear();
}

// ---- long-running services --------------------------------------------------------------------

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Combined stdout+stderr so far (the last 2 MiB). */
  output(): string;
  /** Resolves with the exit code/signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves once it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const MAX_OUTPUT = 2 * 1024 * 1024;

/** Spawns a long-running service as its own process group; it is registered for cleanup until stopped. */
export function spawnManaged(
  cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; /** removed once stopped */ tempDir?: string } = {},
): ManagedProcess {
  const removeTemp = () => { if (opts.tempDir) fs.rmSync(opts.tempDir, { recursive: true, force: true }); };
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const append = (d: string) => {
    out += d;
    if (out.length > MAX_OUTPUT) out = out.slice(out.length - MAX_OUTPUT);
  };
  child.stdout!.setEncoding("utf8").on("data", append);
  child.stderr!.setEncoding("utf8").on("data", append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err) => { append(`\n[spawn error] ${err.message}\n`); resolve({ code: null, signal: null }); });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      // Children of the service (e.g. uvicorn workers) may outlive the leader briefly.
      try { if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL"); } catch { /* group gone */ }
      unregister();
      removeTemp();
    })();
    return stopping;
  };
  const unregister = registerCleanup(() => stop(), () => {
    if (child.pid !== undefined) { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }
    removeTemp();
  });
  return { child, output: () => out, exited, stop };
}

/**
 * Waits until GET `url` answers 200. On timeout or an early exit of `proc`, stops it and throws with
 * `label` and the process's last output.
 */
export async function waitForHttp200(proc: ManagedProcess, url: string, timeoutMs: number, label: string): Promise<void> {
  let exit: string | undefined;
  void proc.exited.then(({ code, signal }) => { exit = `exited with ${code ?? signal}`; });
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (exit !== undefined || Date.now() > deadline) {
      const why = exit ?? `gave no 200 from ${url} within ${timeoutMs / 1000} s (last: ${last})`;
      await proc.stop();
      throw new Error(`${label} ${why}; last output:\n${tail(proc.output(), 40)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** GET with an explicit Host header (fetch cannot set Host). */
export function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "GET", headers: { Host: host }, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => { body += d; }).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} (Host: ${host}) timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** A test's step log on stderr (`[tag] …`) and a timer that logs how long a step took. */
export function stepLog(tag: string): { log(msg: string): void; timed<T>(label: string, f: () => Promise<T>): Promise<T> } {
  const log = (msg: string) => { process.stderr.write(`      [${tag}] ${msg}\n`); };
  return {
    log,
    async timed<T>(label: string, f: () => Promise<T>): Promise<T> {
      const t0 = Date.now();
      try {
        return await f();
      } finally {
        log(`${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
    },
  };
}

let hooksInstalled = false;

/**
 * On SIGINT/SIGTERM: `stop()` (every registered cleanup), then exit with 128+signal; a hard stop after 20 s. On
 * exit: the synchronous last resort (killAllSync), which also puts a real node's host back. Idempotent.
 */
export function installExitHooks(tag: string, stop: () => Promise<void> = stopAll): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  let signalled = false;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      if (signalled) return;
      signalled = true;
      process.stderr.write(`\n[${tag}] ${signal}: stopping test services\n`);
      const hardStop = setTimeout(() => { killAllSync(); process.exit(code); }, 20_000);
      stop().catch((err: unknown) => process.stderr.write(`${String(err)}\n`)).finally(() => {
        clearTimeout(hardStop);
        process.exit(code);
      });
    });
  }
  process.once("exit", () => killAllSync());
}
