/**
 * The project's program on the real Pulumi engine: an Automation API inline stack (the program runs in
 * this test process, the `pulumi` CLI of the engine toolchain drives it), a file backend and a
 * passphrase secrets provider in a temp dir, the Kubernetes provider built by the toolchain installed as
 * the plugin version the program asks for, and the test cluster's kubeconfig.
 *
 * Config: the repo's Pulumi.<base>.yaml is the stack's config file; `configure` layers path-keyed
 * values (secrets among them) on top, and `withConfig` runs one operation on top of that and restores it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type EngineEvent, type Stack, type ConfigMap, type OpType, type StepEventMetadata } from "@pulumi/pulumi/automation";
import { registerCleanup } from "./process";
import { REPO_ROOT } from "./toolchain";
import { main } from "../program";
import type { Cluster } from "./cluster";

export const PROJECT = "mlflow-platform";

/** One resource step the engine planned or took. */
export interface Step {
  op: OpType;
  urn: string;
  type: string;
  /** The resource's name (last URN segment). */
  name: string;
  /** Top-level properties whose change causes the step (engine's `diffs`). */
  diffs: string[];
  /** Properties the provider says force a replacement (engine's `keys`). */
  replaceKeys: string[];
  /** Property paths the engine reports as changed, with their kind (update, add, delete, …-replace). */
  detailedDiff: Record<string, string>;
  /** The Kubernetes object's kind/namespace/name when the step is a kubernetes:* resource. */
  object?: { kind: string; namespace?: string; name: string };
}

export interface EngineRun {
  steps: Step[];
  /** Count per operation, as the engine summarises it. */
  changes: Partial<Record<OpType, number>>;
  stdout: string;
}

export interface EngineStack {
  readonly stack: Stack;
  /** Directory of the file backend's state (what `pulumi login file://…` would use). */
  readonly stateDir: string;
  readonly workDir: string;
  /** Sets path-keyed config (`database.inCluster.password` → mlflow-platform:database.inCluster.password). */
  configure(values: Record<string, ConfigValue>): Promise<void>;
  /** Removes path-keyed config: the keys a switch leaves behind (config refuses the keys of a mode not in use). */
  unconfigure(keys: readonly string[]): Promise<void>;
  /** Runs `op` with `values` layered over the current config (less `unset`), then restores the config file. */
  withConfig<T>(values: Record<string, ConfigValue>, op: () => Promise<T>, unset?: readonly string[]): Promise<T>;
  preview(): Promise<EngineRun>;
  up(): Promise<EngineRun>;
  destroy(): Promise<EngineRun>;
  /** Every file of the backend's state directory, concatenated (to search for plaintext secrets). */
  stateText(): string;
  /** The stack's outputs after the last up. */
  outputs(): Promise<Record<string, unknown>>;
  remove(): Promise<void>;
}

export type ConfigValue = string | number | boolean | { secret: string };

let counter = 0;

/** A new stack named `stackName` (its config starts as the repo's Pulumi.<base>.yaml) on `cluster`. */
export async function engineStack(
  cluster: Cluster,
  opts: { base: string; stackName?: string; env?: Record<string, string>; /** Defaults to the project's main. */ program?: () => Promise<Record<string, unknown> | void> },
): Promise<EngineStack> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `mlflow-engine-stack-${counter++}-`));
  const stateDir = path.join(root, "state");
  const workDir = path.join(root, "work");
  const pulumiHome = path.join(root, "pulumi-home");
  for (const d of [stateDir, workDir, pulumiHome]) fs.mkdirSync(d, { recursive: true });
  const stackName = opts.stackName ?? opts.base;
  fs.copyFileSync(path.join(REPO_ROOT, `Pulumi.${opts.base}.yaml`), path.join(workDir, `Pulumi.${stackName}.yaml`));
  installProvider(cluster, pulumiHome);

  const tc = cluster.toolchain;
  const envVars: Record<string, string> = {
    PATH: withOnPath(tc.binDir, process.env.PATH),
    PULUMI_HOME: pulumiHome,
    PULUMI_CONFIG_PASSPHRASE: "engine-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // The provider is on PATH too (the toolchain's bin): take it from the plugin directory, as a user's CLI would.
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    KUBECONFIG: cluster.kubeconfig,
    ...opts.env,
  };
  // The CLI and the provider it starts get envVars; the Automation API itself finds `pulumi` on this
  // process's PATH (once, however many stacks a suite makes).
  process.env.PATH = envVars.PATH;
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName: PROJECT, program: opts.program ?? (() => main()) },
    {
      workDir, pulumiHome, envVars,
      projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: `file://${stateDir}` } },
    },
  );
  // The provider and the program's KServe check read the same kubeconfig (the inline program runs in this
  // process, which has no KUBECONFIG of its own).
  await stack.setConfig("kubernetes:kubeconfig", { value: cluster.kubeconfig });
  const configFile = path.join(workDir, `Pulumi.${stackName}.yaml`);
  const qualified = (k: string) => (k.includes(":") ? k : `${PROJECT}:${k}`);
  const toConfigMap = (values: Record<string, ConfigValue>): ConfigMap =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [
      qualified(k),
      typeof v === "object" ? { value: v.secret, secret: true } : { value: String(v) },
    ]));

  const collect = async (run: (onEvent: (e: EngineEvent) => void, onOutput: (s: string) => void) => Promise<{ changes?: Partial<Record<OpType, number>> }>): Promise<EngineRun> => {
    const steps: Step[] = [];
    let stdout = "";
    const r = await run((e) => {
      const m = e.resourcePreEvent?.metadata;
      if (m) steps.push(toStep(m));
    }, (s) => { stdout += s; });
    return { steps, changes: r.changes ?? {}, stdout };
  };

  const es: EngineStack = {
    stack, stateDir, workDir,
    async configure(values) { await stack.setAllConfig(toConfigMap(values), true); },
    async unconfigure(keys) { await stack.removeAllConfig(keys.map(qualified), true); },
    async withConfig(values, op, unset = []) {
      const saved = fs.readFileSync(configFile, "utf8");
      try {
        if (unset.length > 0) await es.unconfigure(unset);
        await stack.setAllConfig(toConfigMap(values), true);
        return await op();
      } finally {
        fs.writeFileSync(configFile, saved);
      }
    },
    preview: () => collect(async (onEvent, onOutput) => {
      const r = await stack.preview({ diff: true, onEvent, onOutput });
      return { changes: r.changeSummary };
    }),
    up: () => collect(async (onEvent, onOutput) => {
      const r = await stack.up({ diff: true, onEvent, onOutput });
      return { changes: r.summary.resourceChanges as Partial<Record<OpType, number>> | undefined };
    }),
    destroy: () => collect(async (onEvent, onOutput) => {
      const r = await stack.destroy({ onEvent, onOutput });
      return { changes: r.summary.resourceChanges as Partial<Record<OpType, number>> | undefined };
    }),
    stateText: () => readTree(stateDir),
    async outputs() {
      const o = await stack.outputs();
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.value]));
    },
    async remove() {
      unregister();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  const unregister = registerCleanup(() => es.remove(), () => fs.rmSync(root, { recursive: true, force: true }));
  return es;
}

