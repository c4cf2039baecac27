/**
 * Credentials supplied as config secrets instead of generated: each key's validation, the refusals by mode
 * and of plain config, the percent-encoding of a supplied password, and renders with every credential
 * supplied (no `random:` resource; the values reach resources only as Pulumi secrets).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { ConfigError, parseConfig, plainSecretIssues, secretPaths } from "../../config";
import { diffRenders } from "../../lib/diff";
import { renderStack, RenderResult } from "../../lib/render";
import { RecordingMocks } from "../../lib/render-mocks";
import { showSecret, UNDECRYPTED_SECRET } from "../../lib/schema";
import { SECRET_PLACEHOLDER } from "../../lib/stack-config";
import { basicAuthIni, iniValue } from "../../manifests/access";
import { postgresUri } from "../../manifests/postgres";
import { allStrings, render, ROOT } from "../support/render";
import { allComponentsGenerated, allComponentsSupplied, RDS_READY, SUPPLIED } from "../support/supplied-secrets";

type Raw = Record<string, unknown>;

const LOCAL: Raw = { artifactStore: { mode: "minio" }, image: { build: false, ref: "mlflow-platform/mlflow:local", mlflowVersion: "3.17.2" }, training: { image: "mlflow-platform/trainer:local" } };
const INGRESS: Raw = { access: { mode: "ingress", auth: "basic", ingress: { host: "mlflow.example.com", clusterIssuer: "letsencrypt-prod" } } };
const RDS: Raw = { database: { mode: "rds", rds: RDS_READY } };

/** `base` with `value` at `dotted` (objects merged, not replaced). */
function withValue(base: Raw, dotted: string, value: unknown): Raw {
    const out = structuredClone(base);
    const segments = dotted.split(".");
    let node = out;
    for (const s of segments.slice(0, -1)) {
        node[s] = typeof node[s] === "object" && node[s] !== null ? node[s] : {};
        node = node[s] as Raw;
    }
    node[segments[segments.length - 1]] = value;
    return out;
}

function valueAt(value: unknown, dotted: string): unknown {
    return dotted.split(".").reduce<unknown>((node, s) => (node as Raw | undefined)?.[s], value);
}

function errorsOf(raw: Raw, isSecretKey?: (key: string) => boolean): string[] {
    try {
        parseConfig(raw, "test", { isSecretKey });
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        return err.issues.map((i) => i.message);
    }
    assert.fail("expected a ConfigError");
}

interface KeyCase {
    readonly path: string;
    readonly base: Raw;
    readonly good: readonly string[];
    readonly bad: readonly string[];
    /** What the message says is valid. */
    readonly valid: string;
}

const CASES: readonly KeyCase[] = [
    {
        path: "database.inCluster.password",
        base: {},
        good: ["p@ss/w:rd%?#&=+ 1", "x", "ünïcödé-ok", "'quoted' \"both\" $HOME `cmd`"],
        bad: ["", "line\nbreak", "tab\tinside"],
        valid: "a non-empty password without control characters (any other character works: the backend-store URI percent-encodes it)",
    },
    {
        path: "database.rds.password",
        base: RDS,
        good: ["Abcdefg1", "x".repeat(128), "p:ss%w#rd!&?=+[]{}~"],
        bad: ["short7!", "x".repeat(129), "with@at12", "with/slash", 'with"quote', "with space1", "ünïcödé-no"],
        valid: "8 to 128 printable ASCII characters other than '/', '\"', '@' and space (the RDS rule for a master password)",
    },
    {
        path: "artifactStore.minio.rootUser",
        base: LOCAL,
        good: ["abc", "minio-admin", "root.user_1"],
        bad: ["ab", "a=bc", "a,bc", "new\nline"],
        valid: "at least 3 characters, without '=', ',' or control characters (MinIO's rule for an access key)",
    },
    {
        path: "artifactStore.minio.rootPassword",
        base: LOCAL,
        good: ["abcdefgh", "p@ss/w:rd=,%"],
        bad: ["abcdefg", "abcdefgh\n"],
        valid: "at least 8 characters, without control characters (MinIO refuses a shorter root password)",
    },
    {
        path: "artifactStore.minio.accessKeyId",
        base: LOCAL,
        good: ["mlf", "mlflow-artifacts-user"],
        bad: ["ml", "key=value", "a,b,c"],
        valid: "at least 3 characters, without '=', ',' or control characters (MinIO's rule for an access key)",
    },
    {
        path: "artifactStore.minio.secretAccessKey",
        base: LOCAL,
        good: ["abcdefgh", "s3cr3t/with+sl@sh="],
        bad: ["abcdefg", "tab\tinside"],
        valid: "at least 8 characters, without control characters (MinIO refuses a shorter secret key)",
    },
    {
        path: "access.adminPassword",
        base: INGRESS,
        good: ["twelve-chars", "a pass phrase with spaces", "p@ss%w:rd/#12"],
        bad: ["elevenchars", " leading-space", "trailing-space ", "ünïcödé-password", "new\nline-password"],
        valid: "at least 12 printable ASCII characters, not starting or ending with a space (MLflow's basic-auth app refuses shorter passwords)",
    },
    {
        path: "access.flaskSecretKey",
        base: INGRESS,
        good: ["x".repeat(32), "0123456789abcdef".repeat(4)],
        bad: ["x".repeat(31), `${"x".repeat(31)}\n`],
        valid: "at least 32 characters, without control characters (Flask signs session cookies and CSRF tokens with it; e.g. openssl rand -hex 32)",
    },
];

