/**
 * kubernetes:enableSecretMutable is required: with the provider's default a rotated credential replaces
 * its Secret, delete first, and the objects naming it (the engine tests saw a PostgreSQL password rotation
 * plan a replace of the PostgreSQL StatefulSet).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { kubernetesProviderIssues } from "../../lib/load-config";
import { render } from "../support/render";

const ROOT = path.resolve(__dirname, "..", "..");

describe("Kubernetes provider config the platform relies on", () => {
    it("enableSecretMutable true (config or the provider's env variable) passes; unset or false is refused naming the key and the fix", () => {
        assert.deepEqual(kubernetesProviderIssues({ "kubernetes:enableSecretMutable": "true" }, {}), []);
        assert.deepEqual(kubernetesProviderIssues({}, { PULUMI_K8S_ENABLE_SECRET_MUTABLE: "true" }), []);
        for (const [all, got] of [[{}, "unset"], [{ "kubernetes:enableSecretMutable": "false" }, '"false"']] as const) {
            const issues = kubernetesProviderIssues(all, {});
            assert.equal(issues.length, 1);
            assert.equal(issues[0].key, "kubernetes:enableSecretMutable");
            assert.ok(issues[0].message.includes(`(got ${got})`), issues[0].message);
            assert.ok(issues[0].message.includes("pulumi config set kubernetes:enableSecretMutable true"));
        }
    });

    it("every shipped stack sets it, and the render refuses a stack without it (exit 2, nothing written)", async () => {
        for (const stack of ["local", "dev", "prod"]) assert.equal((await render(stack)).stack, stack);
        const r = spawnSync(process.execPath, [path.join(ROOT, "cli", "run.js"), "render", "--stack", "local", "--out", path.join(ROOT, "rendered", "never"), "--set", "kubernetes:enableSecretMutable=false"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /kubernetes:enableSecretMutable must be true \(got "false"\)/);
    });
});
