/** A real MLflow tracking server process on 127.0.0.1, started from one of the project venvs. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { spawnManaged, waitForHttp200 } from "./process";
import { ensureVenv, type VenvName } from "./venv";

export interface MlflowServer {
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
}

export interface StartMlflowOptions {
  /** Arguments after the executable, e.g. mlflowServerArgs(port, ["--backend-store-uri", url]). */
  args: string[];
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Default "mlflow". */
  venv?: VenvName;
  /** Console script in the venv's bin/; default "mlflow". */
  executable?: string;
  /** Port the server listens on; default: the value of --port/-p in args, else a free port appended as `--port N`. */
  port?: number;
  /** How long to wait for GET /health == 200; default $MLFLOW_IT_HEALTH_TIMEOUT_MS, else 120 s. */
  healthTimeoutMs?: number;
}

/** `server --host 127.0.0.1 --port <port> ...extra` */
export function mlflowServerArgs(port: number, extra: readonly string[] = []): string[] {
  return ["server", "--host", "127.0.0.1", "--port", String(port), ...extra];
}

function portFromArgs(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = a === "--port" || a === "-p" ? args[i + 1] : a.startsWith("--port=") ? a.slice(7) : undefined;
    if (v !== undefined) {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`startMlflowServer: invalid --port value "${v}"`);
      return n;
    }
  }
  return undefined;
}

export async function startMlflowServer(opts: StartMlflowOptions): Promise<MlflowServer> {
  const venv = await ensureVenv(opts.venv ?? "mlflow");
  const exe = venv.bin(opts.executable ?? "mlflow");
  if (!fs.existsSync(exe)) throw new Error(`startMlflowServer: ${exe} does not exist in venv "${opts.venv ?? "mlflow"}"`);
  const args = [...opts.args];
  let port = opts.port ?? portFromArgs(args);
  if (port === undefined) {
    port = await freePort();
    args.push("--port", String(port));
  }
  const url = `http://127.0.0.1:${port}`;
  // Own working dir: a server started without explicit stores writes ./mlruns, ./mlartifacts there.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-it-server-"));
  // uvicorn's supervisor kills a worker that misses a 5 s ping; on a busy 2-core test machine a
  // worker serving its first (import-heavy) request can miss it, so the harness allows 60 s.
  // Job execution off as in the rendered Deployment: four fewer processes per server on a 2-core machine.
  const env = { ...process.env, PYTHONUNBUFFERED: "1", UVICORN_TIMEOUT_WORKER_HEALTHCHECK: "60", MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false", ...opts.env };
  const proc = spawnManaged(exe, args, { cwd, tempDir: cwd, env });
  const stop = () => proc.stop();

  const timeoutMs = opts.healthTimeoutMs ?? (Number(process.env.MLFLOW_IT_HEALTH_TIMEOUT_MS) || 120_000);
  await waitForHttp200(proc, `${url}/health`, timeoutMs, `MLflow server (${path.basename(exe)} ${args.join(" ")})`);
  return { url, port, stop, output: proc.output };
}

/** GET `<base>/api/2.0/mlflow/<apiPath>?<query>` as JSON; throws naming the URL unless it answers 200. */
export async function getJson<T>(base: string, apiPath: string, query: Record<string, string>): Promise<T> {
  const url = `${base}/api/2.0/mlflow/${apiPath}?${new URLSearchParams(query).toString()}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} -> HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}
