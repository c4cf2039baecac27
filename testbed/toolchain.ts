/**
 * The engine toolchain (toolchain/build.sh): the Pulumi CLI, the Kubernetes provider, etcd, the
 * Kubernetes control plane, kwok and the CRDs of KServe, the Prometheus Operator and the Gateway API
 * (toolchain/files.tsv), built or fetched from the Go module proxy into
 * ~/.cache/mlflow-platform/engine. Warm, this only hashes the pins (a second or two).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand, tail } from "./process";
import { projectRoot } from "../lib/paths";

/** The project root, from source or from the compiled bin/ alike. */
export const REPO_ROOT = projectRoot(__dirname);

/** The CRD sets of toolchain/files.tsv: `<set>-crds` there, `<SET>_CRDS` in build.sh --env. */
export const CRD_SETS = ["kserve", "prometheus-operator", "gateway-api"] as const;
export type CrdSet = (typeof CRD_SETS)[number];

export interface Toolchain {
  /** Directory with pulumi, pulumi-resource-kubernetes, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok. */
  readonly binDir: string;
  /** Directory of each CRD set's YAML files (e.g. kserve: serving.kserve.io_*.yaml). */
  readonly crds: Readonly<Record<CrdSet, string>>;
  /** Directory of KServe's controller config files (toolchain/files.tsv `kserve-config`). */
  readonly kserveConfig: string;
  /** The version the Kubernetes provider is installed as (the plugin directory's name). */
  readonly kubernetesProviderVersion: string;
  readonly pulumiVersion: string;
  bin(name: string): string;
}

let cached: Promise<Toolchain> | undefined;

/** Builds what is missing (cold: tens of minutes, see docs/testing.md) and returns the paths. */
export function toolchain(): Promise<Toolchain> {
  cached ??= load().catch((err: unknown) => { cached = undefined; throw err; });
  return cached;
}

async function load(): Promise<Toolchain> {
  const script = path.join(REPO_ROOT, "toolchain", "build.sh");
  const r = await runCommand("bash", [script, "--env"], { timeoutMs: 80 * 60_000 });
  if (r.code !== 0) throw new Error(`toolchain/build.sh --env exited with ${r.code}:\n${tail(r.stderr + r.stdout)}`);
  const env: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`toolchain/build.sh --env printed no ${k} (got: ${r.stdout.trim()})`);
    return v;
  };
  const binDir = need("ENGINE_BIN");
  const t: Toolchain = {
    binDir,
    crds: Object.fromEntries(CRD_SETS.map((s) => [s, need(`${s.toUpperCase().replace(/-/g, "_")}_CRDS`)])) as Record<CrdSet, string>,
    kserveConfig: need("KSERVE_CONFIG"),
    kubernetesProviderVersion: need("PULUMI_KUBERNETES_VERSION"),
    pulumiVersion: need("PULUMI_VERSION"),
    bin: (name: string) => {
      const p = path.join(binDir, name);
      if (!fs.existsSync(p)) throw new Error(`the engine toolchain has no ${name} (${p})`);
      return p;
    },
  };
  return t;
}

/**
 * Only the named binaries of toolchain/binaries.tsv (build.sh --only): a test that needs oauth2-proxy and
 * the OpenID provider waits for those two entries, not for the whole toolchain. Returns each one's path.
 */
export async function toolchainBinaries<N extends string>(names: readonly N[]): Promise<Record<N, string>> {
  const script = path.join(REPO_ROOT, "toolchain", "build.sh");
  const r = await runCommand("bash", [script, "--env", ...names.flatMap((n) => ["--only", n])], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`toolchain/build.sh --env ${names.map((n) => `--only ${n}`).join(" ")} exited with ${r.code}:\n${tail(r.stderr + r.stdout)}`);
  const binDir = /^ENGINE_BIN=(.*)$/m.exec(r.stdout)?.[1];
  if (!binDir) throw new Error(`toolchain/build.sh --env printed no ENGINE_BIN (got: ${r.stdout.trim()})`);
  const out = {} as Record<N, string>;
  for (const n of names) {
    const p = path.join(binDir, n);
    if (!fs.existsSync(p)) throw new Error(`toolchain/build.sh built no ${n} (${p}); is it a row of toolchain/binaries.tsv?`);
    out[n] = p;
  }
  return out;
}
