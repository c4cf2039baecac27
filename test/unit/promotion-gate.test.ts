import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { main as promote } from "../../cli/promote";
import type { CliIo } from "../../cli/resolve-model";
import {
    decidePromotion,
    formatNumber,
    gateOptionsError,
    metricValue,
    PROMOTION_TAG_FIELDS,
    promotionTagKey,
    promotionTags,
    type GateInput,
} from "../../lib/promotion-gate";

const base = { model: "M", alias: "production" } as const;
const gate = (i: Partial<GateInput> & Pick<GateInput, "candidate">) => decidePromotion({ ...base, ...i });
const NOW = new Date(Date.UTC(2025, 0, 31, 12, 0, 0, 5));

describe("promotion gate", () => {
    it("an unset alias: promote, naming the candidate and its metric", () => {
        const d = gate({ candidate: { version: "3", value: 0.41 } });
        assert.equal(d.action, "promote");
        assert.equal(d.forced, false);
        assert.equal(d.message, "models:/M@production → version 3 (test_rmse 0.41): the alias was unset, nothing to compare against");
    });

    it("an unset alias promotes even a candidate without the metric", () => {
        const d = gate({ candidate: { version: "1" } });
        assert.equal(d.action, "promote");
        assert.match(d.message, /version 1 \(no test_rmse\)/);
    });

    it("the candidate already holds the alias: no-op", () => {
        const d = gate({ candidate: { version: "2", value: 0.5 }, current: { version: "2", value: 0.5 } });
        assert.equal(d.action, "noop");
        assert.equal(d.message, "models:/M@production is already version 2 (test_rmse 0.5): nothing to do");
    });

    it("better: promote, the message names both versions, both values and the limit", () => {
        const d = gate({ candidate: { version: "3", value: 0.41 }, current: { version: "2", value: 0.5 } });
        assert.equal(d.action, "promote");
        assert.equal(d.limit, 0.5);
        assert.equal(
            d.message,
            "models:/M@production → version 3 (test_rmse 0.41) from version 2 (test_rmse 0.5): gate passed, test_rmse 0.41 <= limit 0.5 (version 2's 0.5, max regression 0, lower is better)",
        );
    });

    it("equal is no worse: promote with maxRegression 0", () => {
        assert.equal(gate({ candidate: { version: "3", value: 0.5 }, current: { version: "2", value: 0.5 } }).action, "promote");
    });

    it("worse: refuse, naming both versions, both values and the limit", () => {
        const d = gate({ candidate: { version: "3", value: 0.6 }, current: { version: "2", value: 0.5 }, maxRegression: 0.1 });
        assert.equal(d.action, "refuse");
        assert.equal(
            d.message,
            "models:/M@production stays version 2 (test_rmse 0.5): version 3 (test_rmse 0.6) refused, test_rmse 0.6 is over the limit 0.55 (version 2's 0.5, max regression 0.1, lower is better); force with a reason to promote anyway",
        );
        assert.ok(!d.message.includes("\n"));
    });

    it("within maxRegression: promote; just over it: refuse", () => {
        assert.equal(gate({ candidate: { version: "3", value: 0.51 }, current: { version: "2", value: 0.5 }, maxRegression: 0.05 }).action, "promote");
        assert.equal(gate({ candidate: { version: "3", value: 0.526 }, current: { version: "2", value: 0.5 }, maxRegression: 0.05 }).action, "refuse");
        assert.equal(gate({ candidate: { version: "3", value: 0.5000001 }, current: { version: "2", value: 0.5 } }).action, "refuse");
    });

    it("another metric is named in the message", () => {
        const d = gate({ candidate: { version: "3", value: 9 }, current: { version: "2", value: 10 }, metric: "val_mae" });
        assert.equal(d.action, "promote");
        assert.match(d.message, /version 3 \(val_mae 9\) from version 2 \(val_mae 10\)/);
    });

    it("a candidate without the metric is refused, unless forced", () => {
        const d = gate({ candidate: { version: "3" }, current: { version: "2", value: 0.5 } });
        assert.equal(d.action, "refuse");
        assert.match(d.message, /version 3's run has no test_rmse metric/);
        assert.match(d.message, /stays version 2 \(test_rmse 0\.5\)/);
        const f = gate({ candidate: { version: "3" }, current: { version: "2", value: 0.5 }, force: true, reason: "hotfix" });
        assert.equal(f.action, "promote");
        assert.equal(f.forced, true);
    });

    it("a current holder without the metric is refused (nothing to compare), unless forced", () => {
        const d = gate({ candidate: { version: "3", value: 0.4 }, current: { version: "2" } });
        assert.equal(d.action, "refuse");
        assert.match(d.message, /version 2's run has no test_rmse metric to compare against/);
        assert.equal(gate({ candidate: { version: "3", value: 0.4 }, current: { version: "2" }, force: true, reason: "r" }).action, "promote");
    });

    it("force with a reason promotes a worse one, the message says FORCED and the reason", () => {
        const d = gate({ candidate: { version: "3", value: 0.9 }, current: { version: "2", value: 0.5 }, force: true, reason: "  rollback:\n v2 breaks  " });
        assert.equal(d.action, "promote");
        assert.equal(d.forced, true);
        assert.equal(d.reason, "rollback: v2 breaks");
        assert.equal(
            d.message,
            "models:/M@production → version 3 (test_rmse 0.9) from version 2 (test_rmse 0.5): FORCED past the gate (test_rmse 0.9 is over the limit 0.5 (version 2's 0.5, max regression 0, lower is better)); reason: rollback: v2 breaks",
        );
    });

    it("force on a passing gate is not recorded as forced", () => {
        const d = gate({ candidate: { version: "3", value: 0.4 }, current: { version: "2", value: 0.5 }, force: true, reason: "r" });
        assert.equal(d.action, "promote");
        assert.equal(d.forced, false);
    });

    it("force without a (non-blank) reason is invalid, before anything else", () => {
        for (const reason of [undefined, "", "  \n "]) {
            const d = gate({ candidate: { version: "2" }, current: { version: "2" }, force: true, ...(reason !== undefined ? { reason } : {}) });
            assert.equal(d.action, "invalid");
            assert.match(d.message, /force needs a reason/);
        }
    });

    it("bad options are invalid", () => {
        assert.match(gateOptionsError({ maxRegression: -0.1 }) ?? "", /max regression must be a number >= 0/);
        assert.match(gateOptionsError({ maxRegression: NaN }) ?? "", /max regression/);
        assert.match(gateOptionsError({ metric: " " }) ?? "", /metric/);
        assert.match(gateOptionsError({ reason: "x".repeat(501) }) ?? "", /at most 500/);
        assert.equal(gateOptionsError({}), undefined);
        assert.equal(gate({ candidate: { version: "3", value: 1 }, maxRegression: -1 }).action, "invalid");
    });

    it("formatNumber is String(): shortest round-trip, JavaScript's exponent thresholds", () => {
        assert.deepEqual([0.1, 100, 0.55, 1e-7, 0.000001, 1e21, 123456789012, -2.5, 0.1 + 0.2].map(formatNumber), ["0.1", "100", "0.55", "1e-7", "0.000001", "1e+21", "123456789012", "-2.5", "0.30000000000000004"]);
    });

    it("metricValue: numbers pass, NaN/Infinity strings and junk are missing", () => {
        assert.equal(metricValue(0.5), 0.5);
        assert.equal(metricValue("0.5"), 0.5);
        for (const bad of ["NaN", "Infinity", "", null, undefined, {}, Infinity]) assert.equal(metricValue(bad), undefined);
    });
});

describe("promotion tag trail", () => {
    it("a gate-passed promotion: who, when (ISO-8601 UTC), why, previous version, both values, not forced", () => {
        const d = gate({ candidate: { version: "3", value: 0.41 }, current: { version: "2", value: 0.5 }, maxRegression: 0.02 });
        const tags = promotionTags(d, { user: "alice", now: NOW });
        const p = "mlflow-platform.promotion.production.";
        assert.deepEqual(tags, {
            [`${p}user`]: "alice",
            [`${p}time`]: "2025-01-31T12:00:00.005Z",
            [`${p}reason`]: "gate passed: test_rmse 0.41 <= limit 0.51 (version 2's 0.5, max regression 0.02, lower is better)",
            [`${p}forced`]: "false",
            [`${p}previous_version`]: "2",
            [`${p}metric`]: "test_rmse",
            [`${p}value`]: "0.41",
            [`${p}previous_value`]: "0.5",
            [`${p}max_regression`]: "0.02",
            [`${p}limit`]: "0.51",
        });
        assert.deepEqual(Object.keys(tags), PROMOTION_TAG_FIELDS.map((f) => promotionTagKey("production", f)));
    });

    it("a forced promotion records forced and the reason; unknown values are none", () => {
        const d = gate({ candidate: { version: "3" }, current: { version: "2", value: 0.5 }, force: true, reason: "data fix" });
        const tags = promotionTags(d, { user: "bob", now: NOW });
        assert.equal(tags["mlflow-platform.promotion.production.forced"], "true");
        assert.equal(tags["mlflow-platform.promotion.production.reason"], "data fix");
        assert.equal(tags["mlflow-platform.promotion.production.value"], "none");
        assert.equal(tags["mlflow-platform.promotion.production.limit"], "none");
    });

    it("an unset alias: previous version none, reason 'gate passed: the alias was unset'", () => {
        const tags = promotionTags(gate({ candidate: { version: "1", value: 0.7 } }), { user: "u", now: NOW });
        assert.equal(tags["mlflow-platform.promotion.production.previous_version"], "none");
        assert.equal(tags["mlflow-platform.promotion.production.reason"], "gate passed: the alias was unset");
    });

    it("refusals and no-ops write no trail", () => {
        assert.throws(() => promotionTags(gate({ candidate: { version: "3", value: 1 }, current: { version: "2", value: 0.5 } }), { user: "u", now: NOW }), /refuse decision/);
        assert.throws(() => promotionTags(gate({ candidate: { version: "2" }, current: { version: "2" } }), { user: "u", now: NOW }), /noop/);
    });
});

describe("promote CLI, gated (fake MLflow REST API)", () => {
    // versions 1..4: run r<n>; test_rmse by run; r4's run is gone (404), r3 has no test_rmse
    const RMSE: Record<string, number | string | undefined> = { r1: 0.5, r2: 0.45, r3: undefined, r5: "NaN" };
    let aliases: Record<string, string>;
    let requests: Array<{ method: string; path: string; body: Record<string, string> }>;
    let failTags = false;
    let server: http.Server;
    let url = "";

    before(async () => {
        server = http.createServer((req, res) => {
            let raw = "";
            req.on("data", (c: Buffer) => (raw += c.toString()));
            req.on("end", () => {
                const u = new URL(req.url ?? "/", "http://x");
                const q = u.searchParams;
                const body = (raw ? JSON.parse(raw) : {}) as Record<string, string>;
                requests.push({ method: req.method ?? "", path: u.pathname, body });
                const send = (status: number, obj: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(obj));
                const mv = (v: string) => ({ model_version: { name: "M", version: v, run_id: `r${v}`, status: "READY" } });
                switch (`${req.method} ${u.pathname}`) {
                    case "GET /api/2.0/mlflow/model-versions/get":
                        return ["1", "2", "3", "4", "5"].includes(q.get("version") ?? "") ? send(200, mv(q.get("version")!)) : send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Model Version not found" });
                    case "GET /api/2.0/mlflow/registered-models/alias": {
                        const v = aliases[q.get("alias") ?? ""];
                        return v ? send(200, mv(v)) : send(400, { error_code: "INVALID_PARAMETER_VALUE", message: `Registered model alias ${q.get("alias")} not found.` });
                    }
                    case "POST /api/2.0/mlflow/registered-models/alias":
                        aliases[body.alias!] = body.version!;
                        return send(200, {});
                    case "GET /api/2.0/mlflow/runs/get": {
                        const id = q.get("run_id") ?? "";
                        if (id === "r4") return send(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `Run with id=${id} not found` });
                        const v = RMSE[id];
                        return send(200, { run: { info: { run_id: id }, data: { metrics: [{ key: "test_mae", value: 1 }, ...(v === undefined ? [] : [{ key: "test_rmse", value: v }])] } } });
                    }
                    case "POST /api/2.0/mlflow/model-versions/set-tag":
                        return failTags ? send(403, { error_code: "PERMISSION_DENIED", message: "no EDIT" }) : send(200, {});
                    default:
                        return send(404, { error_code: "ENDPOINT_NOT_FOUND", message: "no such endpoint" });
                }
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
        server.closeAllConnections();
        return new Promise<void>((r) => server.close(() => r()));
    });
    beforeEach(() => {
        aliases = { production: "1" };
        requests = [];
        failTags = false;
    });

    async function run(...extra: string[]) {
        const out = { stdout: "", stderr: "" };
        const io: CliIo = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), env: { USER: "carol" } };
        const code = await promote(["--tracking-uri", url, "--model", "M", ...extra], io, { now: () => NOW });
        return { code, ...out };
    }
    const posts = (path: string) => requests.filter((r) => r.method === "POST" && r.path === path).map((r) => r.body);

    it("a better version: alias set, then the ten trail tags on it, user from $USER; one stdout line", async () => {
        const r = await run("--version", "2", "--max-regression", "0");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^models:\/M@production → version 2 \(test_rmse 0\.45\) from version 1 \(test_rmse 0\.5\): gate passed, .*\n$/);
        assert.deepEqual(posts("/api/2.0/mlflow/registered-models/alias"), [{ name: "M", alias: "production", version: "2" }]);
        const tags = posts("/api/2.0/mlflow/model-versions/set-tag");
        assert.deepEqual(tags.map((t) => t.key), PROMOTION_TAG_FIELDS.map((f) => promotionTagKey("production", f)));
        assert.ok(tags.every((t) => t.name === "M" && t.version === "2"));
        assert.equal(tags.find((t) => t.key.endsWith(".user"))?.value, "carol");
        assert.equal(tags.find((t) => t.key.endsWith(".time"))?.value, "2025-01-31T12:00:00.005Z");
        // the alias is set before the trail: a trail never claims a promotion that did not happen
        const i = requests.findIndex((q) => q.path.endsWith("/registered-models/alias") && q.method === "POST");
        const j = requests.findIndex((q) => q.path.endsWith("/set-tag"));
        assert.ok(i >= 0 && i < j);
    });

    it("a refusal: exit 1, one stderr line, no alias change, no tags", async () => {
        aliases = { production: "2" };
        const r = await run("--version", "1", "--metric", "test_rmse");
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr, "promote: models:/M@production stays version 2 (test_rmse 0.45): version 1 (test_rmse 0.5) refused, test_rmse 0.5 is over the limit 0.45 (version 2's 0.45, max regression 0, lower is better); force with a reason to promote anyway\n");
        assert.deepEqual(posts("/api/2.0/mlflow/registered-models/alias"), []);
        assert.deepEqual(posts("/api/2.0/mlflow/model-versions/set-tag"), []);
        assert.equal(aliases.production, "2");
    });

    it("a candidate whose run lacks the metric, is gone (404), or holds NaN: refused as 'no test_rmse'", async () => {
        for (const v of ["3", "4", "5"]) {
            const r = await run("--version", v, "--max-regression", "0.5");
            assert.equal(r.code, 1, `version ${v}: ${r.stdout}`);
            assert.match(r.stderr, new RegExp(`version ${v} \\(no test_rmse\\) refused, version ${v}'s run has no test_rmse metric;`));
        }
        assert.equal(aliases.production, "1");
    });

    it("--force --reason promotes it; the trail says forced and the reason", async () => {
        const r = await run("--version", "3", "--force", "--reason", "hotfix 7", "--user", "dave");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /FORCED past the gate \(version 3's run has no test_rmse metric\); reason: hotfix 7\n$/);
        const tags = Object.fromEntries(posts("/api/2.0/mlflow/model-versions/set-tag").map((t) => [t.key, t.value]));
        assert.equal(tags["mlflow-platform.promotion.production.forced"], "true");
        assert.equal(tags["mlflow-platform.promotion.production.reason"], "hotfix 7");
        assert.equal(tags["mlflow-platform.promotion.production.user"], "dave");
        assert.equal(aliases.production, "3");
    });

    it("the holder again: no-op, nothing written", async () => {
        const r = await run("--version", "1", "--max-regression", "0");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "models:/M@production is already version 1 (test_rmse 0.5): nothing to do\n");
        assert.equal(requests.filter((q) => q.method === "POST").length, 0);
    });

    it("a failing tag write after the alias moved: exit 1, one line saying so", async () => {
        failTags = true;
        const r = await run("--version", "2", "--max-regression", "0");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^promote: models:\/M@production now points at version 2, but writing its promotion tags failed: .*HTTP 403.*\n$/);
        assert.equal(r.stderr.split("\n").length, 2);
    });

    for (const [argv, fragment] of [
        [["--force"], "--force needs --reason"],
        [["--force", "--reason", "  "], "--force needs --reason"],
        [["--max-regression", "-0.1"], '--max-regression "-0.1" must be a number >= 0'],
        [["--max-regression", "2%"], "must be a number >= 0"],
        [["--metric", " "], "the metric must not be empty"],
        [["--user", " "], "--user must not be empty"],
    ] as const) {
        it(`bad gate arguments exit 2 before any request: ${argv.join(" ")}`, async () => {
            const r = await run("--version", "2", ...argv);
            assert.equal(r.code, 2, r.stderr);
            assert.ok(r.stderr.includes(fragment), r.stderr);
            assert.equal(r.stderr.split("\n").length, 2);
            assert.deepEqual(requests, []);
        });
    }
});
