/**
 * The stand-ins of the official images the local stack runs besides the project's own (images/standins/,
 * built by `images/build.sh standins`, tagged docker.io/library/postgres:16.10,
 * quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z and quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z) run with
 * podman as the RENDERED local stack runs them: user, fsGroup, read-only root, capabilities, limits, the
 * emptyDirs (tmpfs), a volume claim (a host directory owned as the kubelet leaves it: group fsGroup, setgid),
 * env (Secret values substituted) and command/args (testbed/podman.ts). The servers run in
 * their own network namespace, as in a pod, their ports published on 127.0.0.1 only; the Jobs run on the host
 * network, and the one cluster name they use (the MinIO Service's) is replaced by that published address,
 * named where it happens.
 *
 * - postgres: the StatefulSet's container initialises an empty volume (user, password, database), its
 *   startup/readiness/liveness exec probes pass, a password login over TCP works and a wrong password is
 *   refused, only the mounted directories are writable, the backup CronJob's dump step (pg_dump -Fc,
 *   pg_restore --list, pg_restore to the end, sha256sum) verifies its dump, pg_restore restores it, SIGINT (the
 *   image's STOPSIGNAL) stops it within the grace period, and a restart keeps the data and the first password;
 *   the basic-auth database Job (psql) creates its database.
 * - minio + mc: the StatefulSet's MinIO answers /minio/health/live and /ready (and its console), the bucket
 *   Job's script as rendered (manifests/minio.ts) creates the private, versioned bucket, the policy and
 *   MLflow's user, and runs again without error; that user can put and get an object and cannot create
 *   another bucket; an anonymous read is refused.
 *
 * Runs unless MLFLOW_PLATFORM_IMAGES=skip. Cold, the stand-ins build in minutes (MinIO's compile dominates);
 * cached, in seconds.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { KubernetesObject, RenderResult } from "../../lib/render";
import { DUMP_CONTAINER } from "../../manifests/backup";
import { minioEndpoint } from "../../manifests/minio";
import { freePort } from "../../testbed/ports";
import { runCommand, spawnManaged, stepLog, tail, waitForHttp200, type CommandResult, type ManagedProcess } from "../../testbed/process";
import { render } from "../support/render";
import {
  engineEnv,
  imageCacheRoot,
  imagesSkipReason,
  podman,
  podmanRunArgv,
  podmanRunSpec,
  qualifyImage,
  renderedPodSpec,
  runToCompletion,
  type FullContainer,
  type PodmanRunSpec,
} from "../../testbed/podman";
import { findPgBin } from "../../testbed/postgres";
import { findRendered, localEnv, renderedContainer } from "../../testbed/rendered";
import { registerCleanup, tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";

const SKIP = imagesSkipReason();
const { log, timed } = stepLog("standins");
const STANDINS = ["postgres-standin", "minio-standin", "mc-standin"] as const;
type StandinName = (typeof STANDINS)[number];
interface BuiltStandin { ref: string; refs: string[]; inputs: string; archive: string }

/** `images/build.sh standins` (cached: seconds) and the stand-ins' entries of images.json. */
async function ensureStandins(): Promise<Record<StandinName, BuiltStandin>> {
  const r = await runCommand("bash", [path.join(REPO_ROOT, "images", "build.sh"), "standins"], { env: process.env, timeoutMs: 75 * 60_000 });
  if (r.code !== 0) throw new Error(`images/build.sh standins exited ${r.code}:\n${tail(r.stdout + r.stderr, 40)}`);
  for (const l of r.stdout.split("\n").filter(Boolean)) log(l);
  const index = JSON.parse(fs.readFileSync(path.join(imageCacheRoot(), "images.json"), "utf8")) as Partial<Record<string, BuiltStandin>>;
  const out: Partial<Record<StandinName, BuiltStandin>> = {};
  for (const n of STANDINS) {
    const e = index[n];
    if (!e) throw new Error(`images.json has no ${n}`);
    out[n] = e;
  }
  return out as Record<StandinName, BuiltStandin>;
}

