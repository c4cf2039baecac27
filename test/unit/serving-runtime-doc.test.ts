import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { clusterServingRuntime } from "../../manifests/serving";
import { ROOT } from "../support/render";

/** The YAML block under a heading of docs/serving-runtime.md. */
function docBlock(heading: string): unknown {
    const text = fs.readFileSync(path.join(ROOT, "docs", "serving-runtime.md"), "utf8");
    const at = text.indexOf(heading);
    assert.ok(at >= 0, `docs/serving-runtime.md has the heading ${heading}`);
    const m = /```yaml\n([\s\S]*?)```/.exec(text.slice(at));
    assert.ok(m, `a yaml block under ${heading}`);
    return YAML.parse(m[1]);
}

describe("docs/serving-runtime.md agrees with the code", () => {
    it("the ClusterServingRuntime it shows is what manifests/serving.ts renders (image and labels aside)", () => {
        const rendered = JSON.parse(JSON.stringify(clusterServingRuntime({ image: "IMAGE" }))) as { metadata: { labels?: unknown }; spec: { containers: { image?: string }[] } };
        delete rendered.metadata.labels;
        for (const c of rendered.spec.containers) delete c.image;
        assert.deepEqual(docBlock("## The ClusterServingRuntime the platform declares"), rendered);
    });
});
