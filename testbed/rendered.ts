/**
 * Rendered Kubernetes containers as local processes: the container's command/args/env from a render, with
 * only what cannot exist outside a cluster substituted (listen host/port, mount paths, Secret-backed values,
 * in-cluster endpoints) and every substitution named by the caller. Anything else stays as rendered; a
 * substitution that does not match the render is an error, so a changed manifest fails loudly instead of
 * being silently overridden.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { KubernetesObject, RenderResult } from "../lib/render";
import { SECRET_PLACEHOLDER } from "../lib/render";
import * as assert from "node:assert/strict";
import { getWithHost, spawnManaged, runCommand, waitForHttp200, type CommandResult, type ManagedProcess } from "./process";

export interface RenderedEnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string }; [k: string]: unknown };
}

export interface RenderedContainer {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: RenderedEnvVar[];
}

/** The one object of `kind` whose name equals `name` (or matches it, for names with a generated suffix). */
export function findRendered(r: RenderResult, kind: string, name: string | RegExp): KubernetesObject {
  const hits = r.kubernetes.filter((o) => o.kind === kind && (typeof name === "string" ? o.metadata.name === name : name.test(o.metadata.name ?? "")));
  if (hits.length !== 1) {
    const have = r.kubernetes.filter((o) => o.kind === kind).map((o) => o.metadata.name).join(", ") || "none";
    throw new Error(`render of stack "${r.stack}": expected one ${kind} ${String(name)}, found ${hits.length} (${kind}s: ${have})`);
  }
  return hits[0];
}

/** The containers of a Deployment, Job, CronJob, StatefulSet or ClusterServingRuntime. */
export function renderedContainers(o: KubernetesObject): RenderedContainer[] {
  // Walking untyped rendered JSON: the shape is checked by the lookups below.
  const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = o.kind === "CronJob" ? spec?.jobTemplate?.spec?.template?.spec
    : o.kind === "ClusterServingRuntime" || o.kind === "ServingRuntime" ? spec
    : spec?.template?.spec;
  const containers = pod?.containers as RenderedContainer[] | undefined;
  if (!Array.isArray(containers) || containers.length === 0) throw new Error(`${o.kind}/${o.metadata.name} has no containers`);
  return containers;
}

/** The container named `name` (default: the only one). */
export function renderedContainer(o: KubernetesObject, name?: string): RenderedContainer {
  const all = renderedContainers(o);
  const hits = name === undefined ? all : all.filter((c) => c.name === name);
  if (hits.length !== 1) throw new Error(`${o.kind}/${o.metadata.name}: expected one container${name ? ` "${name}"` : ""}, have ${all.map((c) => c.name).join(", ")}`);
  return hits[0];
}

/** The rendered env var `name`'s literal value; throws when it is absent or comes from a Secret. */
export function renderedEnvValue(c: RenderedContainer, name: string): string {
  const v = (c.env ?? []).find((e) => e.name === name);
  if (!v || v.value === undefined) throw new Error(`container "${c.name}" has no literal env ${name} (have: ${(c.env ?? []).map((e) => e.name).join(", ")})`);
  return v.value;
}

export interface LocalEnvOptions {
  /** Values of env vars that come from Secrets (valueFrom) or render as "[secret]". Each must be used. */
  secrets?: Record<string, string>;
  /** Literal rendered values to replace (e.g. an in-cluster endpoint); each must exist with a literal value. */
  replace?: Record<string, string>;
  /** Vars the render does not have; each must be absent from it. */
  add?: Record<string, string>;
  /** Values of downward-API fields (valueFrom.fieldRef.fieldPath, e.g. status.podIP); each must be used. */
  fields?: Record<string, string>;
}

/**
 * The container's environment as a plain record: literal values as rendered, Secret-backed ones from
 * `secrets`. Throws naming the variable when a Secret-backed value is not supplied, or when a substitution
 * does not match the render.
 */