describe("supplied secrets: each key's validation", () => {
    it("the cases cover every new credential, and every credential is a secret key", () => {
        const covered = CASES.map((c) => c.path);
        for (const p of covered) assert.ok(secretPaths().includes(p), p);
        assert.equal(new Set(covered).size, 8);
    });
    for (const c of CASES) {
        describe(c.path, () => {
            it("is optional: unset, nothing is filled in (the component generates it)", () => {
                assert.equal(valueAt(parseConfig(c.base, "test"), c.path), undefined);
            });
            for (const good of c.good) {
                it(`accepts ${JSON.stringify(good).slice(0, 40)}`, () => {
                    assert.equal(valueAt(parseConfig(withValue(c.base, c.path, good), "test"), c.path), good);
                });
            }
            for (const bad of c.bad) {
                it(`refuses ${JSON.stringify(bad).slice(0, 40)}, naming the key and what is valid, without showing the value`, () => {
                    const errors = errorsOf(withValue(c.base, c.path, bad));
                    assert.deepEqual(errors, [`mlflow-platform:${c.path} must be ${c.valid} (got ${showSecret(bad)})`]);
                    if (bad.length >= 3) assert.ok(!errors[0].includes(bad), "the message does not contain the value");
                });
            }
        });
    }
    it("a secret that `pulumi config set --path` stored as a number names --type string, without the value", () => {
        assert.deepEqual(errorsOf({ database: { inCluster: { password: 20261202 } } }), [
            "mlflow-platform:database.inCluster.password must be a string: set it with pulumi config set --secret --path --type string database.inCluster.password <value> (got a number, not shown)",
        ]);
    });
    it("the offline render's placeholder for a secure: value is not length-checked (the engine checks the real value)", () => {
        assert.equal(UNDECRYPTED_SECRET, SECRET_PLACEHOLDER);
        const c = parseConfig(withValue(withValue(INGRESS, "access.adminPassword", SECRET_PLACEHOLDER), "access.flaskSecretKey", SECRET_PLACEHOLDER), "test");
        assert.equal(c.access.adminPassword, SECRET_PLACEHOLDER);
    });
});

