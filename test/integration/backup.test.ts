/**
 * Backups of the in-cluster PostgreSQL on real services: the shared PostgreSQL holds a real MLflow database (a real
 * MLflow server logged two runs, registered two versions and set `production`) and a second database standing in for
 * the basic-auth one; the backup CronJob's two containers run as rendered by manifests/backup.ts (command and env taken
 * from the builder's output, only the emptyDir path and the Secret values substituted) against moto's S3; then
 * scripts/restore-database.sh restores into fresh databases, and a second MLflow server on the restored database must
 * resolve models:/<model>@production to the same storage URI. A failing or bad dump must fail the backup and upload
 * nothing; a missing, empty or corrupt dump, or a non-empty target, must make the restore refuse and touch nothing.
 */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DeleteObjectCommand, GetObjectAclCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { MlflowRegistryClient, resolveModel, type ResolvedModel } from "../../lib/registry";
import { AUTH_DATABASE } from "../../components/access";
import { artifactAccessPolicy, workloadAccess } from "../../lib/iam-policies";
import { SERVICE_ACCOUNTS } from "../../components/mlflow-platform";
import {
    BACKUP_DIR,
    BACKUP_SERVICE_ACCOUNT,
    BACKUP_STAMP,
    backupPrefix,
    backupCronJob,
    backupDatabases,
    backupEncryption,
    DEFAULT_BACKUP_SCHEDULE,
    DUMP_CONTAINER,
    UPLOAD_CONTAINER,
} from "../../manifests/backup";
import { mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import { startMoto, type S3Server } from "../../testbed/moto";
import { freePort } from "../../testbed/ports";
import { tableCounts, type PostgresServer } from "../../testbed/postgres";
import { runCommand, stepLog, type CommandResult } from "../../testbed/process";
import { dockerEnv, localCommand, localEnv, runLocal, type RenderedContainer } from "../../testbed/rendered";
import { runPython } from "../../testbed/python";
import { listKeys } from "../../testbed/s3-objects";
import { registerCleanup, sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT, type Venv } from "../../testbed/venv";

const RESTORE = path.join(REPO_ROOT, "scripts", "restore-database.sh");
const SEED = path.join(REPO_ROOT, "test", "integration", "fixtures", "seed_mlflow.py");
const MOTO_IAM_USERS = path.join(REPO_ROOT, "test", "integration", "fixtures", "moto_iam_users.py");
const MLFLOW_DOCKERFILE = path.join(REPO_ROOT, "images", "mlflow", "Dockerfile");
const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `backup-it-${SUFFIX}`;
const MODEL = "BackupCheck";
/** The MLflow database and the one standing in for the basic-auth app's (its real name is mlflow_auth). */
const SRC = `backup_src_${SUFFIX}`;
const AUTH = `${AUTH_DATABASE}_${SUFFIX}`;
const KEYS_SECRET = "mlflow-aws-credentials";
const { log, timed } = stepLog("backup");

interface AccessKey { accessKeyId: string; secretAccessKey: string }

/** Everything a restore could change in a database, as one digest: every row of every table, and the table list. */
async function fingerprint(pg: PostgresServer, db: string): Promise<string> {
    const tables = (await pg.query(db, `select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables
      where schemaname not in ('pg_catalog', 'information_schema') order by 1`)).split("\n").filter((t) => t !== "");
    if (tables.length === 0) return "no tables";
    const rows = await pg.query(db, tables.map((t) => `select '${t}', md5(coalesce(string_agg(x::text, ',' order by x::text), '')) from ${t} x`).join(" union all "));
    return createHash("sha256").update(rows).digest("hex");
}

/** `schema.table rows` lines of the restore's report. */
function reportedCounts(stdout: string): Map<string, number> {
    const rows = new Map<string, number>();
    for (const m of stdout.matchAll(/^(\S+\.\S+)\s+(\d+)$/gm)) rows.set(m[1], Number(m[2]));
    return rows;
}

function oneErrorLine(r: CommandResult): string {
    const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
    assert.equal(lines.length, 1, `exactly one line on stderr:\n${r.stderr}`);
    assert.match(lines[0], /^restore-database: error: /);
    return lines[0];
}

async function bytesOf(s3: S3Client, key: string): Promise<Buffer> {
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await obj.Body!.transformToByteArray());
}