/**
 * The StatefulSet's pod as the StatefulSet controller makes it: each volumeClaimTemplate becomes a volume of
 * the pod (a claim), which podmanRunSpec then takes from volumeSources.
 */
function withClaimVolumes(o: KubernetesObject): KubernetesObject {
  const copy = JSON.parse(JSON.stringify(o)) as KubernetesObject;
  // Untyped rendered JSON: the claim templates' names only.
  const spec = copy.spec as { volumeClaimTemplates?: { metadata: { name: string } }[]; template: { spec: { volumes?: Record<string, unknown>[] } } };
  const pod = spec.template.spec;
  pod.volumes = [...(pod.volumes ?? []), ...(spec.volumeClaimTemplates ?? []).map((t) => ({ name: t.metadata.name, persistentVolumeClaim: { claimName: `${t.metadata.name}-${o.metadata.name}-0` } }))];
  return copy;
}

/** A fresh volume as the kubelet hands it to a pod with fsGroup: owner root, group fsGroup, setgid, group-writable. */
function claimDir(label: string, fsGroup: number): string {
  const dir = path.join(tempDir(label), "volume");
  fs.mkdirSync(dir);
  fs.chownSync(dir, 0, fsGroup);
  fs.chmodSync(dir, 0o2775);
  return dir;
}

/**
 * The pod's own network namespace instead of the host's (a server binds every address of its pod): slirp4netns,
 * each container port published on 127.0.0.1 only.
 */
function inOwnNetwork(s: PodmanRunSpec, publish: readonly { host: number; container: number }[]): PodmanRunSpec {
  const options = [...s.options];
  const i = options.indexOf("--network");
  assert.ok(i >= 0 && options[i + 1] === "host", `podmanRunSpec gave no --network host: ${options.join(" ")}`);
  options.splice(i, 2, "--network", "slirp4netns");
  for (const p of publish) options.push("--publish", `127.0.0.1:${p.host}:${p.container}`);
  return { ...s, options, describe: `${s.describe}, own network, ${publish.map((p) => `127.0.0.1:${p.host}→${p.container}`).join(", ")}` };
}

interface Service {
  readonly spec: PodmanRunSpec;
  readonly proc: ManagedProcess;
  exec(argv: readonly string[]): Promise<CommandResult>;
  /** `podman stop -t <grace>` (the image's STOPSIGNAL, SIGKILL after the grace period): time and exit. */
  stop(): Promise<{ ms: number; code: number | null }>;
}

/** A long-running container (a StatefulSet's pod), removed at cleanup whatever happens. */
function startService(s: PodmanRunSpec): Service {
  const proc = spawnManaged("podman", podmanRunArgv(s), { env: { ...process.env, ...engineEnv() } });
  registerCleanup(async () => { await podman(["rm", "--force", "--time", "0", s.name]); });
  let stopped: Promise<{ ms: number; code: number | null }> | undefined;
  return {
    spec: s,
    proc,
    exec: (argv) => podman(["exec", s.name, ...argv], { timeoutMs: 120_000 }),
    stop() {
      stopped ??= (async () => {
        const t0 = Date.now();
        await podman(["stop", "--time", String(s.terminationGracePeriodSeconds), s.name], { timeoutMs: (s.terminationGracePeriodSeconds + 60) * 1000 });
        const exit = await proc.exited;
        return { ms: Date.now() - t0, code: exit.code };
      })();
      return stopped;
    },
  };
}

interface ExecProbe { exec: { command: string[] } }
interface ProbedContainer extends FullContainer { startupProbe?: ExecProbe; readinessProbe?: ExecProbe; livenessProbe?: ExecProbe }

