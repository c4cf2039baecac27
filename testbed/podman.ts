/**
 * The project's images run as the cluster runs them: `podman run` (runc, host network) with the rendered
 * pod's user, command/args, env, workingDir, read-only root filesystem, volumes (emptyDir → tmpfs),
 * capabilities and resource limits. The images come from images/build.sh (cached; a warm call takes
 * seconds), which also writes the engine config (runtime, storage driver) this module reuses.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { KubernetesObject } from "../lib/render";
import { SECRET_PLACEHOLDER } from "../lib/render";
import { registerCleanup, runCommand, spawnManaged, waitForHttp200, type CommandResult, type ManagedProcess } from "./process";
import { expandVarRefs, type RenderedContainer } from "./rendered";
import { REPO_ROOT } from "./venv";

export const IMAGE_NAMES = ["mlflow", "trainer", "serving", "oauth2-proxy", "storage-initializer"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** `$MLFLOW_PLATFORM_IMAGE_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/mlflow-platform/images` (as images/build.sh). */
export function imageCacheRoot(): string {
  return process.env.MLFLOW_PLATFORM_IMAGE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "mlflow-platform", "images");
}

/** Why the image tests do not run, or undefined when they do: only `MLFLOW_PLATFORM_IMAGES=skip` skips. */
export function imagesSkipReason(): string | undefined {
  const v = process.env.MLFLOW_PLATFORM_IMAGES;
  if (v === undefined || v === "" || v === "build") return undefined;
  if (v === "skip") return "MLFLOW_PLATFORM_IMAGES=skip: the images are not built, so the image tests do not run (unset it to build them with images/build.sh)";
  throw new Error(`MLFLOW_PLATFORM_IMAGES must be "skip" or "build" (got "${v}")`);
}

export interface BuiltImage { ref: string; inputs: string; archive: string }
export type BuiltImages = Record<ImageName, BuiltImage>;