describe("supplied secrets: keys the stack's modes never use are refused by name", () => {
    it("database.inCluster.password once the in-cluster database is retired; kept while it is declared next to RDS", () => {
        const retired = withValue(withValue(RDS, "database.retireInCluster", true), "database.inCluster.password", "pw");
        assert.deepEqual(errorsOf(retired), [
            'mlflow-platform:database.inCluster.password only applies while the in-cluster PostgreSQL is declared (database.mode "inCluster", or "rds" before database.retireInCluster): unset it (got a value with database.mode "rds" and database.retireInCluster true)',
        ]);
        assert.equal(parseConfig(withValue(RDS, "database.inCluster.password", "pw"), "test").database.inCluster.password, "pw");
    });
    it("database.rds.password without RDS; kept with database.keepRds (rollback)", () => {
        assert.deepEqual(errorsOf({ database: { rds: { password: "Abcdefg1" } } }), [
            'mlflow-platform:database.rds.password only applies when database.mode is "rds" (or database.keepRds is true): unset it or set database.mode to "rds" (got a value with database.mode "inCluster")',
        ]);
        assert.equal(parseConfig({ database: { mode: "inCluster", keepRds: true, rds: { ...RDS_READY, password: "Abcdefg1" } } }, "test").database.rds.password, "Abcdefg1");
    });
    it("each MinIO credential with artifactStore.mode s3", () => {
        const raw = { artifactStore: { minio: { rootUser: "root", rootPassword: "abcdefgh", accessKeyId: "mlf", secretAccessKey: "abcdefgh" } } };
        assert.deepEqual(
            errorsOf(raw),
            ["rootUser", "rootPassword", "accessKeyId", "secretAccessKey"].map((k) => `mlflow-platform:artifactStore.minio.${k} only applies when artifactStore.mode is "minio": unset it (got a value with artifactStore.mode "s3")`),
        );
    });
    it("MLflow's MinIO user must not be the root user", () => {
        const raw = withValue(withValue(LOCAL, "artifactStore.minio.rootUser", "admin"), "artifactStore.minio.accessKeyId", "admin");
        assert.deepEqual(errorsOf(raw), [
            "mlflow-platform:artifactStore.minio.accessKeyId must differ from artifactStore.minio.rootUser: MLflow's MinIO user is a separate user with access to the bucket only (got the same value for both)",
        ]);
    });
    it("access.adminPassword and access.flaskSecretKey without basic auth", () => {
        assert.deepEqual(errorsOf({ access: { adminPassword: "twelve-chars", flaskSecretKey: "x".repeat(32) } }), [
            'mlflow-platform:access.adminPassword only applies when access.auth is "basic": unset it (got a value with access.auth "none")',
            'mlflow-platform:access.flaskSecretKey only applies when access.auth is "basic": unset it (got a value with access.auth "none")',
        ]);
    });
});

describe("supplied secrets: plain (unencrypted) config is refused", () => {
    const raw = withValue(withValue(INGRESS, "access.adminPassword", "twelve-chars"), "database.inCluster.password", "pw");
    it("names each credential whose top-level key the engine did not mark secret", () => {
        assert.deepEqual(plainSecretIssues(raw, (key) => key === "mlflow-platform:access"), [
            {
                key: "mlflow-platform:database.inCluster.password",
                message:
                    "mlflow-platform:database.inCluster.password is a credential but is set in plain config (stored unencrypted in Pulumi.<stack>.yaml): set it with pulumi config set --secret --path database.inCluster.password <value>",
            },
        ]);
        assert.deepEqual(plainSecretIssues(raw, () => true), []);
        assert.deepEqual(plainSecretIssues(INGRESS, () => false), [], "keys without credentials may be plain");
    });
    it("parseConfig checks it when the loader passes the engine's secret keys (and not otherwise)", () => {
        assert.match(errorsOf(raw, () => false).join("\n"), /access\.adminPassword is a credential but is set in plain config/);
        assert.doesNotThrow(() => parseConfig(raw, "test"));
    });
    it("the program refuses a plain credential in Pulumi.<stack>.yaml, and takes a secure: one", async () => {
        const plain = stackRoot({ "mlflow-platform:database": { inCluster: { password: "plain-text" } } });
        await assert.rejects(renderStack({ root: plain, stack: "local" }), /mlflow-platform:database\.inCluster\.password is a credential but is set in plain config.*pulumi config set --secret --path database\.inCluster\.password/);
        const secure = stackRoot({ "mlflow-platform:database": { inCluster: { password: { secure: "v1:bm90LXJlYWxseS1lbmNyeXB0ZWQ=" } } } });
        const r = await renderStack({ root: secure, stack: "local" });
        assert.equal(r.config.database.inCluster.password, SECRET_PLACEHOLDER);
    });
});

/** A project root with Pulumi.yaml and Pulumi.local.yaml, the latter's config merged with `extra` (per top-level key). */
const roots: string[] = [];
after(() => roots.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
function stackRoot(extra: Record<string, Raw>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supplied-secrets-"));
    roots.push(dir);
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, Raw> };
    for (const [k, v] of Object.entries(extra)) doc.config[k] = { ...(doc.config[k] ?? {}), ...v };
    fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), YAML.stringify(doc));
    return dir;
}

