/**
 * A throw-away PostgreSQL server on 127.0.0.1 (fresh cluster in a temp dir, scram-sha-256 auth).
 * Several can run at once; each is registered for cleanup until stop() is called.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { registerCleanup, runChecked, runCommand, tail } from "./process";

export interface PostgresServer {
  host: "127.0.0.1";
  port: number;
  user: string;
  password: string;
  binDir: string;
  /** postgresql://user:pass@127.0.0.1:port/db */
  url(db: string): string;
  createDatabase(name: string): Promise<void>;
  /** Runs `sql` with `psql -At` against `db` and returns its stdout (trailing newline trimmed). */
  query(db: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

/** `$PG_BIN`, else the highest-versioned /usr/lib/postgresql/<v>/bin that has initdb. */
export function findPgBin(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (!fs.existsSync(path.join(fromEnv, "initdb"))) throw new Error(`PG_BIN=${fromEnv} has no initdb`);
    return fromEnv;
  }
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  if (versions.length === 0) {
    throw new Error(`no PostgreSQL server binaries: set PG_BIN or install postgresql (looked in ${base}/*/bin)`);
  }
  return path.join(base, versions[0], "bin");
}

const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * `settings`: more postgresql.conf lines, after the harness's own (the last one wins), e.g. a small max_wal_size for
 * a server that takes a heavy write load on a machine with little disk.
 */
export async function startPostgres(opts: { name?: string; settings?: readonly string[] } = {}): Promise<PostgresServer> {
  const binDir = findPgBin();
  const label = (opts.name ?? "pg").replace(/[^A-Za-z0-9_-]/g, "-");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `mlflow-it-${label}-`));
  const dataDir = path.join(tmp, "data");
  const logFile = path.join(tmp, "server.log");
  const user = "mlflow";
  const password = randomBytes(12).toString("hex");
  // pg_ctl/initdb refuse to run as root: hand the dir to `postgres` and run them through runuser.
  const asServer = (tool: string, args: string[]) =>
    IS_ROOT ? runChecked("runuser", ["-u", "postgres", "--", path.join(binDir, tool), ...args], { cwd: tmp })
      : runChecked(path.join(binDir, tool), args, { cwd: tmp });

  let port = 0;
  let started = false;
  const cleanupDir = () => fs.rmSync(tmp, { recursive: true, force: true });
  const killSync = () => {
    try {
      const pid = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (pid > 0) process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch { /* not running */ }
    cleanupDir();
  };
  let unregister = registerCleanup(() => { killSync(); }, killSync);

  try {
    const pwFile = path.join(tmp, "pwfile");
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (IS_ROOT) await runChecked("chown", ["-R", "postgres:postgres", tmp]);
    await asServer("initdb", ["-D", dataDir, "-U", user, `--pwfile=${pwFile}`, "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"]);
    fs.rmSync(pwFile);

    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      fs.appendFileSync(path.join(dataDir, "postgresql.conf"), [
        "", "# mlflow-platform integration test settings (last one wins)",
        "listen_addresses = '127.0.0.1'", `port = ${port}`, `unix_socket_directories = '${tmp}'`,
        "fsync = off", "synchronous_commit = off", "full_page_writes = off", "max_connections = 100", ...(opts.settings ?? []), "",
      ].join("\n"));
      try {
        await asServer("pg_ctl", ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"]);
        started = true;
        break;
      } catch (err) {
        const log = fs.existsSync(logFile) ? tail(fs.readFileSync(logFile, "utf8"), 20) : "";
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`PostgreSQL (${label}) did not start: ${err instanceof Error ? err.message : String(err)}\n${log}`);
      }
    }
  } catch (err) {
    unregister();
    killSync();
    throw err;
  }

  const psql = path.join(binDir, "psql");
  const env = { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" };
  let stopping: Promise<void> | undefined;
  const server: PostgresServer = {
    host: "127.0.0.1",
    port,
    user,
    password,
    binDir,
    url: (db) => `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`,
    async createDatabase(name) {
      if (!DB_NAME.test(name)) throw new Error(`createDatabase: invalid database name "${name}" (letters, digits, _; max 63)`);
      await server.query("postgres", `CREATE DATABASE "${name}"`);
    },
    async query(db, sql) {
      const r = await runCommand(psql, ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-c", sql], { env, timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`psql on ${db} failed (exit ${r.code}) for: ${sql}\n${tail(r.stderr, 10)}`);
      return r.stdout.replace(/\n$/, "");
    },
    stop() {
      stopping ??= (async () => {
        try {
          if (started) await asServer("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
        } catch (err) {
          killSync();
          throw err;
        } finally {
          unregister();
          cleanupDir();
        }
      })();
      return stopping;
    },
  };
  unregister();
  unregister = registerCleanup(() => server.stop(), killSync);
  return server;
}

/** Exact count(*) of every table of `db` outside the system schemas, by `schema.table`. */
export async function tableCounts(pg: PostgresServer, db: string): Promise<Map<string, number>> {
  const tables = (await pg.query(db, `select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables
    where schemaname not in ('pg_catalog', 'information_schema') order by 1`)).split("\n").filter((t) => t !== "");
  if (tables.length === 0) return new Map();
  const out = await pg.query(db, tables.map((t) => `select '${t}', count(*) from ${t}`).join(" union all "));
  return new Map(out.split("\n").map((line) => {
    const [t, n] = line.split("|");
    return [t, Number(n)] as const;
  }));
}
