import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config";

/** The messages of the ConfigError that `raw` is refused with; fails the test when it is accepted. */
export function errorsOf(raw: Record<string, unknown>, stack = "test"): string[] {
    try {
        parseConfig(raw, stack);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        return err.issues.map((i) => i.message);
    }
    assert.fail("expected a ConfigError");
}