describe("supplied secrets: a password with URI characters works", () => {
    const password = "p@ss/w:rd%?#&=+ 1";
    const uri = postgresUri({ username: "mlflow", password, host: "postgres.mlflow.svc.cluster.local", database: "mlflow", sslmode: "require" });
    it("the backend-store URI percent-encodes it", () => {
        assert.equal(uri, "postgresql://mlflow:p%40ss%2Fw%3Ard%25%3F%23%26%3D%2B%201@postgres.mlflow.svc.cluster.local:5432/mlflow?sslmode=require");
        const parsed = new URL(uri);
        assert.equal(decodeURIComponent(parsed.password), password);
        assert.equal(parsed.username, "mlflow");
        assert.equal(parsed.hostname, "postgres.mlflow.svc.cluster.local");
        assert.equal(parsed.pathname, "/mlflow");
        assert.equal(parsed.searchParams.get("sslmode"), "require");
    });
    it("basic_auth.ini doubles % (MLflow reads it with configparser's interpolation)", () => {
        assert.equal(iniValue("a%40b%%c"), "a%%40b%%%%c");
        const ini = basicAuthIni({ databaseUri: uri, adminUsername: "admin", adminPassword: "100%-admin-pw", defaultPermission: "READ", credentialCacheSeconds: 60 });
        const read = (key: string) => (new RegExp(`^${key} = (.*)$`, "m").exec(ini)?.[1] ?? "").replace(/%%/g, "%");
        assert.equal(read("database_uri"), uri);
        assert.equal(read("admin_password"), "100%-admin-pw");
        assert.equal(read("auth_cache_ttl_seconds"), "60", "MLflow's credential cache (access.credentialCacheSeconds): without it every request pays scrypt twice");
        assert.throws(() => basicAuthIni({ databaseUri: uri, adminUsername: "admin", adminPassword: "x", defaultPermission: "READ", credentialCacheSeconds: -1 }), /credentialCacheSeconds must be a whole number of seconds >= 0, got -1/);
        assert.ok(!/%(?!%)[^%]/.test(ini.replace(/%%/g, "")), "no lone % is left for configparser");
    });
});

// ---- components under the render's mocks --------------------------------------------------------------------

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** Raw registrations (before the render masks secrets) of one render. */
async function renderRecordingInputs(opts: Parameters<typeof renderStack>[0]): Promise<{ result: RenderResult; raw: { type: string; name: string; inputs: Raw }[] }> {
    const raw: { type: string; name: string; inputs: Raw }[] = [];
    // A spy on the shared mocks: the render masks secrets in what it returns, the test needs the envelopes.
    const original = RecordingMocks.prototype.newResource;
    RecordingMocks.prototype.newResource = function (this: RecordingMocks, args) {
        raw.push({ type: args.type, name: args.name, inputs: args.inputs as Raw });
        return original.call(this, args);
    };
    try {
        return { result: await renderStack(opts), raw };
    } finally {
        RecordingMocks.prototype.newResource = original;
    }
}

/** The value inside a Pulumi secret envelope; fails when `v` is not one. */
function secretValue(v: unknown, what: string): unknown {
    assert.ok(v !== null && typeof v === "object" && SECRET_SIG_KEY in v, `${what} is a Pulumi secret (got ${JSON.stringify(v)})`);
    return (v as unknown as { value: unknown }).value;
}

