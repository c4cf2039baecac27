import * as assert from "node:assert/strict";
import type { ModelVersion } from "../../lib/registry/client";
import { RegistryError } from "../../lib/registry/errors";
import { resolveModel, resolveModels, type ResolveTarget } from "../../lib/registry/resolver";

const REGISTRY = "http://127.0.0.1:5000";

/** A stub of the client's read API over an in-memory registry: { model: { alias→version, version→downloadUri } }. */
function stubClient(models: Record<string, { aliases: Record<string, string>; downloads: Record<string, string> }>, delayMs = 0) {
    const calls: string[] = [];
    let inflight = 0;
    let maxInflight = 0;
    const wait = async <T>(f: () => T): Promise<T> => {
        inflight++;
        maxInflight = Math.max(maxInflight, inflight);
        try {
            await new Promise((r) => setTimeout(r, typeof delayMs === "number" ? delayMs : 0));
            return f();
        } finally {
            inflight--;
        }
    };
    const mv = (name: string, version: string): ModelVersion => ({ name, version, source: `models:/m-${name}-${version}`, run_id: `run-${name}-${version}` });
    return {
        calls,
        get maxInflight() {
            return maxInflight;
        },
        registry: REGISTRY,
        getModelVersionByAlias: (name: string, alias: string) =>
            wait(() => {
                calls.push(`alias ${name}@${alias}`);
                const v = models[name]?.aliases[alias];
                if (!v) throw new RegistryError("ALIAS_NOT_FOUND", `Alias "${alias}" not found on registered model "${name}" at ${REGISTRY}`);
                return mv(name, v);
            }),
        getModelVersion: (name: string, version: string) =>
            wait(() => {
                calls.push(`get ${name}/${version}`);
                if (!models[name]?.downloads[version]) throw new RegistryError("VERSION_NOT_FOUND", `Version ${version} of "${name}" not found`);
                return mv(name, version);
            }),
        getDownloadUri: (name: string, version: string) =>
            wait(() => {
                calls.push(`download ${name}/${version}`);
                const d = models[name]?.downloads[version];
                if (!d) throw new RegistryError("VERSION_NOT_FOUND", `Version ${version} of "${name}" not found`);
                return d;
            }),
    };
}

const REG = {
    M: {
        aliases: { production: "2", staging: "3", bad: "4", elsewhere: "5", proxied: "6" },
        downloads: {
            "1": "s3://bucket/direct/1/models/m-1/artifacts",
            "2": "s3://bucket/direct/1/models/m-2/artifacts/",
            "3": "s3://bucket/direct/1/models/m-3/artifacts",
            "4": "models:/m-4",
            "5": "s3://other-bucket/models/m-5",
            "6": "mlflow-artifacts:/1/models/m-6/artifacts",
        },
    },
};
const OPTS = { allowedPrefixes: ["s3://bucket"], artifactsDestination: "s3://bucket/proxied" };

async function rejectsCode(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof RegistryError, String(e));
        assert.equal(e.code, code, e.message);
        for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" should include "${f}"`);
        return true;
    });
}