/** `dir` first on a PATH, not added again when it is already there. */
function withOnPath(dir: string, current: string | undefined): string {
  const rest = (current ?? "").split(path.delimiter).filter((p) => p !== "" && p !== dir);
  return [dir, ...rest].join(path.delimiter);
}

/** The toolchain's provider as `$PULUMI_HOME/plugins/resource-kubernetes-v<version>/`, where the CLI looks. */
function installProvider(cluster: Cluster, pulumiHome: string): void {
  const tc = cluster.toolchain;
  const dir = path.join(pulumiHome, "plugins", `resource-kubernetes-v${tc.kubernetesProviderVersion}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(tc.bin("pulumi-resource-kubernetes"), path.join(dir, "pulumi-resource-kubernetes"));
}

function toStep(m: StepEventMetadata): Step {
  const name = m.urn.split("::").pop() ?? m.urn;
  const detailedDiff = Object.fromEntries(Object.entries(m.detailedDiff ?? {}).map(([k, v]) => [k, v.diffKind]));
  const step: Step = { op: m.op, urn: m.urn, type: m.type, name, diffs: m.diffs ?? [], replaceKeys: m.keys ?? [], detailedDiff };
  if (m.type.startsWith("kubernetes:")) {
    const inputs = (m.new?.inputs ?? m.old?.inputs ?? {}) as { kind?: string; metadata?: { name?: string; namespace?: string } };
    if (inputs.metadata?.name) step.object = { kind: inputs.kind ?? m.type.split(":").pop() ?? "", namespace: inputs.metadata.namespace, name: inputs.metadata.name };
  }
  return step;
}

function readTree(dir: string): string {
  let out = "";
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out += readTree(p);
    else if (entry.isFile()) out += `\n=== ${p}\n${fs.readFileSync(p, "utf8")}`;
  }
  return out;
}

const token = (n: number) => randomBytes(n).toString("hex");

/** Fresh values for every secret the local stack would otherwise generate, and for basic auth. */
export function localSecrets(): Record<string, string> {
  return {
    "database.inCluster.password": `pg-${token(12)}`,
    "artifactStore.minio.rootUser": `root${token(6)}`,
    "artifactStore.minio.rootPassword": `minio-${token(16)}`,
    "artifactStore.minio.accessKeyId": `AK${token(9)}`.toUpperCase(),
    "artifactStore.minio.secretAccessKey": `sk-${token(18)}`,
    "access.adminPassword": `admin-${token(12)}`,
    "access.flaskSecretKey": `flask-${token(20)}`,
  };
}

/** The secrets that apply to a stack config (basic-auth ones only with access.auth basic). */
export function secretConfig(secrets: Record<string, string>, opts: { basicAuth?: boolean } = {}): Record<string, ConfigValue> {
  return Object.fromEntries(
    Object.entries(secrets)
      .filter(([k]) => opts.basicAuth || !k.startsWith("access."))
      .map(([k, v]) => [k, { secret: v }]),
  );
}