/** The environment podman needs for the engine config images/build.sh wrote (runc, storage driver). */
export function engineEnv(): Record<string, string> {
  const file = path.join(imageCacheRoot(), "containers", "env");
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run images/build.sh first`);
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...engineEnv() };
}

let built: Promise<BuiltImages> | undefined;

/** Runs images/build.sh once per process (builds or takes every image from the cache) and returns the refs. */
export function ensureImages(): Promise<BuiltImages> {
  built ??= (async () => {
    const t0 = Date.now();
    const r = await runCommand("bash", [path.join(REPO_ROOT, "images", "build.sh")], { env: process.env, timeoutMs: 75 * 60_000 });
    if (r.code !== 0) throw new Error(`images/build.sh exited ${r.code}:\n${(r.stdout + r.stderr).split("\n").slice(-40).join("\n")}`);
    process.stderr.write(`      [images] images/build.sh: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.stdout.split("\n").filter(Boolean).map((l) => `      [images]   ${l}`).join("\n")}\n`);
    const index = JSON.parse(fs.readFileSync(path.join(imageCacheRoot(), "images.json"), "utf8")) as Partial<BuiltImages>;
    for (const n of IMAGE_NAMES) if (!index[n]) throw new Error(`images.json has no ${n}`);
    return index as BuiltImages;
  })().catch((err: unknown) => { built = undefined; throw err; });
  return built;
}

/**
 * The bytes of `file` inside `image` (podman image mount: also for images with no shell or coreutils, such
 * as oauth2-proxy's FROM scratch); undefined when the image has no such file.
 */
export async function readImageFile(image: string, file: string): Promise<Buffer | undefined> {
  const m = await podman(["image", "mount", image]);
  if (m.code !== 0) throw new Error(`podman image mount ${image}: ${m.stderr}`);
  try {
    const p = path.join(m.stdout.trim(), file);
    return fs.existsSync(p) ? fs.readFileSync(p) : undefined;
  } finally {
    await podman(["image", "unmount", image]);
  }
}

/** `podman <args>` to completion with the build's engine config. */
export function podman(args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return runCommand("podman", args, { env: podmanEnv(), timeoutMs: opts.timeoutMs ?? 600_000, input: opts.input });
}

/** A reference as a container runtime resolves it: mlflow-platform/mlflow:local → docker.io/mlflow-platform/mlflow:local. */
export function qualifyImage(ref: string): string {
  const first = ref.split("/")[0];
  if (!ref.includes("/")) return `docker.io/library/${ref}`;
  if (first.includes(".") || first.includes(":") || first === "localhost") return ref;
  return `docker.io/${ref}`;
}

// ---- rendered pod → podman run -------------------------------------------------------------------------

/* Untyped rendered JSON: only the fields read below. */
export interface PodSecurity { runAsUser?: number; runAsGroup?: number; fsGroup?: number; runAsNonRoot?: boolean; supplementalGroups?: number[] }
export interface ContainerSecurity { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; privileged?: boolean; capabilities?: { drop?: string[]; add?: string[] } }
interface Volume { name: string; emptyDir?: { medium?: string; sizeLimit?: string }; secret?: unknown; configMap?: unknown; [k: string]: unknown }
interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }
export interface FullContainer extends RenderedContainer {
  workingDir?: string;
  securityContext?: ContainerSecurity;
  volumeMounts?: VolumeMount[];
  resources?: { limits?: { cpu?: string; memory?: string } };
}
interface PodSpec { securityContext?: PodSecurity; volumes?: Volume[]; containers: FullContainer[]; terminationGracePeriodSeconds?: number }

/** The pod spec of a Deployment/Job/CronJob/ClusterServingRuntime (a ServingRuntime's spec is pod-like). */
export function renderedPodSpec(o: KubernetesObject): PodSpec {
  const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking untyped rendered JSON
  const pod = o.kind === "CronJob" ? spec?.jobTemplate?.spec?.template?.spec
    : o.kind === "ClusterServingRuntime" || o.kind === "ServingRuntime" ? spec
    : o.kind === "ClusterStorageContainer" ? { containers: [spec?.container], volumes: [] }
    : spec?.template?.spec;
  if (!pod || !Array.isArray(pod.containers)) throw new Error(`${o.kind}/${o.metadata.name} has no pod spec`);
  return pod as PodSpec;
}

/** Kubernetes quantities → podman's: "1Gi" → "1073741824b"... as bytes; "500m" → "0.5". */
export function memoryBytes(q: string): number {
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`memory quantity "${q}" not understood`);
  const mult: Record<string, number> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * mult[m[2] ?? ""]);
}
export function cpus(q: string): string {
  return q.endsWith("m") ? String(Number(q.slice(0, -1)) / 1000) : String(Number(q));
}

export interface PodmanSpecOptions {
  /** The container's environment, e.g. from localEnv() (Secret values substituted by the caller). */
  env: Record<string, string>;
  /** Replaces the rendered args (after the caller's named substitutions, e.g. withFlagValue for the port). */
  args?: readonly string[];
  /** Host directories for volumes the cluster fills (secret, configMap, KServe's model volume): name → host dir. */
  volumeSources?: Record<string, string>;
  /** Mounts the cluster adds outside the rendered pod (KServe's storage initializer: /mnt/models). */
  extraMounts?: { hostPath: string; mountPath: string; readOnly: boolean }[];
  /** Default: a random name. */
  name?: string;
  /**
   * Pod-level fields another object sets (KServe: the InferenceService's predictor securityContext and
   * terminationGracePeriodSeconds around a ServingRuntime's container).
   */
  pod?: { securityContext?: PodSecurity; terminationGracePeriodSeconds?: number };
}

export interface PodmanRunSpec {
  name: string;
  image: string;
  /** Everything between `podman run` and the image. */
  options: string[];
  /** After the image (the container's args, or all of command+args with an --entrypoint). */
  args: string[];
  /** 0600 file with the env (values never appear on a command line). */
  envFile: string;
  /** The pod's terminationGracePeriodSeconds (Kubernetes' default 30 when unset). */
  terminationGracePeriodSeconds: number;
  /** What was derived from the render, for messages. */
  describe: string;
}

/**
 * `podman run` options for one rendered container: user from the pod/container securityContext, --read-only
 * (and no podman tmpfs on /tmp, /run, /var/tmp: nothing but the rendered volumes is writable), --cap-drop,
 * no-new-privileges, the rendered emptyDirs as tmpfs, command → --entrypoint, args, workingDir, limits.
 */
export function podmanRunSpec(o: KubernetesObject, c: FullContainer, opts: PodmanSpecOptions): PodmanRunSpec {
  const pod = { ...renderedPodSpec(o), ...opts.pod };
  const podSec = pod.securityContext ?? {};
  const sec = c.securityContext ?? {};
  if (!c.image) throw new Error(`container "${c.name}" has no image`);
  const uid = sec.runAsUser ?? podSec.runAsUser;
  const gid = sec.runAsGroup ?? podSec.runAsGroup;
  const nonRoot = sec.runAsNonRoot ?? podSec.runAsNonRoot;
  const options: string[] = ["--network", "host", "--runtime", "runc", "--pull", "never"];
  const said: string[] = [];
  if (uid !== undefined) {
    if (nonRoot && uid === 0) throw new Error(`${o.kind}/${o.metadata.name}: runAsNonRoot with runAsUser 0`);
    options.push("--user", gid !== undefined ? `${uid}:${gid}` : String(uid));
    said.push(`user ${uid}:${gid ?? "-"}`);
  } else if (nonRoot) {
    throw new Error(`${o.kind}/${o.metadata.name}: runAsNonRoot without runAsUser: the kubelet would check the image's USER; give runAsUser`);
  }
  for (const g of [podSec.fsGroup, ...(podSec.supplementalGroups ?? [])]) if (g !== undefined) options.push("--group-add", String(g));
  if (sec.readOnlyRootFilesystem) {
    options.push("--read-only", "--read-only-tmpfs=false");
    said.push("read-only root");
  }
  if (sec.privileged) throw new Error(`${c.name}: privileged containers are not run here`);
  for (const cap of sec.capabilities?.drop ?? []) options.push("--cap-drop", cap);
  for (const cap of sec.capabilities?.add ?? []) options.push("--cap-add", cap);
  if (sec.allowPrivilegeEscalation === false) options.push("--security-opt", "no-new-privileges");
  if (c.workingDir) options.push("--workdir", c.workingDir);
  const limits = c.resources?.limits ?? {};
  if (limits.memory) options.push("--memory", `${memoryBytes(limits.memory)}b`);
  if (limits.cpu) options.push("--cpus", cpus(limits.cpu));

  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`${c.name}: volumeMount ${m.name} has no volume`);
    if (m.subPath) throw new Error(`${c.name}: subPath mounts are not supported here (${m.name})`);
    if (v.emptyDir) {
      // An emptyDir is a fresh, world-writable (0777) directory; the sizeLimit is the tmpfs size.
      const size = v.emptyDir.sizeLimit ? `,size=${memoryBytes(v.emptyDir.sizeLimit)}` : "";
      options.push("--tmpfs", `${m.mountPath}:rw,mode=0777,exec${size}`);
      said.push(`emptyDir ${m.name} → tmpfs ${m.mountPath}`);
    } else {
      const src = opts.volumeSources?.[m.name];
      if (!src) throw new Error(`${c.name}: volume ${m.name} (${Object.keys(v).filter((k) => k !== "name").join(",")}) needs a host dir in volumeSources`);
      options.push("--volume", `${src}:${m.mountPath}:${m.readOnly ? "ro" : "rw"}`);
      said.push(`${m.name} → ${m.mountPath}${m.readOnly ? " (ro)" : ""}`);
    }
  }
  for (const m of opts.extraMounts ?? []) {
    options.push("--volume", `${m.hostPath}:${m.mountPath}:${m.readOnly ? "ro" : "rw"}`);
    said.push(`${m.mountPath}${m.readOnly ? " (ro)" : ""}`);
  }

  for (const [k, v] of Object.entries(opts.env)) {
    if (v.includes(SECRET_PLACEHOLDER)) throw new Error(`${c.name}: env ${k} is still "${v}"`);
    if (v.includes("\n")) throw new Error(`${c.name}: env ${k} has a newline (not expressible in an env file)`);
  }
  const envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-it-env-")), "env");
  fs.writeFileSync(envFile, Object.entries(opts.env).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  registerCleanup(() => fs.rmSync(path.dirname(envFile), { recursive: true, force: true }));
  options.push("--env-file", envFile);

  const args = expandVarRefs([...(opts.args ?? c.args ?? [])], opts.env);
  for (const a of args) if (a.includes(SECRET_PLACEHOLDER)) throw new Error(`${c.name}: argument "${a}" holds a masked secret`);
  let after: string[] = args;
  if (c.command && c.command.length > 0) {
    // Kubernetes: command replaces the image's ENTRYPOINT (and drops its CMD), args follow.
    options.push("--entrypoint", JSON.stringify([c.command[0]]));
    after = [...expandVarRefs(c.command.slice(1), opts.env), ...args];
  }
  const name = opts.name ?? `mlflow-it-${c.name}-${randomBytes(4).toString("hex")}`;
  options.unshift("--name", name);
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  return { name, image: qualifyImage(c.image), options, args: after, envFile, terminationGracePeriodSeconds: grace, describe: said.join(", ") };
}