describe("registry resolver: resolveModel", () => {
    it("alias → version → download URI → storage URI, with lineage", async () => {
        const c = stubClient(REG);
        const r = await resolveModel(c, { servedName: "ch", registeredModel: "M", alias: "production" }, OPTS);
        assert.deepEqual(r, {
            name: "M",
            version: "2",
            alias: "production",
            runId: "run-M-2",
            source: "models:/m-M-2",
            storageUri: "s3://bucket/direct/1/models/m-2/artifacts",
        });
        assert.deepEqual(c.calls, ["alias M@production", "download M/2"]);
    });

    it("a pinned version reads the version and its download URI", async () => {
        const c = stubClient(REG);
        const r = await resolveModel(c, { servedName: "ch", registeredModel: "M", version: "1" }, OPTS);
        assert.equal(r.version, "1");
        assert.equal(r.alias, undefined);
        assert.equal(r.storageUri, "s3://bucket/direct/1/models/m-1/artifacts");
        assert.deepEqual([...c.calls].sort(), ["download M/1", "get M/1"]);
    });

    it("maps proxied mlflow-artifacts:/ download URIs onto artifactsDestination", async () => {
        const r = await resolveModel(stubClient(REG), { servedName: "ch", registeredModel: "M", alias: "proxied" }, OPTS);
        assert.equal(r.storageUri, "s3://bucket/proxied/1/models/m-6/artifacts");
    });

    it("a pinned storageUri makes no lookup but is still checked", async () => {
        const c = stubClient(REG);
        const r = await resolveModel(c, { servedName: "ch", registeredModel: "M", storageUri: "s3://bucket/x/" }, OPTS);
        assert.deepEqual(r, { name: "M", storageUri: "s3://bucket/x" });
        assert.deepEqual(c.calls, []);
        await rejectsCode(resolveModel(c, { servedName: "ch", registeredModel: "M", storageUri: "s3://other/x" }, OPTS), "OUTSIDE_BUCKET", "s3://other/x");
    });

    it("requires exactly one of alias, version, storageUri", async () => {
        const c = stubClient(REG);
        await rejectsCode(resolveModel(c, { servedName: "ch", registeredModel: "M" }, OPTS), "INVALID_TARGET", '"ch"', "none");
        await rejectsCode(resolveModel(c, { servedName: "ch", registeredModel: "M", alias: "production", version: "2" }, OPTS), "INVALID_TARGET", "alias and version");
        await rejectsCode(resolveModel(c, { servedName: "ch", registeredModel: "M", version: "two" }, OPTS), "INVALID_TARGET", '"two"');
        assert.deepEqual(c.calls, []);
    });

    it("a models:/ download URI (MLflow 3 source) is NOT_S3 naming model, alias, version and registry", async () => {
        await rejectsCode(resolveModel(stubClient(REG), { servedName: "ch", registeredModel: "M", alias: "bad" }, OPTS), "NOT_S3", 'model "M"', 'alias "bad"', "version 4", REGISTRY, "models:/m-4");
    });

    it("another bucket is OUTSIDE_BUCKET", async () => {
        await rejectsCode(resolveModel(stubClient(REG), { servedName: "ch", registeredModel: "M", alias: "elsewhere" }, OPTS), "OUTSIDE_BUCKET", "s3://other-bucket/models/m-5", 'alias "elsewhere"');
    });

    it("propagates the client's error (missing alias)", async () => {
        await rejectsCode(resolveModel(stubClient(REG), { servedName: "ch", registeredModel: "M", alias: "nope" }, OPTS), "ALIAS_NOT_FOUND", '"nope"');
    });
});

describe("registry resolver: resolveModels", () => {
    const many = (n: number): ResolveTarget[] =>
        Array.from({ length: n }, (_, i) => ({ servedName: `s${i}`, registeredModel: "M", ...(i % 2 ? { version: String((i % 3) + 1) } : { alias: i % 4 ? "staging" : "production" }) }));

    it("keeps input order and bounds concurrency", async () => {
        const c = stubClient(REG, 5);
        const targets = many(20);
        const out = await resolveModels(c, targets, OPTS, 3);
        assert.equal(out.length, 20);
        targets.forEach((t, i) => {
            const expected = t.version ?? (t.alias === "production" ? "2" : "3");
            assert.equal(out[i]!.version, expected, `target ${i}`);
        });
    });

    it("never has more than `concurrency` lookups in flight", async () => {
        const c = stubClient(REG, 5);
        // alias lookups make their two calls one after the other: calls in flight = targets in flight
        const aliasOnly = many(24).filter((t) => t.alias);
        await resolveModels(c, aliasOnly, OPTS, 3);
        assert.equal(c.maxInflight, 3);
        assert.equal(c.calls.length, aliasOnly.length * 2);
    });

    it("concurrency 1 is sequential", async () => {
        const c = stubClient(REG, 1);
        await resolveModels(c, many(6).filter((t) => t.alias), OPTS, 1);
        assert.equal(c.maxInflight, 1);
    });

    it("an empty list makes no lookup", async () => {
        const c = stubClient(REG);
        assert.deepEqual(await resolveModels(c, [], OPTS), []);
        assert.deepEqual(c.calls, []);
    });

    it("throws the first failure in input order and stops starting lookups", async () => {
        const c = stubClient(REG, 2);
        const targets: ResolveTarget[] = [
            { servedName: "ok", registeredModel: "M", alias: "production" },
            { servedName: "missing", registeredModel: "M", alias: "nope" },
            { servedName: "bad", registeredModel: "M", alias: "bad" },
            ...many(10),
        ];
        await rejectsCode(resolveModels(c, targets, OPTS, 2), "ALIAS_NOT_FOUND", '"nope"');
        assert.ok(c.calls.length < 10, `stopped early: ${c.calls.length} calls`);
    });

    it("rejects a bad concurrency", async () => {
        await assert.rejects(resolveModels(stubClient(REG), [], OPTS, 0), /concurrency/);
    });
});
