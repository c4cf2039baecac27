/**
 * Values as the real `pulumi config set --path` stores them: digits become numbers (the engine tests
 * found `serving.models[0].version 1` refused as "must be a string (got 1)"). A string key takes a
 * number as its decimal string, then checks it like any string; a secret stays strict (its message says
 * to use `--type string`).
 */
import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config";

describe("config: values typed by pulumi config set --path", () => {
    it("a digits-only string key set without --type string is read as that string", () => {
        const c = parseConfig(
            {
                trackingServer: { resources: { limits: { cpu: 2 } } },
                artifactStore: { bucketName: "mlflow-artifacts-test" },
                serving: { models: [{ name: "california-housing", version: 7 }] },
            },
            "test",
        );
        assert.equal(c.trackingServer.resources.limits.cpu, "2");
        assert.equal(c.serving.models[0].version, "7");
    });

    it("the string's own rules still apply to the number's text", () => {
        assert.throws(() => parseConfig({ serving: { models: [{ name: "california-housing", version: 0 }] } }, "test"), (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.match(err.message, /serving\.models\[0\]\.version must be a version number such as 7 \(got "0"\)/);
            return true;
        });
        assert.throws(() => parseConfig({ namespace: 12.5 }, "test"), /namespace must be a DNS label/);
    });

    it("non-numbers are still refused, naming the key", () => {
        assert.throws(() => parseConfig({ namespace: true }, "test"), /mlflow-platform:namespace must be a string \(got true\)/);
    });
});