describe("supplied secrets: components use the supplied values, as Pulumi secrets only", () => {
    let r: RenderResult;
    let raw: { type: string; name: string; inputs: Raw }[];
    before(async () => {
        ({ result: r, raw } = await renderRecordingInputs({ root: ROOT, stack: "local", program: async () => allComponentsSupplied() }));
    });
    const input = (type: string, name: string) => {
        const found = raw.find((x) => x.type === type && x.name === name);
        assert.ok(found, `${type} ${name} was registered`);
        return found.inputs;
    };
    // The Secret's stringData arrives as one secret envelope (secretness of its values propagates to it).
    const secretData = (name: string) => secretValue(input("kubernetes:core/v1:Secret", name).stringData, `${name} stringData`) as Raw;
    it("declares no random: resource", () => {
        assert.deepEqual(r.resources.filter((x) => x.type.startsWith("random:")), []);
    });
    it("in-cluster PostgreSQL: the password Secret and the percent-encoded backend-store URI", () => {
        assert.equal(secretData("postgres-password").password, SUPPLIED.postgres);
        const uri = secretData("postgres-backend-store").uri;
        assert.equal(uri, postgresUri({ username: "mlflow", password: SUPPLIED.postgres, host: "postgres.mlflow.svc.cluster.local", database: "mlflow" }));
        assert.equal(decodeURIComponent(new URL(String(uri)).password), SUPPLIED.postgres);
    });
    it("RDS: the instance's master password and the backend-store URI", () => {
        assert.equal(secretValue(input("aws:rds/instance:Instance", "rds").password, "RDS password"), SUPPLIED.rds);
        assert.equal(decodeURIComponent(new URL(String(secretData("rds").uri)).password), SUPPLIED.rds);
        assert.equal(r.resources.find((x) => x.type === "aws:rds/instance:Instance")?.inputs.password, SECRET_PLACEHOLDER, "the render prints [secret]");
    });
    it("MinIO: root credentials and MLflow's key pair", () => {
        assert.deepEqual(secretData("minio-root"), { username: SUPPLIED.rootUser, password: SUPPLIED.rootPassword });
        assert.deepEqual(secretData("minio-keys"), { AWS_ACCESS_KEY_ID: SUPPLIED.accessKeyId, AWS_SECRET_ACCESS_KEY: SUPPLIED.secretAccessKey });
    });
    it("basic auth: Flask key, admin password in basic_auth.ini (escaped) and in the tracking credentials", () => {
        const auth = secretData("access-auth");
        assert.equal(auth["flask-secret-key"], SUPPLIED.flaskSecretKey);
        const ini = String(auth["basic_auth.ini"]);
        assert.match(ini, new RegExp(`^admin_password = ${iniValue(SUPPLIED.adminPassword)}$`, "m"));
        assert.match(ini, /^database_uri = postgresql:\/\/mlflow:pg%%20p%%40ss%%2Fw%%3Ard%%25@postgres\.mlflow\.svc\.cluster\.local:5432\/mlflow_auth$/m);
        assert.equal(secretData("access-tracking-credentials").password, SUPPLIED.adminPassword);
    });
    it("no supplied value appears in plain text anywhere in the render, outputs included", () => {
        assert.deepEqual(r.outputs, { postgresPassword: SECRET_PLACEHOLDER, rdsUri: SECRET_PLACEHOLDER, minioKeys: "mlflow-aws-credentials", adminPassword: SECRET_PLACEHOLDER });
        const strings = allStrings([r.resources, r.kubernetes, r.outputs]);
        for (const [k, v] of Object.entries(SUPPLIED)) assert.ok(!strings.some((s) => s.includes(v) || s.includes(encodeURIComponent(v))), `${k} is not in the render`);
    });
    it("without supplied values the same components generate with today's names, lengths and parents", async () => {
        const generated = await renderStack({
            root: ROOT,
            stack: "local",
            program: async () => allComponentsGenerated(),
        });
        assert.deepEqual(
            generated.resources.filter((x) => x.type.startsWith("random:")).map((x) => [x.name, x.parent, x.inputs.length, x.inputs.special]),
            [
                ["postgres-password", "mlflow-platform:database:InClusterDatabase::postgres", 32, false],
                ["rds-password", "mlflow-platform:database:RdsDatabase::rds", 32, false],
                ["minio-root-user", "mlflow-platform:storage:MinioStore::minio", 16, false],
                ["minio-root-password", "mlflow-platform:storage:MinioStore::minio", 40, false],
                ["minio-access-key-id", "mlflow-platform:storage:MinioStore::minio", 20, false],
                ["minio-secret-access-key", "mlflow-platform:storage:MinioStore::minio", 40, false],
                ["access-flask-secret-key", "mlflow-platform:access:Access::access", 48, false],
                ["access-admin-password", "mlflow-platform:access:Access::access", 32, false],
            ],
        );
    });
    it("@pulumi/random is not even loaded when every credential is supplied", function () {
        this.timeout(60000);
        const script = [
            `const { renderStack } = require(${JSON.stringify(path.join(ROOT, "lib/render"))});`,
            `const c = require(${JSON.stringify(path.join(ROOT, "test/support/supplied-secrets"))});`,
            `renderStack({ root: ${JSON.stringify(ROOT)}, stack: "local", program: async () => c.allComponentsSupplied() }).then((r) => {`,
            `  const loaded = Object.keys(require.cache).some((k) => k.includes(${JSON.stringify(`${path.sep}@pulumi${path.sep}random${path.sep}`)}));`,
            `  console.log(JSON.stringify({ loaded, random: r.resources.filter((x) => x.type.startsWith("random:")).length }));`,
            `});`,
        ].join("\n");
        const run = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}"), { loaded: false, random: 0 });
    });
});

// ---- stack renders --------------------------------------------------------------------------------------------

/** program.ts passes the supplied credentials to the components (see the change's notes); until then these are pending. */
const WIRED = fs.readFileSync(path.join(ROOT, "program.ts"), "utf8").includes("cfg.access.adminPassword");