/** Runs an exec probe in the container until it succeeds (the kubelet's startup probe), or fails with its output. */
async function waitForExecProbe(svc: Service, probe: ExecProbe, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: CommandResult | undefined;
  let exited = false;
  void svc.proc.exited.then(() => { exited = true; });
  for (;;) {
    last = await svc.exec(probe.exec.command);
    if (last.code === 0) return;
    if (exited || Date.now() > deadline) {
      throw new Error(`${label}: the probe ${JSON.stringify(probe.exec.command)} never passed (${exited ? "the container exited" : `${timeoutMs / 1000} s`}); last: ${last.code} ${last.stdout}${last.stderr}\ncontainer output:\n${tail(svc.proc.output(), 40)}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Of `dirs`, those the container's user can create a file in. */
async function writableDirs(svc: Service, dirs: readonly string[]): Promise<string[]> {
  const r = await svc.exec(["/bin/sh", "-c", 'for d in "$@"; do if (: > "$d/.w") 2>/dev/null; then rm -f "$d/.w"; echo "$d"; fi; done', "sh", ...dirs]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

describe("stand-ins: the official images' stand-ins, run with podman as the rendered local stack runs them", function () {
  let built: Record<StandinName, BuiltStandin>;
  let r: RenderResult;

  before(async function () {
    if (SKIP) {
      log(`skipped: ${SKIP}`);
      this.skip();
    }
    this.timeout(80 * 60_000); // cold: the base, the golang stand-in and MinIO's compile
    built = await timed("images/build.sh standins", () => ensureStandins());
    r = await timed("render local", () => render("local", []));
  });

  it("the local stack runs exactly the references the stand-ins are tagged with", function () {
    const pg = renderedContainer(findRendered(r, "StatefulSet", "postgres"), "postgres");
    const minio = renderedContainer(findRendered(r, "StatefulSet", "minio"), "minio");
    const mc = renderedContainer(findRendered(r, "Job", "minio-bucket"), "mc");
    assert.equal(qualifyImage(pg.image ?? ""), built["postgres-standin"].ref);
    assert.equal(qualifyImage(minio.image ?? ""), built["minio-standin"].ref);
    assert.equal(qualifyImage(mc.image ?? ""), built["mc-standin"].ref);
  });

  describe("postgres (docker.io/library/postgres:16.10)", function () {
    const password = `pg ${randomBytes(6).toString("hex")} '"$x%`;
    let sts: KubernetesObject;
    let c: ProbedContainer;
    let data: string;
    let port: number;
    let server: Service | undefined;
    let psql: string;
    let database = "";
    let user = "";

    /** The StatefulSet's container on `data`, its port on 127.0.0.1:<port>; env as rendered, the password substituted. */
    function postgresSpec(pw: string): PodmanRunSpec {
      const env = localEnv(c, { secrets: { POSTGRES_PASSWORD: pw } });
      const s = podmanRunSpec(sts, c, { env, volumeSources: { data } });
      return inOwnNetwork(s, [{ host: port, container: 5432 }]);
    }
    async function start(pw: string): Promise<Service> {
      const svc = startService(postgresSpec(pw));
      log(`postgres: ${svc.spec.describe}`);
      assert.ok(c.startupProbe, "the StatefulSet has a startup probe");
      await waitForExecProbe(svc, c.startupProbe, 120_000, "postgres stand-in");
      return svc;
    }
    /** psql (the host's client) over TCP to the published port, password in the environment only. */
    function sql(pw: string, db: string, query: string): Promise<CommandResult> {
      return runCommand(psql, ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", query], {
        env: { ...process.env, PGPASSWORD: pw, PGCONNECT_TIMEOUT: "10" }, timeoutMs: 60_000,
      });
    }

    before(async function () {
      this.timeout(5 * 60_000);
      sts = withClaimVolumes(findRendered(r, "StatefulSet", "postgres"));
      c = renderedContainer(sts, "postgres") as ProbedContainer;
      const fsGroup = renderedPodSpec(sts).securityContext?.fsGroup;
      assert.equal(fsGroup, 999);
      data = claimDir("standin-pg", fsGroup);
      port = await freePort();
      psql = path.join(findPgBin(), "psql");
      database = localEnv(c, { secrets: { POSTGRES_PASSWORD: "x" } }).POSTGRES_DB;
      user = localEnv(c, { secrets: { POSTGRES_PASSWORD: "x" } }).POSTGRES_USER;
      server = await timed("postgres: first start (initdb)", () => start(password));
    });

    afterEach(function () {
      if (this.currentTest?.state === "failed" && server) process.stderr.write(`--- postgres container output (last 40 lines) ---\n${tail(server.proc.output(), 40)}\n`);
    });

    it("initialises the empty volume: PGDATA below the mount, owned by the pod's user, the database and user as rendered", async function () {
      assert.ok(server);
      const out = server.proc.output();
      assert.match(out, /docker-entrypoint\.sh: initialising \/var\/lib\/postgresql\/data\/pgdata/);
      assert.match(out, new RegExp(`created database ${database}\\b`));
      const pgdata = path.join(data, "pgdata");
      const st = fs.statSync(pgdata);
      assert.equal(st.uid, 999, "PGDATA is the pod user's");
      assert.equal(st.mode & 0o777, 0o700, "PGDATA is 0700");
      assert.equal(fs.readFileSync(path.join(pgdata, "PG_VERSION"), "utf8").trim(), "16");
      // The server process runs as the pod's user, with no capabilities.
      const status = await server.exec(["cat", "/proc/1/status"]);
      assert.match(status.stdout, /^Uid:\s+999\s+999\s+999\s+999$/m);
      assert.match(status.stdout, /^CapEff:\s+0+$/m);
      assert.match(status.stdout, /^NoNewPrivs:\s+1$/m);
    });

    it("every rendered probe passes (pg_isready over TCP through /bin/sh, as the kubelet runs it)", async function () {
      assert.ok(server);
      for (const p of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
        assert.ok(p?.exec, "an exec probe");
        const res = await server.exec(p.exec.command);
        assert.equal(res.code, 0, `${JSON.stringify(p.exec.command)}: ${res.stdout}${res.stderr}`);
        assert.match(res.stdout, /127\.0\.0\.1:5432 - accepting connections/);
      }
    });

    it("accepts a password login over TCP, published on 127.0.0.1 only, and refuses a wrong password", async function () {
      assert.ok(server);
      const ports = await podman(["port", server.spec.name]);
      assert.equal(ports.stdout.trim(), `5432/tcp -> 127.0.0.1:${port}`);
      const ok = await sql(password, database, "select current_user, current_database(), version()");
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`^${user}\\|${database}\\|PostgreSQL 16\\.`));
      const bad = await sql(`${password}x`, database, "select 1");
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /password authentication failed for user/);
      // The remote rule is scram-sha-256, and the stored password a SCRAM verifier.
      const enc = await sql(password, database, `select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = current_user`);
      assert.equal(enc.stdout.trim(), "t", enc.stderr);
    });

    it("writes only to its volumes: the claim, /var/run/postgresql and /tmp (read-only root)", async function () {
      assert.ok(server);
      const candidates = ["/", "/etc", "/usr/local/bin", "/usr/lib/postgresql/16", "/var/lib/postgresql", "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata", "/var/run/postgresql", "/tmp"];
      assert.deepEqual(await writableDirs(server, candidates), ["/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata", "/var/run/postgresql", "/tmp"]);
    });

    it("the backup CronJob's dump step runs in it: pg_dump -Fc, pg_restore --list and to the end, sha256sum", async function () {
      this.timeout(5 * 60_000);
      const made = await sql(password, database, "create table standin_check (id int primary key, note text); insert into standin_check select g, md5(g::text) from generate_series(1, 500) g; select count(*) from standin_check");
      assert.equal(made.stdout.trim().split("\n").pop(), "500", made.stderr);
      const cron = findRendered(r, "CronJob", "mlflow-db-backup");
      const pod = renderedPodSpec(cron) as unknown as { initContainers?: FullContainer[] };
      const dump = (pod.initContainers ?? []).find((x) => x.name === DUMP_CONTAINER);
      assert.ok(dump, "the backup pod has its dump init container");
      assert.equal(qualifyImage(dump.image ?? ""), built["postgres-standin"].ref, "the dump step runs the PostgreSQL image");
      // The in-cluster Service → the published port (the dump runs on the host network, as the Job's pod would on its node).
      const env = localEnv(dump, { secrets: { PGPASSWORD: password }, replace: { PGHOST: "127.0.0.1", PGPORT: String(port) } });
      const s = podmanRunSpec(cron, dump, { env });
      log(`backup dump: ${s.describe}`);
      const res = await runToCompletion(s, 180_000);
      const out = res.stdout + res.stderr;
      assert.equal(res.code, 0, out);
      assert.match(out, new RegExp(`backup-dump: ${database}: [0-9]+ bytes, [1-9][0-9]* tables, sha256 [0-9a-f]{64}`));
      assert.match(out, new RegExp(`backup-dump: OK: dumps of ${database} verified`));
      assert.match(out, /pg_dump 16\.[0-9]+/);
    });

    it("pg_restore restores a custom-format dump into another database", async function () {
      assert.ok(server);
      const res = await server.exec(["bash", "-c", [
        "set -euo pipefail",
        `pg_dump -Fc -U "$POSTGRES_USER" -f /tmp/check.dump "$POSTGRES_DB"`,
        `pg_restore --list /tmp/check.dump | grep -q 'TABLE DATA public standin_check'`,
        `createdb -U "$POSTGRES_USER" restored`,
        `pg_restore -U "$POSTGRES_USER" -d restored --no-owner /tmp/check.dump`,
        `psql -U "$POSTGRES_USER" -d restored -Atc 'select count(*), sum(id) from standin_check'`,
      ].join("\n")]);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.equal(res.stdout.trim(), "500|125250");
    });

    it("the basic-auth database Job (psql with the backend-store URI) creates its database", async function () {
      const ra = await render("local", ["access.mode=ingress", "access.ingress.host=mlflow.example.test", "access.ingress.clusterIssuer=letsencrypt", "access.auth=basic"]);
      const job = findRendered(ra, "Job", "mlflow-auth-db");
      const jc = renderedContainer(job) as FullContainer;
      assert.equal(qualifyImage(jc.image ?? ""), built["postgres-standin"].ref, "the Job runs the PostgreSQL image");
      const uri = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
      const s = podmanRunSpec(job, jc, { env: localEnv(jc, { secrets: { MLFLOW_BACKEND_STORE_URI: uri } }) });
      for (const round of [1, 2]) {
        const res = await runToCompletion(s, 120_000);
        assert.equal(res.code, 0, `round ${round}: ${res.stdout}${res.stderr}`);
        assert.match(res.stdout, /database mlflow_auth ready/);
      }
      const exists = await sql(password, database, "select count(*) from pg_database where datname = 'mlflow_auth'");
      assert.equal(exists.stdout.trim(), "1", exists.stderr);
    });

    it("SIGINT (STOPSIGNAL) stops it within the grace period; a restart keeps the data and the first password", async function () {
      this.timeout(5 * 60_000);
      assert.ok(server);
      const stop = await server.stop();
      log(`postgres stopped in ${stop.ms} ms, exit ${String(stop.code)}`);
      assert.equal(stop.code, 0, tail(server.proc.output(), 20));
      assert.ok(stop.ms < server.spec.terminationGracePeriodSeconds * 1000, `stopped after ${stop.ms} ms`);
      assert.match(server.proc.output(), /received fast shutdown request/);
      // A new pod on the same claim, its Secret now holding another password: PostgreSQL keeps the one it was
      // initialised with (config.ts: rotate it with ALTER ROLE too).
      server = await timed("postgres: restart on the same volume", () => start(`${password}-rotated`));
      assert.match(server.proc.output(), /holds a PostgreSQL 16 database: no initialisation/);
      assert.doesNotMatch(server.proc.output(), /initialising/);
      const rows = await sql(password, database, "select count(*) from standin_check");
      assert.equal(rows.code, 0, rows.stderr);
      assert.equal(rows.stdout.trim(), "500");
      const rotated = await sql(`${password}-rotated`, database, "select 1");
      assert.notEqual(rotated.code, 0, "the Secret's new password does not replace the initialised one");
      const stop2 = await server.stop();
      assert.equal(stop2.code, 0);
    });
  });

  describe("minio (quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z) and its bucket Job (quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z)", function () {
    const root = { user: `root-${randomBytes(4).toString("hex")}`, password: randomBytes(16).toString("hex") };
    const keys = { id: `mlflow-${randomBytes(4).toString("hex")}`, secret: randomBytes(16).toString("hex") };
    let server: Service | undefined;
    let s3Port: number;
    let consolePort: number;
    let bucket: string;
    let endpoint: string;

    /** boto3 (the integration tools venv) against the published port, as `creds`; prints one JSON line. */
    async function boto(creds: { id: string; secret: string } | undefined, code: string): Promise<Record<string, unknown>> {
      const v = await ensureVenv("tools");
      const script = [
        "import json, os, sys, boto3, botocore",
        "from botocore import UNSIGNED",
        "from botocore.config import Config",
        "signed = os.environ.get('AWS_ACCESS_KEY_ID') is not None",
        "s3 = boto3.client('s3', endpoint_url=os.environ['ENDPOINT'], region_name='us-east-1', config=Config(signature_version=None if signed else UNSIGNED, retries={'max_attempts': 1}))",
        "def code_of(f):",
        "    try:",
        "        f(); return 'ok'",
        "    except botocore.exceptions.ClientError as e:",
        "        return e.response['Error']['Code']",
        "out = {}",
        code,
        "print(json.dumps(out))",
      ].join("\n");
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ENDPOINT: endpoint, BUCKET: bucket, AWS_EC2_METADATA_DISABLED: "true" };
      if (creds) { env.AWS_ACCESS_KEY_ID = creds.id; env.AWS_SECRET_ACCESS_KEY = creds.secret; }
      const res = await runCommand(v.python, ["-c", script], { env, timeoutMs: 120_000 });
      assert.equal(res.code, 0, res.stdout + res.stderr);
      return JSON.parse(res.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    }

    before(async function () {
      this.timeout(5 * 60_000);
      const sts = withClaimVolumes(findRendered(r, "StatefulSet", "minio"));
      const c = renderedContainer(sts, "minio") as FullContainer;
      const fsGroup = renderedPodSpec(sts).securityContext?.fsGroup;
      assert.equal(fsGroup, 1000);
      [s3Port, consolePort] = [await freePort(), await freePort()];
      endpoint = `http://127.0.0.1:${s3Port}`;
      const env = localEnv(c, { secrets: { MINIO_ROOT_USER: root.user, MINIO_ROOT_PASSWORD: root.password } });
      // The rendered args (server /data --address :9000 --console-address :9001) unchanged: in its own network.
      const s = inOwnNetwork(podmanRunSpec(sts, c, { env, volumeSources: { data: claimDir("standin-minio", fsGroup) } }), [{ host: s3Port, container: 9000 }, { host: consolePort, container: 9001 }]);
      log(`minio: ${s.describe}; args ${s.args.join(" ")}`);
      server = startService(s);
      await timed("minio: ready", () => waitForHttp200(server!.proc, `${endpoint}/minio/health/ready`, 120_000, "minio stand-in"));
      const job = findRendered(r, "Job", "minio-bucket");
      const script = renderedContainer(job, "mc").command?.[2] ?? "";
      bucket = /mc mb --ignore-existing local\/(\S+)/.exec(script)?.[1] ?? "";
      assert.ok(bucket, `the bucket Job's script names its bucket:\n${script}`);
    });

    afterEach(function () {
      if (this.currentTest?.state === "failed" && server) process.stderr.write(`--- minio container output (last 40 lines) ---\n${tail(server.proc.output(), 40)}\n`);
    });

    after(async function () {
      this.timeout(120_000);
      if (server) {
        const stop = await server.stop();
        log(`minio stopped in ${stop.ms} ms, exit ${String(stop.code)}`);
      }
    });

    it("answers the rendered probes' paths (/minio/health/live, /ready) and serves its console, as the pod's user", async function () {
      assert.ok(server);
      for (const p of ["/minio/health/live", "/minio/health/ready"]) {
        const res = await fetch(`${endpoint}${p}`);
        assert.equal(res.status, 200, p);
      }
      const consoleRes = await fetch(`http://127.0.0.1:${consolePort}/`);
      assert.equal(consoleRes.status, 200, "the console on --console-address");
      assert.match(await consoleRes.text(), /MinIO/i);
      const status = await server.exec(["cat", "/proc/1/status"]);
      assert.match(status.stdout, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
      assert.match(status.stdout, /^CapEff:\s+0+$/m);
      const ports = await podman(["port", server.spec.name]);
      assert.deepEqual(ports.stdout.trim().split("\n").sort(), [`9000/tcp -> 127.0.0.1:${s3Port}`, `9001/tcp -> 127.0.0.1:${consolePort}`]);
      assert.deepEqual(await writableDirs(server, ["/", "/etc", "/usr/bin", "/data", "/tmp"]), ["/data", "/tmp"]);
    });

    it("the bucket Job's rendered script creates the private, versioned bucket, the policy and MLflow's user, and runs again", async function () {
      this.timeout(5 * 60_000);
      const job = findRendered(r, "Job", "minio-bucket");
      const c = renderedContainer(job, "mc") as FullContainer;
      assert.deepEqual(c.command?.slice(0, 2), ["/bin/sh", "-c"]);
      const script = c.command?.[2] ?? "";
      const inCluster = minioEndpoint(job.metadata.namespace ?? "");
      assert.equal(script.split(inCluster).length, 2, `the script names ${inCluster} once:\n${script}`);
      // The one substitution: the MinIO Service's cluster name → the published port.
      const local: FullContainer = { ...c, command: ["/bin/sh", "-c", script.replace(inCluster, endpoint)] };
      const env = localEnv(c, { secrets: { MINIO_ROOT_USER: root.user, MINIO_ROOT_PASSWORD: root.password, AWS_ACCESS_KEY_ID: keys.id, AWS_SECRET_ACCESS_KEY: keys.secret } });
      for (const round of [1, 2]) {
        const s = podmanRunSpec(job, local, { env });
        if (round === 1) log(`bucket Job: ${s.describe}`);
        const res = await timed(`bucket Job, run ${round}`, () => runToCompletion(s, 180_000));
        assert.equal(res.code, 0, `round ${round}: ${res.stdout}${res.stderr}`);
        assert.match(res.stdout, new RegExp(`bucket ${bucket} ready`));
      }
      await timed("tools venv (boto3)", () => ensureVenv("tools"));
      const asRoot = await boto({ id: root.user, secret: root.password }, [
        "out['versioning'] = s3.get_bucket_versioning(Bucket=os.environ['BUCKET']).get('Status')",
        "out['buckets'] = [b['Name'] for b in s3.list_buckets()['Buckets']]",
        "out['policy'] = code_of(lambda: s3.get_bucket_policy(Bucket=os.environ['BUCKET']))",
      ].join("\n"));
      assert.deepEqual(asRoot, { versioning: "Enabled", buckets: [bucket], policy: "NoSuchBucketPolicy" });
    });

    it("MLflow's user puts and gets objects in the bucket, and cannot create another bucket; anonymous reads are refused", async function () {
      this.timeout(3 * 60_000);
      const user = await boto({ id: keys.id, secret: keys.secret }, [
        "b = os.environ['BUCKET']",
        "s3.put_object(Bucket=b, Key='runs/1/artifact.txt', Body=b'stand-in check')",
        "out['get'] = s3.get_object(Bucket=b, Key='runs/1/artifact.txt')['Body'].read().decode()",
        "out['list'] = [o['Key'] for o in s3.list_objects_v2(Bucket=b).get('Contents', [])]",
        "out['create'] = code_of(lambda: s3.create_bucket(Bucket=b + '-other'))",
        "out['delete_bucket'] = code_of(lambda: s3.delete_bucket(Bucket=b))",
      ].join("\n"));
      assert.equal(user.get, "stand-in check");
      assert.deepEqual(user.list, ["runs/1/artifact.txt"]);
      assert.equal(user.create, "AccessDenied");
      assert.equal(user.delete_bucket, "AccessDenied");
      const anonymous = await boto(undefined, "out['get'] = code_of(lambda: s3.get_object(Bucket=os.environ['BUCKET'], Key='runs/1/artifact.txt'))");
      assert.equal(anonymous.get, "AccessDenied");
    });
  });
});