export function podmanRunArgv(s: PodmanRunSpec): string[] {
  return ["run", "--rm", ...s.options, s.image, ...s.args];
}

/** Removes a container by name (no error when it is gone). */
function removeSync(name: string): void {
  try {
    execFileSync("podman", ["rm", "--force", "--time", "0", name], { env: podmanEnv(), stdio: "ignore", timeout: 60_000 });
  } catch { /* gone */ }
}

/** Runs the container to completion (a Job's pod). */
export async function runToCompletion(s: PodmanRunSpec, timeoutMs: number): Promise<CommandResult> {
  const unregister = registerCleanup(() => removeSync(s.name), () => removeSync(s.name));
  try {
    return await podman(podmanRunArgv(s), { timeoutMs });
  } finally {
    unregister();
    removeSync(s.name);
  }
}

export interface RunningContainer {
  readonly spec: PodmanRunSpec;
  readonly proc: ManagedProcess;
  /** `podman exec` in the running container (as its user). */
  exec(argv: readonly string[]): Promise<CommandResult>;
  /** `podman stop -t <seconds>`: SIGTERM, SIGKILL after the grace period. Resolves with the measured time and exit. */
  stop(graceSeconds?: number): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null; stopOutput: string }>;
}

/** Starts a long-running container and waits until GET url answers 200 (a readiness probe). */
export async function startContainer(s: PodmanRunSpec, ready: { url: string; timeoutMs: number; label: string }): Promise<RunningContainer> {
  const c = launchContainer(s);
  await waitForHttp200(c.proc, ready.url, ready.timeoutMs, `${ready.label} (podman run ${s.image}; ${s.describe})`);
  return c;
}