describe("database backup: the CronJob's commands and scripts/restore-database.sh on real PostgreSQL, MLflow and S3 (moto)", function () {
    let pg: PostgresServer;
    let moto: S3Server;
    let s3: S3Client;
    let mlflowVenv: Venv;
    let before_: ResolvedModel;
    const backedUp: Record<string, string> = {};
    let restoredDb = "";
    let restoredOk = false;
    let serverArgs: (db: string) => Promise<MlflowServer>;
    const cronJob = (s3Server: S3Server = moto) =>
        backupCronJob({
            namespace: "mlflow",
            schedule: DEFAULT_BACKUP_SCHEDULE,
            postgresImage: "postgres:16.10",
            uploaderImage: "mlflow-platform/mlflow:local",
            // The in-cluster Service's name and port are the builder's input: the test server's are given here.
            host: "127.0.0.1",
            port: pg.port,
            username: pg.user,
            passwordSecretName: "postgres-credentials",
            databases: backupDatabases(SRC, AUTH),
            artifactRoot: `s3://${BUCKET}`,
            aws: { keysSecretName: KEYS_SECRET, region: s3Server.region, s3Endpoint: s3Server.endpoint },
            encryption: backupEncryption(),
            serviceAccountName: BACKUP_SERVICE_ACCOUNT,
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
            activeDeadlineSeconds: 3600,
            backoffLimit: 2,
            workDirSize: "20Gi",
        });

    /** The rendered init container and container of the backup pod. */
    function rendered(s3Server: S3Server = moto): { dump: RenderedContainer; upload: RenderedContainer } {
        // Walking the builder's plain output (no Output in its input here).
        const pod = (cronJob(s3Server) as unknown as { spec: { jobTemplate: { spec: { template: { spec: { initContainers: RenderedContainer[]; containers: RenderedContainer[] } } } } } }).spec.jobTemplate.spec.template.spec;
        assert.deepEqual(pod.initContainers.map((c) => c.name), [DUMP_CONTAINER]);
        assert.deepEqual(pod.containers.map((c) => c.name), [UPLOAD_CONTAINER]);
        return { dump: pod.initContainers[0], upload: pod.containers[0] };
    }

    /**
     * One backup pod, run as the kubelet would: the init container (dump) to completion, then, only if it exited 0,
     * the container (upload), sharing one directory for the emptyDir at /backup. `pgBin` replaces the image's
     * PostgreSQL tools (a fake pg_dump in the failure cases), `password` the Secret's value, `s3` and `keys` the S3
     * server and the keys Secret's values (default: the shared moto's).
     */
    async function runBackupPod(
        opts: { pgBin?: string; password?: string; beforeUpload?: (dir: string) => void; s3?: S3Server; keys?: AccessKey } = {},
    ): Promise<{ dump: CommandResult; upload?: CommandResult; dir: string }> {
        const s3Server = opts.s3 ?? moto;
        const keys = opts.keys ?? { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey };
        const { dump, upload } = rendered(s3Server);
        const dir = tempDir("backup-pod");
        const home = tempDir("backup-home");
        const dumpCmd = localCommand(dump, {
            binDir: opts.pgBin ?? pg.binDir,
            env: localEnv(dump, { secrets: { PGPASSWORD: opts.password ?? pg.password }, replace: { BACKUP_DIR: dir, HOME: home } }),
        });
        const d = await runLocal(dumpCmd, { cwd: home, timeoutMs: 300_000 });
        if (d.code !== 0) return { dump: d, dir };
        opts.beforeUpload?.(dir);
        const uploadCmd = localCommand(upload, {
            binDir: path.dirname(mlflowVenv.python),
            imageEnv: dockerEnv(MLFLOW_DOCKERFILE),
            env: localEnv(upload, {
                secrets: { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey },
                replace: { BACKUP_DIR: dir, HOME: home },
            }),
        });
        return { dump: d, upload: await runLocal(uploadCmd, { cwd: home, timeoutMs: 300_000 }), dir };
    }

    async function restore(args: string[], env: Record<string, string>): Promise<CommandResult> {
        return runCommand("bash", [RESTORE, ...args], {
            env: { ...process.env, ...moto.env(), PG_BIN: pg.binDir, PYTHON: mlflowVenv.python, ...env },
            timeoutMs: 300_000,
        });
    }

    async function freshDb(label: string): Promise<string> {
        const name = `backup_${label}_${SUFFIX}`;
        await pg.createDatabase(name);
        return name;
    }

    const backupKeys = () => listKeys(s3, BUCKET, "backups/");

    before(async function () {
        this.timeout(30 * 60_000); // a first run builds the mlflow venv
        [pg, moto, mlflowVenv] = await Promise.all([sharedPostgres(), sharedMoto(), ensureVenv("mlflow")]);
        s3 = moto.client();
        registerCleanup(() => s3.destroy());
        await Promise.all([moto.createBucket(BUCKET), pg.createDatabase(SRC), pg.createDatabase(AUTH)]);
        // The basic-auth stand-in: a few users, as MLflow's auth app would keep them.
        await pg.query(AUTH, "create table users (id serial primary key, username text unique not null, is_admin boolean not null); insert into users (username, is_admin) values ('admin', true), ('alice', false), ('bob', false)");
        serverArgs = (db) => freePort().then((port) => startMlflowServer({
            args: mlflowServerArgs(port, ["--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/mlartifacts`, "--no-serve-artifacts", "--workers", "1"]),
            env: moto.env(),
            healthTimeoutMs: 600_000,
        }));
        const server = await timed("source MLflow up", () => serverArgs(SRC));
        try {
            const seed = await timed("seed (2 runs, 2 versions, production -> 1)", () => runPython("mlflow", SEED, {
                args: [server.url, MODEL], env: { ...moto.env(), MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1", MLFLOW_HTTP_REQUEST_TIMEOUT: "60" },
            }));
            assert.equal(seed.code, 0, `seed_mlflow.py failed:\n${seed.stderr.slice(-3000)}`);
            before_ = await resolveModel(new MlflowRegistryClient({ trackingUri: server.url }), { servedName: "check", registeredModel: MODEL, alias: "production" }, { allowedPrefixes: [`s3://${BUCKET}`] });
        } finally {
            await server.stop(); // no writer during the comparisons below
        }
        assert.equal(before_.version, "1");
        assert.match(before_.storageUri, new RegExp(`^s3://${BUCKET}/mlartifacts/`));
    });

    it("the CronJob's dump + upload write one verified dump per database to backups/<db>/<UTC stamp>.dump, SSE, owner-only", async function () {
        const t0 = Date.now();
        const r = await runBackupPod();
        log(`backup pod (2 databases): ${Date.now() - t0} ms\n${r.dump.stdout}${r.upload?.stdout ?? ""}`);
        assert.equal(r.dump.code, 0, `dump exited ${r.dump.code}:\n${r.dump.stdout}\n${r.dump.stderr}`);
        assert.ok(r.upload, "the upload container ran");
        assert.equal(r.upload.code, 0, `upload exited ${r.upload.code}:\n${r.upload.stdout}\n${r.upload.stderr}`);
        assert.match(r.dump.stdout, new RegExp(`OK: dumps of ${SRC} ${AUTH} verified at \\d{8}T\\d{6}Z`));
        assert.match(r.upload.stdout, /OK: 2 database\(s\) backed up at \d{8}T\d{6}Z/);
        for (const out of [r.dump, r.upload]) assert.ok(!(out.stdout + out.stderr).includes(pg.password), "the database password was printed");

        const keys = await backupKeys();
        assert.equal(keys.length, 2, keys.join(", "));
        for (const db of [SRC, AUTH]) {
            const key = keys.find((k) => k.startsWith(`backups/${db}/`));
            assert.ok(key, `no dump of ${db} in ${keys.join(", ")}`);
            const stamp = path.basename(key, ".dump");
            assert.match(stamp, BACKUP_STAMP);
            // the stamp is UTC and now
            const at = Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);
            assert.ok(Math.abs(at - Date.now()) < 10 * 60_000, `stamp ${stamp} is not about now (UTC)`);
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
            assert.equal(head.ServerSideEncryption, "AES256", `${key} is not stored with SSE`);
            const body = await bytesOf(s3, key);
            assert.equal(body.subarray(0, 5).toString("latin1"), "PGDMP");
            assert.equal(head.Metadata?.sha256, createHash("sha256").update(body).digest("hex"));
            assert.equal(head.Metadata?.database, db);
            const acl = await s3.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: key }));
            assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.Type, g.Permission]), [["CanonicalUser", "FULL_CONTROL"]], "only the owner: no public or other grant");
            assert.equal(acl.Grants?.[0]?.Grantee?.ID, acl.Owner?.ID);
            backedUp[db] = `s3://${BUCKET}/${key}`;
        }
        assert.ok(!fs.readdirSync(r.dir).some((f) => f.endsWith(".partial")), "no partial file left");
    });

    it("under IRSA the backup role's policy (workloadAccess, as WorkloadIdentity attaches it) lets the upload step write backups/ and nothing else (moto enforcing IAM)", async function () {
        // IAM enforced after: the readiness probe, the bucket, three IAM actions per user.
        const users = ["backup", "serving"] as const;
        const iamMoto = await startMoto({ enforceIamAfter: 1 + 1 + 3 * users.length });
        registerCleanup(() => iamMoto.stop());
        await iamMoto.createBucket(BUCKET);
        const root = `s3://${BUCKET}`;
        const access = workloadAccess(BUCKET, { ...SERVICE_ACCOUNTS, backup: BACKUP_SERVICE_ACCOUNT }, {}, backupPrefix(root) as string);
        const policyFile = (sa: string) => {
            const f = path.join(tempDir("iam-policy"), `${sa}.json`);
            fs.writeFileSync(f, JSON.stringify(artifactAccessPolicy(access.find((a) => a.serviceAccount === sa)!.grants)));
            return f;
        };
        const made = await runPython("tools", MOTO_IAM_USERS, {
            args: ["--user", `backup=${policyFile(BACKUP_SERVICE_ACCOUNT)}`, "--user", `serving=${policyFile(SERVICE_ACCOUNTS.serving)}`],
            env: { ...iamMoto.env(), AWS_ENDPOINT_URL: iamMoto.endpoint },
        });
        const line = made.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
        assert.ok(made.code === 0 && line, `moto_iam_users.py exited ${made.code}:\n${made.stderr.slice(-2000)}`);
        const keys = JSON.parse(line.slice("RESULT_JSON=".length)) as Record<(typeof users)[number], AccessKey>;
        const client = (k: AccessKey) => new S3Client({ endpoint: iamMoto.endpoint, region: iamMoto.region, forcePathStyle: true, credentials: k });
        const denied = async (what: string, p: Promise<unknown>) => {
            await p.then(() => assert.fail(`${what} was allowed`), (err: unknown) => assert.match(String((err as { name?: string }).name ?? err), /AccessDenied/, `${what}: ${String(err)}`));
        };

        // Enforcement is on: the serving role (read-only) cannot upload a backup.
        const refused = await runBackupPod({ s3: iamMoto, keys: keys.serving });
        assert.equal(refused.dump.code, 0);
        assert.notEqual(refused.upload?.code, 0, "the serving role uploaded a backup: is IAM enforced?");
        assert.match(refused.upload?.stderr ?? "", /backup-upload: error: .*AccessDenied/);

        // The backup role: the rendered upload step succeeds (PutObject, then HeadObject = s3:GetObject)...
        const r = await runBackupPod({ s3: iamMoto, keys: keys.backup });
        assert.equal(r.upload?.code, 0, `upload as the backup role exited ${r.upload?.code}:\n${r.upload?.stderr}`);
        const uploaded = [...(r.upload?.stdout ?? "").matchAll(new RegExp(`uploaded s3://${BUCKET}/(backups/\\S+\\.dump)`, "g"))].map((m) => m[1]);
        assert.equal(uploaded.length, 2, r.upload?.stdout);
        // ...and nothing more: no delete of a backup, no write or read outside backups/, no listing of other buckets.
        const b = client(keys.backup);
        try {
            await b.send(new GetObjectCommand({ Bucket: BUCKET, Key: uploaded[0] })).then((o) => o.Body?.transformToByteArray());
            await denied("DeleteObject of a backup", b.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: uploaded[0] })));
            await denied("PutObject outside backups/", b.send(new PutObjectCommand({ Bucket: BUCKET, Key: "mlartifacts/1/x.txt", Body: "x" })));
            await denied("GetObject outside backups/", b.send(new GetObjectCommand({ Bucket: BUCKET, Key: "mlartifacts/1/x.txt" })));
            await denied("ListBuckets", b.send(new ListBucketsCommand({})));
        } finally {
            b.destroy();
        }
    });

    it("restore-database.sh latest → a fresh database: every table's row count equal to the source, printed", async function () {
        assert.ok(backedUp[SRC], "depends on the backup above");
        restoredDb = await freshDb("restored");
        const t0 = Date.now();
        const r = await restore(["latest"], { BACKUP_PREFIX: `s3://${BUCKET}/backups/${SRC}`, TARGET_DATABASE_URL: pg.url(restoredDb) });
        log(`restore latest: ${Date.now() - t0} ms\n${r.stdout}`);
        assert.equal(r.code, 0, `restore exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
        assert.ok(r.stdout.includes(`OK: restored ${backedUp[SRC]} into `), r.stdout);
        const [src, tgt] = await Promise.all([tableCounts(pg, SRC), tableCounts(pg, restoredDb)]);
        assert.deepEqual([...tgt.entries()], [...src.entries()]);
        // not a vacuous equality: what MLflow wrote is there
        assert.equal(tgt.get("public.runs"), 2);
        assert.equal(tgt.get("public.model_versions"), 2);
        assert.equal(tgt.get("public.registered_model_aliases"), 1);
        assert.ok((tgt.get("public.metrics") ?? 0) >= 12);
        assert.deepEqual([...reportedCounts(r.stdout).entries()].sort(), [...src.entries()].sort(), "the printed counts are the real ones");
        assert.equal(await fingerprint(pg, restoredDb), await fingerprint(pg, SRC), "row for row");
        assert.equal(await pg.query(restoredDb, "select version_num from alembic_version"), await pg.query(SRC, "select version_num from alembic_version"));
        assert.ok(!(r.stdout + r.stderr).includes(pg.password), "the password was printed");
        restoredOk = true;

        // the basic-auth stand-in, by its explicit URI, the target URL as an argument
        const authRestored = await freshDb("auth_restored");
        const a = await restore([backedUp[AUTH], pg.url(authRestored)], {});
        assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
        assert.deepEqual([...(await tableCounts(pg, authRestored)).entries()], [["public.users", 3]]);
        assert.equal(await fingerprint(pg, authRestored), await fingerprint(pg, AUTH));
    });

    it("a second MLflow server on the restored database resolves models:/<model>@production to the same storage URI", async function () {
        assert.ok(restoredOk, "depends on the restore above");
        const server = await timed("restored MLflow up", () => serverArgs(restoredDb));
        try {
            const after_ = await resolveModel(new MlflowRegistryClient({ trackingUri: server.url }), { servedName: "check", registeredModel: MODEL, alias: "production" }, { allowedPrefixes: [`s3://${BUCKET}`] });
            assert.deepEqual(after_, before_);
        } finally {
            await server.stop();
        }
    });

    describe("the restore refuses, with one line, and touches nothing", () => {
        let emptyTarget: string;
        let fullTarget: string;
        let fullPrint: string;
        let goodDump: Buffer;

        before(async function () {
            assert.ok(backedUp[SRC], "depends on the backup above");
            emptyTarget = await freshDb("empty_target");
            // a non-empty target that --into-non-empty would replace: it must stay exactly as it is
            fullTarget = await freshDb("full_target");
            await pg.query(fullTarget, "create table runs (run_uuid text primary key, name text); insert into runs values ('keep-me', 'before the failed restore')");
            fullPrint = await fingerprint(pg, fullTarget);
            goodDump = await bytesOf(s3, backedUp[SRC].slice(`s3://${BUCKET}/`.length));
        });

        async function refused(uri: string, code: number, message: RegExp, env: Record<string, string> = {}): Promise<void> {
            for (const [target, flags] of [[emptyTarget, []], [fullTarget, ["--into-non-empty"]]] as const) {
                const r = await restore([...flags, uri], { TARGET_DATABASE_URL: pg.url(target), ...env });
                assert.equal(r.code, code, `expected exit ${code} for ${uri} into ${target}, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
                const line = oneErrorLine(r);
                assert.match(line, message);
                if (target === emptyTarget) log(`refused (exit ${r.code}): ${line}`);
            }
            assert.deepEqual([...(await tableCounts(pg, emptyTarget)).entries()], [], "the empty target got tables");
            assert.equal(await fingerprint(pg, fullTarget), fullPrint, "the non-empty target changed");
        }

        const put = (key: string, body: Buffer | string, metadata?: Record<string, string>) =>
            s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));

        it("a missing dump (exit 4), and 'latest' under a prefix that holds none", async function () {
            await refused(`s3://${BUCKET}/backups/${SRC}/20000101T000000Z.dump`, 4, /dump s3:\/\/.*\/20000101T000000Z\.dump not found$/);
            await refused("latest", 4, new RegExp(`no dump under s3://${BUCKET}/backups/nothing_here/`), { BACKUP_PREFIX: `s3://${BUCKET}/backups/nothing_here` });
        });

        it("an empty dump (exit 6)", async function () {
            await put("bad/empty.dump", Buffer.alloc(0));
            await refused(`s3://${BUCKET}/bad/empty.dump`, 6, /dump s3:\/\/.*\/bad\/empty\.dump is empty \(0 bytes\); refusing to restore it$/);
        });

        it("a corrupt dump: not an archive, truncated, or changed since the backup (exit 6)", async function () {
            await put("bad/garbage.dump", randomBytes(4096));
            await refused(`s3://${BUCKET}/bad/garbage.dump`, 6, /dump s3:\/\/.*\/bad\/garbage\.dump is corrupt: pg_restore --list cannot read it \(.+\); refusing to restore it$/);
            // no recorded sha256 to compare below: the archive's own structure must give the damage away
            // the first 60 %: the table of contents (the schema, at the start) is cut
            await put("bad/truncated.dump", goodDump.subarray(0, Math.floor(goodDump.length * 0.6)));
            await refused(`s3://${BUCKET}/bad/truncated.dump`, 6, /dump s3:\/\/.*\/bad\/truncated\.dump is corrupt: pg_restore --list cannot read it \(.+\); refusing to restore it$/);
            // the last 16 bytes missing: the table of contents reads (pg_restore --list passes), the data does not
            await put("bad/tail.dump", goodDump.subarray(0, goodDump.length - 16));
            await refused(`s3://${BUCKET}/bad/tail.dump`, 6, /dump s3:\/\/.*\/bad\/tail\.dump is corrupt: it does not read to its end \(.+\); refusing to restore it$/);
            // one byte changed, the backup's recorded sha256 kept
            const changed = Buffer.from(goodDump);
            changed[Math.floor(changed.length / 2)] ^= 0xff;
            await put("bad/changed.dump", changed, { sha256: createHash("sha256").update(goodDump).digest("hex") });
            await refused(`s3://${BUCKET}/bad/changed.dump`, 6, /dump s3:\/\/.*\/bad\/changed\.dump is corrupt: its sha256 [0-9a-f]{64} differs from the [0-9a-f]{64} recorded at backup time$/);
        });

        it("a non-empty target without --into-non-empty (exit 3); with it, the target is replaced and verified", async function () {
            const r = await restore([backedUp[SRC]], { TARGET_DATABASE_URL: pg.url(fullTarget) });
            assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
            assert.match(oneErrorLine(r), /target postgresql:\/\/mlflow:\*\*\*@127\.0\.0\.1:\d+\/backup_full_target_\w+ is not empty \(1 table\(s\)\); refusing to restore into it, pass --into-non-empty/);
            assert.equal(await fingerprint(pg, fullTarget), fullPrint);

            // the restored database, with a stray row: replaced by the dump's rows
            await pg.query(restoredDb, "insert into experiments (name, lifecycle_stage) values ('stray', 'active')");
            const f = await restore(["--into-non-empty", backedUp[SRC]], { TARGET_DATABASE_URL: pg.url(restoredDb) });
            assert.equal(f.code, 0, `${f.stdout}\n${f.stderr}`);
            assert.match(f.stdout, /--into-non-empty: the target has \d+ table\(s\)/);
            assert.equal(await fingerprint(pg, restoredDb), await fingerprint(pg, SRC));
        });

        it("an unreachable target (exit 5), naming it without its password", async function () {
            const closed = await freePort();
            const secret = "Sup3r-Secret-Pw";
            const r = await restore([backedUp[SRC]], { TARGET_DATABASE_URL: `postgresql://mlflow:${secret}@127.0.0.1:${closed}/x` });
            assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
            assert.match(oneErrorLine(r), new RegExp(`target database unreachable at postgresql://mlflow:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/x`));
            assert.ok(!(r.stdout + r.stderr).includes(secret));
        });
    });

    describe("a backup that fails fails the pod and uploads nothing", () => {
        /** A directory of PostgreSQL tools whose pg_dump runs the real one, then spoils its output with `spoil`. */
        function spoiledPgDump(spoil: string): string {
            const dir = tempDir("fake-pg");
            for (const t of fs.readdirSync(pg.binDir)) fs.symlinkSync(path.join(pg.binDir, t), path.join(dir, t));
            fs.rmSync(path.join(dir, "pg_dump"));
            fs.writeFileSync(path.join(dir, "pg_dump"), [
                "#!/usr/bin/env bash",
                "set -e",
                `"${path.join(pg.binDir, "pg_dump")}" "$@"`,
                'for a in "$@"; do case "$a" in --file=*) f=${a#--file=} ;; esac; done',
                `[ "$1" = --version ] || { ${spoil}; }`,
                "",
            ].join("\n"), { mode: 0o755 });
            return dir;
        }

        async function failsAndUploadsNothing(run: () => Promise<{ dump: CommandResult; upload?: CommandResult }>, message: RegExp): Promise<void> {
            const before = await backupKeys();
            const r = await run();
            const failed = r.upload ?? r.dump;
            assert.notEqual(failed.code, 0, `the backup pod succeeded:\n${r.dump.stdout}\n${r.upload?.stdout ?? ""}`);
            if (r.upload === undefined) assert.notEqual(r.dump.code, 0, "the init container failed, so the upload never ran");
            assert.match(failed.stderr, message);
            log(`backup failed (${r.upload ? "upload" : "dump"} exit ${failed.code}): ${failed.stderr.trim().split("\n").pop()}`);
            assert.deepEqual(await backupKeys(), before, "something was uploaded");
        }

        it("the database unreachable or the password wrong: the dump container exits non-zero", async function () {
            await failsAndUploadsNothing(() => runBackupPod({ password: "wrong-password" }), /pg_dump of database backup_src_\w+ failed/);
        });

        it("a truncated dump (pg_dump exits 0) is caught before upload: in its table of contents, or only in its data", async function () {
            // 60 %: the table of contents (the schema, at the start) is cut, pg_restore --list fails
            const head = spoiledPgDump('truncate -s "$(( $(stat -c %s "$f") * 6 / 10 ))" "$f"');
            await failsAndUploadsNothing(() => runBackupPod({ pgBin: head }), /backup-dump: error: pg_restore --list cannot read the dump of database backup_src_\w+: not uploaded/);
            // the last 16 bytes: the table of contents is whole, only the data (at the end) is cut; --list alone passes
            const tail = spoiledPgDump('truncate -s "$(( $(stat -c %s "$f") - 16 ))" "$f"');
            await failsAndUploadsNothing(() => runBackupPod({ pgBin: tail }), /backup-dump: error: the dump of database backup_src_\w+ does not read back to its end: not uploaded/);
        });

        it("an empty dump (pg_dump exits 0) is caught before upload", async function () {
            const empty = spoiledPgDump(': > "$f"');
            await failsAndUploadsNothing(() => runBackupPod({ pgBin: empty }), /backup-dump: error: pg_dump wrote an empty dump of database backup_src_\w+/);
        });

        it("a dump that changed after the dump step verified it, or a missing MANIFEST: the upload refuses all of them", async function () {
            await failsAndUploadsNothing(
                () => runBackupPod({ beforeUpload: (dir) => fs.truncateSync(path.join(dir, `${AUTH}.dump`), 100) }),
                new RegExp(`backup-upload: error: .*${AUTH}\\.dump is 100 bytes, the dump step verified \\d+, nothing uploaded`),
            );
            await failsAndUploadsNothing(
                () => runBackupPod({ beforeUpload: (dir) => fs.rmSync(path.join(dir, "MANIFEST")) }),
                /backup-upload: error: no .*MANIFEST: the dump step did not finish, nothing uploaded/,
            );
        });
    });

    it("the rendered pod uses the container paths and the Secret names the cluster has", function () {
        // What the local runs above substituted is exactly what cannot exist outside a cluster.
        const { dump, upload } = rendered();
        const lit = (c: RenderedContainer, n: string) => c.env?.find((e) => e.name === n);
        assert.equal(lit(dump, "BACKUP_DIR")?.value, BACKUP_DIR);
        assert.equal(lit(upload, "BACKUP_DIR")?.value, BACKUP_DIR);
        assert.deepEqual(lit(dump, "PGPASSWORD")?.valueFrom, { secretKeyRef: { name: "postgres-credentials", key: "password" } });
        assert.deepEqual(lit(upload, "AWS_ACCESS_KEY_ID")?.valueFrom, { secretKeyRef: { name: KEYS_SECRET, key: "AWS_ACCESS_KEY_ID" } });
    });
});
