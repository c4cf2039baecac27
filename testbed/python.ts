/** Runs a Python script with one of the project venvs' interpreters. */
import { runCommand } from "./process";
import { ensureVenv, type VenvName } from "./venv";

export interface RunPythonOptions {
  args?: string[];
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Default 10 minutes; on expiry the process group is killed and the promise rejects. */
  timeoutMs?: number;
}

/** Resolves with the exit code and output; a non-zero exit does not reject (the caller asserts). */
export async function runPython(venv: VenvName, scriptPath: string, opts: RunPythonOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const v = await ensureVenv(venv);
  return runCommand(v.python, [scriptPath, ...(opts.args ?? [])], {
    env: { ...process.env, PYTHONUNBUFFERED: "1", ...opts.env },
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 600_000,
  });
}