export function localEnv(c: RenderedContainer, opts: LocalEnvOptions = {}): Record<string, string> {
  const secrets = { ...opts.secrets };
  const replace = { ...opts.replace };
  const fields = { ...opts.fields };
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.name in out) throw new Error(`container "${c.name}": env ${e.name} is declared twice`);
    const fieldPath = e.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) {
      if (!(fieldPath in fields)) throw new Error(`container "${c.name}": env ${e.name} is the pod's ${fieldPath}; pass its value in fields`);
      out[e.name] = fields[fieldPath];
      delete fields[fieldPath];
      continue;
    }
    const fromSecret = e.valueFrom !== undefined || e.value === SECRET_PLACEHOLDER;
    if (fromSecret) {
      if (!(e.name in secrets)) {
        const ref = e.valueFrom?.secretKeyRef ? ` (Secret ${e.valueFrom.secretKeyRef.name}, key ${e.valueFrom.secretKeyRef.key})` : "";
        throw new Error(`container "${c.name}": env ${e.name} comes from a Secret${ref}; pass its value in secrets`);
      }
      if (e.name in replace) throw new Error(`container "${c.name}": env ${e.name} is Secret-backed; pass it in secrets, not replace`);
      out[e.name] = secrets[e.name];
      delete secrets[e.name];
    } else {
      if (e.name in secrets) throw new Error(`container "${c.name}": env ${e.name} is a literal ("${e.value}"), not a Secret value; use replace`);
      if (e.name in replace) {
        out[e.name] = replace[e.name];
        delete replace[e.name];
      } else {
        out[e.name] = e.value ?? "";
      }
    }
  }
  const unused = [...Object.keys(secrets), ...Object.keys(replace), ...Object.keys(fields).map((f) => `(field ${f})`)];
  if (unused.length > 0) throw new Error(`container "${c.name}": no rendered env ${unused.join(", ")} to substitute (have: ${Object.keys(out).join(", ")})`);
  for (const [k, v] of Object.entries(opts.add ?? {})) {
    if (k in out) throw new Error(`container "${c.name}": env ${k} is rendered ("${out[k]}"); use replace, not add`);
    out[k] = v;
  }
  return out;
}

/**
 * Replaces the value that follows one of `flags` (e.g. ["--port", "-p"]); the flag must occur exactly once,
 * as `--flag value` or `--flag=value`. Returns a new array.
 */
export function withFlagValue(args: readonly string[], flags: readonly string[], value: string): string[] {
  const out = [...args];
  const hits: number[] = [];
  for (let i = 0; i < out.length; i++) {
    if (flags.includes(out[i])) hits.push(i);
    else if (flags.some((f) => f.startsWith("--") && out[i].startsWith(`${f}=`))) hits.push(i);
  }
  if (hits.length !== 1) throw new Error(`expected ${flags.join("/")} exactly once in [${args.join(" ")}], found ${hits.length}`);
  const i = hits[0];
  if (out[i].includes("=")) out[i] = `${out[i].slice(0, out[i].indexOf("="))}=${value}`;
  else {
    if (i + 1 >= out.length) throw new Error(`${out[i]} has no value in [${args.join(" ")}]`);
    out[i + 1] = value;
  }
  return out;
}

/** The value of `flag` (exactly one occurrence, as `--flag value` or `--flag=value`), e.g. the rendered --port. */
export function flagValue(args: readonly string[], flag: string): string {
  const hits = args.map((a, i) => (a === flag || a.startsWith(`${flag}=`) ? i : -1)).filter((i) => i >= 0);
  const i = hits[0];
  if (hits.length === 1 && args[i] !== flag) return args[i].slice(flag.length + 1);
  if (hits.length !== 1 || i + 1 >= args.length) throw new Error(`expected "${flag} <value>" or "${flag}=<value>" once in [${args.join(" ")}]`);
  return args[i + 1];
}

/** Replaces every argument equal to `from` (at least one must be) with `to`. */
export function withArgReplaced(args: readonly string[], from: string, to: string): string[] {
  if (!args.includes(from)) throw new Error(`no argument "${from}" in [${args.join(" ")}]`);
  return args.map((a) => (a === from ? to : a));
}

/** The exec-form ENTRYPOINT of a Dockerfile (the last one), e.g. ["python", "/app/train.py"]. */
export function dockerEntrypoint(dockerfile: string): string[] {
  const text = fs.readFileSync(dockerfile, "utf8").replace(/\\\r?\n/g, " ");
  const lines = text.split(/\r?\n/).filter((l) => /^\s*ENTRYPOINT\s/i.test(l));
  if (lines.length === 0) throw new Error(`${dockerfile} has no ENTRYPOINT`);
  const raw = lines[lines.length - 1].replace(/^\s*ENTRYPOINT\s+/i, "").trim();
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === "string")) {
    throw new Error(`${dockerfile}: ENTRYPOINT must be in exec form (a JSON array of strings), got ${raw}`);
  }
  return parsed as string[];
}

