/**
 * The promotion gate against a real MLflow tracking server (PostgreSQL backend store, moto S3 artifacts), through
 * both front ends: the TS CLI (`npm run promote`, cli/promote.ts) and the in-cluster template (promote.py in the
 * trainer venv, with the environment of the Job that the CronJob's launch command would create).
 *
 * One fixture run logs six real runs (test_rmse 0.5, 0.45, 0.6, 0.47, 0.7, none) and registers each as the next
 * version of two models: CliRegressor (driven by the CLI) and JobRegressor (driven by promote.py). The same cases
 * run in the same order on both, so the two must decide alike and write the same trail.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { main as promoteMain } from "../../cli/promote";
import type { CliIo } from "../../cli/resolve-model";
import type { KubernetesObject } from "../../lib/render";
import { decidePromotion, PROMOTION_TAG_FIELDS, PROMOTION_TAG_PREFIX, promotionTags, type GateInput } from "../../lib/promotion-gate";
import { promotionCronJob, promotionLaunchCommand } from "../../manifests/promotion";
import { haveKubectl, jobFromCronJob, launchLocally } from "./support/cronjob-launch";
import { getJson, mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import { freePort } from "../../testbed/ports";
import { runCommand, stepLog, tail, type CommandResult } from "../../testbed/process";
import { runPython } from "../../testbed/python";
import { dockerEnv, localCommand, localEnv, renderedContainer, runLocal, withArgReplaced } from "../../testbed/rendered";
import { sharedMoto, sharedPostgres } from "./support/services";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";

const FIXTURE = path.join(__dirname, "fixtures", "promotion_models.py");
const PROMOTE_PY = path.join(REPO_ROOT, "images", "trainer", "promote.py");
const DOCKERFILE = path.join(REPO_ROOT, "images", "trainer", "Dockerfile");
const SUFFIX = randomBytes(4).toString("hex");
const BUCKET = `promotion-it-${SUFFIX}`;
const CLI_MODEL = "CliRegressor";
const JOB_MODEL = "JobRegressor";
const ALIAS = "production";
const MAX_REGRESSION = 0.05;
const USER = "alice";
const NAMESPACE = "mlflow";
const P = `${PROMOTION_TAG_PREFIX}${ALIAS}.`;
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const log = stepLog("promotion");

interface Outcome {
    code: number;
    stdout: string;
    stderr: string;
}
/** One case on both front ends, after it ran. */
interface Pair {
    label: string;
    cli: Outcome;
    job: Outcome;
}

function normalized(o: Outcome, model: string): { code: number; line: string } {
    const text = (o.code === 0 ? o.stdout : o.stderr).trim();
    return { code: o.code, line: text.replace(/^promote(\.py)?: /, "").split(model).join("<model>") };
}

function oneLine(text: string): string {
    const lines = text.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, `exactly one line: ${JSON.stringify(text)}`);
    return lines[0]!;
}