/** Starts a long-running container and returns at once (the caller decides when it is ready). */
export function launchContainer(s: PodmanRunSpec): RunningContainer {
  const proc = spawnManaged("podman", podmanRunArgv(s), { env: podmanEnv() });
  registerCleanup(() => removeSync(s.name), () => removeSync(s.name));
  let stopped: ReturnType<RunningContainer["stop"]> | undefined;
  return {
    spec: s,
    proc,
    exec: (argv) => podman(["exec", s.name, ...argv], { timeoutMs: 120_000 }),
    stop(graceSeconds = s.terminationGracePeriodSeconds) {
      stopped ??= (async () => {
        const t0 = Date.now();
        const r = await podman(["stop", "--time", String(graceSeconds), s.name], { timeoutMs: (graceSeconds + 60) * 1000 });
        const exit = await proc.exited;
        return { ms: Date.now() - t0, code: exit.code, signal: exit.signal, stopOutput: (r.stdout + r.stderr).trim() };
      })();
      return stopped;
    },
  };
}

export interface ContainerCpu {
  /** CPU time the container's cgroup used so far (all its processes), seconds. */
  readonly usageSeconds: number;
  /** CFS periods in which the cgroup was throttled by its CPU limit, and the time it was held back (seconds). */
  readonly throttledPeriods?: number;
  readonly throttledSeconds?: number;
}