const LOCAL_SETS = [
    `database.inCluster.password=${SUPPLIED.postgres}`,
    `artifactStore.minio.rootUser=${SUPPLIED.rootUser}`,
    `artifactStore.minio.rootPassword=${SUPPLIED.rootPassword}`,
    `artifactStore.minio.accessKeyId=${SUPPLIED.accessKeyId}`,
    `artifactStore.minio.secretAccessKey=${SUPPLIED.secretAccessKey}`,
];
const DEV_FUTURE_SETS = [
    "database.mode=rds",
    "database.migrateFromInCluster=true",
    "access.mode=ingress",
    "access.auth=basic",
    "access.ingress.host=mlflow.example.com",
    "access.ingress.clusterIssuer=letsencrypt-prod",
];
const DEV_FUTURE_SUPPLIED = [
    `database.inCluster.password=${SUPPLIED.postgres}`,
    `database.rds.password=${SUPPLIED.rds}`,
    `access.adminPassword=${SUPPLIED.adminPassword}`,
    `access.flaskSecretKey=${SUPPLIED.flaskSecretKey}`,
];
const randomNames = (r: RenderResult) => r.resources.filter((x) => x.type.startsWith("random:")).map((x) => `${x.parent}/${x.name}`);

describe("supplied secrets: stack renders", function () {
    before(function () {
        if (!WIRED) this.skip();
    });
    it("local with every credential supplied: no random: resource, the Secrets print [secret], no plaintext", async () => {
        const r = await render("local", LOCAL_SETS);
        assert.deepEqual(randomNames(r), []);
        for (const name of ["minio-root", "mlflow-aws-credentials", "postgres-credentials", "mlflow-backend-store"]) {
            const secret = r.kubernetes.find((o) => o.kind === "Secret" && o.metadata.name === name);
            assert.ok(secret, name);
            for (const v of Object.values(secret.stringData as Raw)) assert.equal(v, SECRET_PLACEHOLDER, name);
        }
        const strings = allStrings([r.resources, r.kubernetes, r.outputs]);
        for (const s of LOCAL_SETS) assert.ok(!strings.some((x) => x.includes(s.slice(s.indexOf("=") + 1))), s);
    });
    it("local: generated → supplied removes only the random: resources and replaces nothing", async () => {
        const d = diffRenders((await render("local")).resources, (await render("local", LOCAL_SETS)).resources);
        assert.deepEqual(d.added, []);
        assert.deepEqual(d.removed.map((x) => `${x.type}::${x.name}`).sort(), ["minio-access-key-id", "minio-root-password", "minio-root-user", "minio-secret-access-key", "postgres-password"].map((n) => `random:index/randomPassword:RandomPassword::${n}`));
        assert.deepEqual(d.changed.filter((x) => x.action === "replace"), []);
    });
    it("dev moving to RDS and ingress with every credential supplied: no random: resource; the RDS password prints [secret]", async () => {
        const r = await render("dev", [...DEV_FUTURE_SETS, ...DEV_FUTURE_SUPPLIED]);
        assert.deepEqual(randomNames(r), []);
        assert.equal(r.resources.find((x) => x.type === "aws:rds/instance:Instance")?.inputs.password, SECRET_PLACEHOLDER);
        assert.equal(r.outputs.adminPassword, SECRET_PLACEHOLDER);
    });
    it("dev and prod with nothing supplied keep today's random: resources", async () => {
        assert.deepEqual(randomNames(await render("dev")), ["mlflow-platform:database:InClusterDatabase::postgres/postgres-password"]);
        assert.deepEqual(randomNames(await render("prod")), [
            "mlflow-platform:database:RdsDatabase::rds/rds-password",
            "mlflow-platform:access:Access::access/access-flask-secret-key",
            "mlflow-platform:access:Access::access/access-admin-password",
        ]);
        assert.deepEqual(randomNames(await render("dev", DEV_FUTURE_SETS)), [
            "mlflow-platform:database:InClusterDatabase::postgres/postgres-password",
            "mlflow-platform:database:RdsDatabase::rds/rds-password",
            "mlflow-platform:access:Access::access/access-flask-secret-key",
            "mlflow-platform:access:Access::access/access-admin-password",
        ]);
    });
    it("a key the stack's mode never uses fails the render with exit-2 config error", async () => {
        await assert.rejects(render("dev", ["artifactStore.minio.rootUser=admin"]), (err: unknown) => err instanceof ConfigError && /artifactStore\.minio\.rootUser only applies when artifactStore\.mode is "minio"/.test(err.message));
    });
});