describe("promotion gate against a real MLflow server: npm run promote and promote.py", function () {
    let server: MlflowServer;
    let pythonBin: string;
    let kubectl = false;
    const started = new Date();
    const pairs: Pair[] = [];

    before(async function () {
        this.timeout(20 * 60_000);
        const t0 = Date.now();
        const [moto, pg, venv] = await Promise.all([sharedMoto(), sharedPostgres(), ensureVenv("trainer")]);
        pythonBin = path.dirname(venv.python);
        await moto.createBucket(BUCKET);
        const db = `promotion_${SUFFIX}`;
        await pg.createDatabase(db);
        const s3env = moto.env();
        server = await startMlflowServer({
            args: mlflowServerArgs(await freePort(), ["--workers", "1", "--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${BUCKET}/promotion`, "--no-serve-artifacts"]),
            env: s3env,
            healthTimeoutMs: 600_000,
        });
        log.log(`services and MLflow server up: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const r = await log.timed("fixture (6 runs, 12 versions)", () =>
            runPython("trainer", FIXTURE, {
                args: ["--model-names", `${CLI_MODEL},${JOB_MODEL}`, "--rmse", "0.5,0.45,0.6,0.47,0.7,none"],
                env: { ...s3env, MLFLOW_TRACKING_URI: server.url, GIT_PYTHON_REFRESH: "quiet" },
                timeoutMs: 15 * 60_000,
            }),
        );
        const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT_JSON="));
        if (r.code !== 0 || !line) throw new Error(`promotion_models.py exited ${r.code}:\n${tail(r.stdout + r.stderr, 30)}`);
        const fixture = JSON.parse(line.slice("RESULT_JSON=".length)) as { versions: Record<string, Record<string, { runId: string; rmse: number | null }>> };
        for (const m of [CLI_MODEL, JOB_MODEL]) {
            assert.deepEqual(Object.keys(fixture.versions[m] ?? {}), ["1", "2", "3", "4", "5", "6"], m);
            assert.deepEqual(Object.values(fixture.versions[m]!).map((v) => v.rmse), [0.5, 0.45, 0.6, 0.47, 0.7, null]);
        }
        kubectl = await haveKubectl();
        if (!kubectl) log.log("kubectl not on PATH: promote.py gets PROMOTE_* added to the CronJob's env directly, not through the launch command");
    });

    after(async function () {
        this.timeout(120_000);
        await server?.stop();
    });

    // ---- the two front ends --------------------------------------------------------------------------------

    async function cli(version: string, opts: { force?: boolean; reason?: string } = {}): Promise<Outcome> {
        const out = { stdout: "", stderr: "" };
        const io: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env: {} };
        const argv = ["--tracking-uri", server.url, "--model", CLI_MODEL, "--version", version, "--alias", ALIAS, "--max-regression", String(MAX_REGRESSION), "--user", USER];
        if (opts.force) argv.push("--force");
        if (opts.reason !== undefined) argv.push("--reason", opts.reason);
        const code = await promoteMain(argv, io);
        return { code, ...out };
    }

    function cronJob(): KubernetesObject {
        return promotionCronJob({
            namespace: NAMESPACE,
            image: "trainer:test",
            trackingUri: server.url,
            registeredModel: JOB_MODEL,
            alias: ALIAS,
            metric: "test_rmse",
            maxRegression: MAX_REGRESSION,
            serviceAccountName: "mlflow-training",
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
            activeDeadlineSeconds: 600,
            ttlSecondsAfterFinished: 86400,
        }) as unknown as KubernetesObject;
    }

    /** promote.py with the env of the Job the launch command creates (version and force/reason through `kubectl set env --local`). */
    async function job(version: string | undefined, opts: { force?: boolean; reason?: string } = {}): Promise<CommandResult> {
        const cj = cronJob();
        let jobObj = jobFromCronJob(cj, `promote-${version ?? "x"}-${Date.now()}`);
        const extra: Record<string, string> = {};
        if (opts.force) extra.PROMOTE_FORCE = "true";
        if (opts.reason !== undefined) extra.PROMOTE_REASON = opts.reason;
        if (version !== undefined) {
            if (kubectl) {
                const quoted = Object.entries(extra).map(([k, v]) => `'${k}=${v.replace(/'/g, `'\\''`)}'`).join(" ");
                jobObj = await launchLocally(promotionLaunchCommand(NAMESPACE, version, quoted), jobObj);
            } else {
                extra.PROMOTE_VERSION = version;
            }
        }
        const c = renderedContainer(jobObj);
        const env = localEnv(c, { add: { PROMOTE_USER: USER, ...(kubectl ? {} : extra) } });
        const lc = localCommand(c, { binDir: pythonBin, env, imageEnv: dockerEnv(DOCKERFILE) });
        lc.args = withArgReplaced(lc.args, "/app/promote.py", PROMOTE_PY);
        return runLocal(lc, { cwd: path.dirname(PROMOTE_PY), timeoutMs: 180_000 });
    }

    async function both(label: string, version: string, opts: { force?: boolean; reason?: string } = {}): Promise<Pair> {
        const [c, j] = await Promise.all([cli(version, opts), job(version, opts)]);
        const pair = { label, cli: c, job: j };
        pairs.push(pair);
        return pair;
    }

    async function aliasOf(model: string): Promise<string | undefined> {
        const res = await fetch(`${server.url}/api/2.0/mlflow/registered-models/alias?${new URLSearchParams({ name: model, alias: ALIAS })}`);
        if (res.status === 400) return undefined;
        const body = (await res.json()) as { model_version: { version: string } };
        return body.model_version.version;
    }

    async function trail(model: string, version: string): Promise<Record<string, string>> {
        const r = await getJson<{ model_version: { tags?: Array<{ key: string; value?: string }> } }>(server.url, "model-versions/get", { name: model, version });
        return Object.fromEntries((r.model_version.tags ?? []).filter((t) => t.key.startsWith(PROMOTION_TAG_PREFIX)).map((t) => [t.key, t.value ?? ""]));
    }

    async function assertAlias(version: string | undefined): Promise<void> {
        assert.equal(await aliasOf(CLI_MODEL), version, `${CLI_MODEL}@${ALIAS}`);
        assert.equal(await aliasOf(JOB_MODEL), version, `${JOB_MODEL}@${ALIAS}`);
    }

    function assertTimes(tags: Record<string, string>): void {
        const t = tags[`${P}time`] ?? "";
        assert.match(t, ISO_UTC);
        assert.ok(Date.parse(t) >= started.getTime() - 1000 && Date.parse(t) <= Date.now() + 1000, `time ${t} within the test`);
    }

    // ---- cases, in order ------------------------------------------------------------------------------------

    it("promote.py's gate equals lib/promotion-gate.ts on a table of cases (decision, message, limit, tags)", async function () {
        this.timeout(120_000);
        const cases: GateInput[] = [];
        const values = [undefined, 0, 0.1, 0.45, 0.4725, 0.47250000000000003, 0.5, 0.5000001, 1e-7, 123456.789, 1e21];
        for (const cand of values)
            for (const cur of [undefined, 0.45, 0.5, 1e-7])
                for (const maxRegression of [0, 0.05, 0.3333])
                    for (const [force, reason] of [[false, undefined], [true, "rollback:  v4\nbroke"], [true, "  "], [false, "audit"]] as const) {
                        cases.push({ model: "M", alias: "production", candidate: { version: "3", ...(cand === undefined ? {} : { value: cand }) }, current: { version: "2", ...(cur === undefined ? {} : { value: cur }) }, maxRegression, force, ...(reason === undefined ? {} : { reason }) });
                    }
        cases.push({ model: "M", alias: "production", candidate: { version: "3", value: 1 } });
        cases.push({ model: "M", alias: "production", candidate: { version: "3" } });
        cases.push({ model: "M", alias: "production", candidate: { version: "2", value: 1 }, current: { version: "2", value: 1 } });
        cases.push({ model: "M", alias: "production", candidate: { version: "3", value: 1 }, current: { version: "2", value: 1 }, maxRegression: -1 });
        cases.push({ model: "M", alias: "production", candidate: { version: "3", value: 1 }, current: { version: "2", value: 1 }, metric: "" });
        const now = new Date(Date.UTC(2025, 5, 1, 8, 30, 15, 42));
        const expected = cases.map((c) => {
            const d = decidePromotion(c);
            return { action: d.action, message: d.message, forced: d.forced, limit: d.limit ?? null, tags: d.action === "promote" ? promotionTags(d, { user: "u", now }) : null };
        });
        const script = [
            "import json, sys",
            "from datetime import datetime, timezone",
            "import promote as p",
            "now = datetime(2025, 6, 1, 8, 30, 15, 42000, tzinfo=timezone.utc)",
            "out = []",
            "for c in json.load(sys.stdin):",
            "    vm = lambda v: None if v is None else p.VersionMetric(v['version'], v.get('value'))",
            "    d = p.decide(c['model'], c['alias'], vm(c['candidate']), vm(c.get('current')), c.get('metric', 'test_rmse'), c.get('maxRegression', 0.0), c.get('force', False), c.get('reason'))",
            "    out.append({'action': d.action, 'message': d.message, 'forced': d.forced, 'limit': d.limit, 'tags': p.promotion_tags(d, 'u', now) if d.action == 'promote' else None})",
            "print(json.dumps(out))",
        ].join("\n");
        const r = await runCommand(path.join(pythonBin, "python"), ["-c", script], { cwd: path.dirname(PROMOTE_PY), input: JSON.stringify(cases), timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        const got = JSON.parse(r.stdout) as typeof expected;
        assert.equal(got.length, expected.length);
        for (let i = 0; i < expected.length; i++) assert.deepEqual(got[i], expected[i], `case ${i}: ${JSON.stringify(cases[i])}`);
        const actions = new Set(expected.map((e) => e.action));
        assert.deepEqual([...actions].sort(), ["invalid", "noop", "promote", "refuse"], "the table covers every outcome");
        log.log(`${cases.length} gate cases equal in TS and Python`);
    });

    it("the Job without PROMOTE_VERSION (the CronJob as is) fails with exit 2 and one line naming it", async function () {
        this.timeout(120_000);
        const r = await job(undefined);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.equal(r.stdout, "");
        assert.match(oneLine(r.stderr), /^promote\.py: error: PROMOTE_VERSION is not set: .*mlflow-platform\/launch/);
        await assertAlias(undefined);
    });

    it("the alias unset: version 1 is promoted, trail previous_version none", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("unset → 1", "1");
        for (const [o, m] of [[c, CLI_MODEL], [j, JOB_MODEL]] as const) {
            assert.equal(o.code, 0, o.stderr);
            assert.equal(oneLine(o.stdout), `models:/${m}@${ALIAS} → version 1 (test_rmse 0.5): the alias was unset, nothing to compare against`);
        }
        await assertAlias("1");
        for (const m of [CLI_MODEL, JOB_MODEL]) {
            const tags = await trail(m, "1");
            assert.equal(tags[`${P}previous_version`], "none");
            assert.equal(tags[`${P}reason`], "gate passed: the alias was unset");
        }
    });

    it("a better version (2: 0.45 < 0.5) is promoted; the trail on version 2 says who, when, why, previous, values, not forced", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("better 2", "2");
        for (const [o, m] of [[c, CLI_MODEL], [j, JOB_MODEL]] as const) {
            assert.equal(o.code, 0, o.stderr);
            assert.equal(o.stderr, "");
            assert.equal(
                oneLine(o.stdout),
                `models:/${m}@${ALIAS} → version 2 (test_rmse 0.45) from version 1 (test_rmse 0.5): gate passed, test_rmse 0.45 <= limit 0.525 (version 1's 0.5, max regression 0.05, lower is better)`,
            );
        }
        await assertAlias("2");
        for (const m of [CLI_MODEL, JOB_MODEL]) {
            const tags = await trail(m, "2");
            assertTimes(tags);
            const { [`${P}time`]: _t, ...rest } = tags;
            assert.deepEqual(rest, {
                [`${P}user`]: USER,
                [`${P}reason`]: "gate passed: test_rmse 0.45 <= limit 0.525 (version 1's 0.5, max regression 0.05, lower is better)",
                [`${P}forced`]: "false",
                [`${P}previous_version`]: "1",
                [`${P}metric`]: "test_rmse",
                [`${P}value`]: "0.45",
                [`${P}previous_value`]: "0.5",
                [`${P}max_regression`]: "0.05",
                [`${P}limit`]: "0.525",
            }, m);
        }
    });

    it("a worse version (3: 0.6 over the limit 0.45 * 1.05) is refused, exit 1, one line naming both versions and values; alias unchanged, no trail", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("worse 3", "3");
        const limit = String(0.45 * 1.05);
        for (const [o, m, prefix] of [[c, CLI_MODEL, "promote: "], [j, JOB_MODEL, "promote.py: "]] as const) {
            assert.equal(o.code, 1, o.stdout + o.stderr);
            assert.equal(o.stdout, "");
            assert.equal(
                oneLine(o.stderr),
                `${prefix}models:/${m}@${ALIAS} stays version 2 (test_rmse 0.45): version 3 (test_rmse 0.6) refused, test_rmse 0.6 is over the limit ${limit} (version 2's 0.45, max regression 0.05, lower is better); force with a reason to promote anyway`,
            );
        }
        await assertAlias("2");
        for (const m of [CLI_MODEL, JOB_MODEL]) assert.deepEqual(await trail(m, "3"), {}, `no trail on ${m} version 3`);
    });

    it("within maxRegression (4: 0.47 <= 0.4725) is promoted", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("within 4", "4");
        for (const o of [c, j]) {
            assert.equal(o.code, 0, o.stderr);
            assert.match(oneLine(o.stdout), /→ version 4 \(test_rmse 0\.47\) from version 2 \(test_rmse 0\.45\): gate passed/);
        }
        await assertAlias("4");
        for (const m of [CLI_MODEL, JOB_MODEL]) assert.equal((await trail(m, "4"))[`${P}previous_version`], "2");
    });

    it("force without a reason is refused: exit 2, alias unchanged, no trail", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("force without reason", "5", { force: true });
        assert.equal(c.code, 2, c.stderr);
        assert.match(oneLine(c.stderr), /^promote: --force needs --reason/);
        assert.equal(j.code, 2, j.stderr);
        assert.match(oneLine(j.stderr), /^promote\.py: error: PROMOTE_FORCE=true needs PROMOTE_REASON/);
        await assertAlias("4");
        for (const m of [CLI_MODEL, JOB_MODEL]) assert.deepEqual(await trail(m, "5"), {});
    });

    it("force with a reason promotes a worse version (5: 0.7); the trail says forced and the reason", async function () {
        this.timeout(300_000);
        const reason = "incident 42: version 4 times out under load";
        const { cli: c, job: j } = await both("forced 5", "5", { force: true, reason });
        for (const o of [c, j]) {
            assert.equal(o.code, 0, o.stderr);
            assert.match(oneLine(o.stdout), new RegExp(`→ version 5 \\(test_rmse 0\\.7\\) from version 4 \\(test_rmse 0\\.47\\): FORCED past the gate \\(test_rmse 0\\.7 is over the limit .*\\); reason: ${reason}$`));
        }
        await assertAlias("5");
        for (const m of [CLI_MODEL, JOB_MODEL]) {
            const tags = await trail(m, "5");
            assert.equal(tags[`${P}forced`], "true");
            assert.equal(tags[`${P}reason`], reason);
            assert.equal(tags[`${P}previous_version`], "4");
            assert.equal(tags[`${P}value`], "0.7");
            assert.equal(tags[`${P}previous_value`], "0.47");
            assert.equal(tags[`${P}user`], USER);
        }
    });

    it("the holder again is a no-op: exit 0, one line, the trail is not rewritten", async function () {
        this.timeout(300_000);
        const before = await trail(CLI_MODEL, "5");
        const { cli: c, job: j } = await both("noop 5", "5");
        for (const [o, m] of [[c, CLI_MODEL], [j, JOB_MODEL]] as const) {
            assert.equal(o.code, 0, o.stderr);
            assert.equal(oneLine(o.stdout), `models:/${m}@${ALIAS} is already version 5 (test_rmse 0.7): nothing to do`);
        }
        assert.deepEqual(await trail(CLI_MODEL, "5"), before);
        await assertAlias("5");
    });

    it("a version whose run lacks test_rmse (6) is refused, naming it", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("no metric 6", "6");
        for (const o of [c, j]) {
            assert.equal(o.code, 1, o.stdout + o.stderr);
            assert.match(oneLine(o.stderr), /stays version 5 \(test_rmse 0\.7\): version 6 \(no test_rmse\) refused, version 6's run has no test_rmse metric;/);
        }
        await assertAlias("5");
    });

    it("rollback: the previous version (4: 0.47 < 0.7) passes the gate", async function () {
        this.timeout(300_000);
        const { cli: c, job: j } = await both("rollback 4", "4");
        for (const o of [c, j]) {
            assert.equal(o.code, 0, o.stderr);
            assert.match(oneLine(o.stdout), /→ version 4 \(test_rmse 0\.47\) from version 5 \(test_rmse 0\.7\): gate passed/);
        }
        await assertAlias("4");
        for (const m of [CLI_MODEL, JOB_MODEL]) {
            const tags = await trail(m, "4");
            assert.equal(tags[`${P}previous_version`], "5");
            assert.equal(tags[`${P}forced`], "false");
        }
    });

    it("npm run promote as a process: a refusal is exit 1 and one stderr line; alias unchanged", async function () {
        this.timeout(180_000);
        const r = await runCommand("node", ["cli/run.js", "promote", "--tracking-uri", server.url, "--model", CLI_MODEL, "--version", "3", "--max-regression", "0.05"], {
            cwd: REPO_ROOT,
            timeoutMs: 150_000,
        });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.equal(r.stdout, "");
        assert.match(oneLine(r.stderr), /^promote: models:\/CliRegressor@production stays version 4 \(test_rmse 0\.47\): version 3 \(test_rmse 0\.6\) refused/);
        assert.equal(await aliasOf(CLI_MODEL), "4");
    });

    it("the TS CLI and promote.py gave the same decision, line and trail (keys and values but the time) in every case", async () => {
        assert.equal(pairs.length, 9);
        for (const p of pairs) {
            const c = normalized(p.cli, CLI_MODEL);
            const j = normalized(p.job, JOB_MODEL);
            assert.equal(c.code, j.code, `${p.label}: exit codes`);
            if (p.label !== "force without reason") assert.equal(c.line, j.line, `${p.label}: lines`);
        }
        for (const v of ["1", "2", "3", "4", "5", "6"]) {
            const [c, j] = [await trail(CLI_MODEL, v), await trail(JOB_MODEL, v)];
            assert.deepEqual(Object.keys(c).sort(), Object.keys(j).sort(), `version ${v}: tag keys`);
            if (Object.keys(c).length > 0) assert.deepEqual(Object.keys(c).sort(), PROMOTION_TAG_FIELDS.map((f) => `${P}${f}`).sort(), `version ${v}: every field`);
            for (const tags of [c, j]) if (Object.keys(tags).length > 0) assertTimes(tags);
            const strip = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => k !== `${P}time`));
            assert.deepEqual(strip(c), strip(j), `version ${v}: tag values`);
        }
    });
});