/** The CPU accounting files of the cgroup a process is in (cgroup v1 cpuacct/cpu, or v2), from /proc/<pid>/cgroup. */
export function cgroupCpuFiles(pid: number): { usage: string; v2: boolean; stat?: string } {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = (ctrl: string) => lines.map((l) => l.split(":")).find(([, ctrls]) => ctrls.split(",").includes(ctrl))?.[2];
  const acct = v1("cpuacct");
  if (acct !== undefined) {
    const base = fs.existsSync("/sys/fs/cgroup/cpuacct") ? "/sys/fs/cgroup/cpuacct" : "/sys/fs/cgroup/cpu,cpuacct";
    const cpu = v1("cpu");
    const cpuBase = fs.existsSync("/sys/fs/cgroup/cpu") ? "/sys/fs/cgroup/cpu" : "/sys/fs/cgroup/cpu,cpuacct";
    return { usage: path.join(base, acct, "cpuacct.usage"), v2: false, ...(cpu !== undefined ? { stat: path.join(cpuBase, cpu, "cpu.stat") } : {}) };
  }
  const unified = lines.find((l) => l.startsWith("0::"))?.slice(3);
  if (unified === undefined) throw new Error(`/proc/${pid}/cgroup names no cpuacct or unified cgroup`);
  const file = path.join("/sys/fs/cgroup", unified, "cpu.stat");
  return { usage: file, v2: true, stat: file };
}

/** Reads the CPU accounting of files from cgroupCpuFiles. */
export function readCgroupCpu(files: { usage: string; v2: boolean; stat?: string }): ContainerCpu {
  const stat = files.stat && fs.existsSync(files.stat) ? Object.fromEntries(fs.readFileSync(files.stat, "utf8").trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k, Number(v)])) : {};
  const usageSeconds = files.v2 ? (stat.usage_usec ?? NaN) / 1e6 : Number(fs.readFileSync(files.usage, "utf8")) / 1e9;
  const throttledSeconds = files.v2 ? (stat.throttled_usec !== undefined ? stat.throttled_usec / 1e6 : undefined) : stat.throttled_time !== undefined ? stat.throttled_time / 1e9 : undefined;
  return { usageSeconds, ...(stat.nr_throttled !== undefined ? { throttledPeriods: stat.nr_throttled } : {}), ...(throttledSeconds !== undefined ? { throttledSeconds } : {}) };
}

/** A reader of a running container's CPU accounting (its cgroup, found through its init process). */
export async function containerCpuReader(name: string): Promise<() => ContainerCpu> {
  const r = await podman(["inspect", "--format", "{{.State.Pid}}", name]);
  const pid = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0) throw new Error(`podman inspect ${name}: no running process (${(r.stdout + r.stderr).trim()})`);
  const files = cgroupCpuFiles(pid);
  return () => readCgroupCpu(files);
}