/** The ENV of a Dockerfile (`ENV K=V [K=V ...]` and `ENV K V`), in order; quoted values are unquoted. */
export function dockerEnv(dockerfile: string): Record<string, string> {
  const text = fs.readFileSync(dockerfile, "utf8").replace(/\\\r?\n/g, " ");
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!m) continue;
    const body = m[1].trim();
    if (!body.includes("=")) {
      const [k, ...rest] = body.split(/\s+/);
      out[k] = rest.join(" ");
      continue;
    }
    for (const pair of body.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)/g) ?? []) {
      const eq = pair.indexOf("=");
      out[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  return out;
}

export interface LocalCommand {
  /** Executable (resolved in the venv's bin/ when the rendered one is a bare name found there). */
  cmd: string;
  args: string[];
  /** The complete environment of the process: PATH (venv bin first), the image's ENV, the container's env. */
  env: Record<string, string>;
}

export interface LocalCommandOptions {
  /** The image's ENTRYPOINT, used when the container sets no `command` (Kubernetes semantics). */
  entrypoint?: readonly string[];
  /** Replaces `args` (the container's args after the caller's substitutions); default: the rendered args. */
  args?: readonly string[];
  /** The venv's bin directory: first on PATH, and where a bare executable name is looked up. */
  binDir: string;
  /** From localEnv(). */
  env: Record<string, string>;
  /** ENV the image sets (Dockerfile ENV), under the container's env. */
  imageEnv?: Record<string, string>;
}

/**
 * argv = command ?? entrypoint, then args (as Kubernetes combines them); env = a clean environment with
 * only PATH, the image's ENV and the container's env. Throws when a "[secret]" would reach the process.
 */
export function localCommand(c: RenderedContainer, opts: LocalCommandOptions): LocalCommand {
  const head = c.command && c.command.length > 0 ? c.command : opts.entrypoint;
  if (!head || head.length === 0) throw new Error(`container "${c.name}" sets no command and no image entrypoint was given`);
  const argv = expandVarRefs([...head, ...(opts.args ?? c.args ?? [])], opts.env);
  const bad = argv.find((a) => a.includes(SECRET_PLACEHOLDER));
  if (bad !== undefined) throw new Error(`container "${c.name}": argument "${bad}" holds a masked secret`);
  for (const [k, v] of Object.entries(opts.env)) if (v.includes(SECRET_PLACEHOLDER)) throw new Error(`container "${c.name}": env ${k} is still "${v}"`);
  const local = path.join(opts.binDir, argv[0]);
  const cmd = !argv[0].includes("/") && fs.existsSync(local) ? local : argv[0];
  const env = { PATH: `${opts.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, ...opts.imageEnv, ...opts.env };
  return { cmd, args: argv.slice(1), env };
}

/**
 * `$(VAR)` in a container's command and args, as the kubelet expands them: a variable of the container's
 * env is replaced, `$$` is a literal `$`, and a reference to an undefined variable stays as written.
 */
export function expandVarRefs(values: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return values.map((v) => v.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (name === undefined ? "$" : name in env ? env[name] : m)));
}

/** The pod IP a test gives the rendered tracking server (env POD_IP from status.podIP). */
export const TEST_POD_IP = "10.244.0.17";

/**
 * A Prometheus scrape of the tracking server as the cluster's Prometheus makes it: GET /metrics with the
 * Host header `<pod IP>:5000`, after at least one API call. It must answer with MLflow's request counter
 * for a 200 and its latency histogram; the same scrape with another pod's IP is refused (the allowed hosts
 * admit the pod's own IP only).
 */
export async function assertMetricsScrape(baseUrl: string): Promise<void> {
  const api = await getWithHost(`${baseUrl}/api/2.0/mlflow/experiments/search?max_results=1`, "localhost:5000");
  assert.equal(api.status, 200, `API call before the scrape: ${api.status} ${api.body}`);
  const scrape = await getWithHost(`${baseUrl}/metrics`, `${TEST_POD_IP}:5000`);
  assert.equal(scrape.status, 200, `GET /metrics (Host ${TEST_POD_IP}:5000) -> ${scrape.status}: ${scrape.body.slice(0, 300)}`);
  const counter = /^mlflow_http_request_total\{[^}]*status="200"[^}]*\} ([0-9.e+]+)$/m.exec(scrape.body);
  assert.ok(counter && Number(counter[1]) >= 1, `no mlflow_http_request_total for status 200 after an API call:\n${scrape.body.slice(0, 1500)}`);
  assert.match(scrape.body, /^mlflow_http_request_duration_seconds_count\{/m, "no request latency histogram");
  const other = await getWithHost(`${baseUrl}/metrics`, "10.244.9.9:5000");
  assert.equal(other.status, 403, `GET /metrics with another pod's IP as Host must be refused: ${other.status}`);
}

/** Runs a LocalCommand to completion (non-zero exits resolve; the caller asserts). */
export function runLocal(lc: LocalCommand, opts: { cwd: string; timeoutMs: number }): Promise<CommandResult> {
  return runCommand(lc.cmd, lc.args, { env: lc.env, cwd: opts.cwd, timeoutMs: opts.timeoutMs });
}

export interface LocalService {
  readonly url: string;
  readonly proc: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts a LocalCommand as a long-running service and waits until GET `url + readyPath` answers 200.
 * On timeout or an early exit the process is stopped and the error quotes its last output.
 */
export async function startLocal(lc: LocalCommand, opts: { cwd: string; url: string; readyPath: string; timeoutMs: number; label: string }): Promise<LocalService> {
  const proc = spawnManaged(lc.cmd, lc.args, { env: lc.env, cwd: opts.cwd });
  await waitForHttp200(proc, `${opts.url}${opts.readyPath}`, opts.timeoutMs, `${opts.label} (${path.basename(lc.cmd)} ${lc.args.join(" ")})`);
  return { url: opts.url, proc, stop: () => proc.stop() };
}
