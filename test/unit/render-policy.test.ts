import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main as policyMain } from "../../cli/policy";
import { writeRender } from "../../cli/render";
import { render } from "../support/render";

async function policyOn(
    stack: string,
    edit?: (resources: { type: string; inputs: Record<string, unknown> }[]) => void,
    editOutputs?: (outputs: Record<string, unknown>) => void,
): Promise<{ code: number; lines: string[] }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `policy-${stack}-`));
    try {
        writeRender(await render(stack), dir);
        for (const [name, fn] of [["resources.json", edit], ["outputs.json", editOutputs]] as const) {
            if (!fn) continue;
            const file = path.join(dir, name);
            const json = JSON.parse(fs.readFileSync(file, "utf8"));
            fn(json);
            fs.writeFileSync(file, JSON.stringify(json));
        }
        const lines: string[] = [];
        const code = await policyMain(["--dir", dir], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
        return { code, lines };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("policy over the project's own renders", () => {
    it("dev passes (digest pins only advisory outside prod)", async () => {
        const { code, lines } = await policyOn("dev");
        assert.equal(code, 0, lines.join("\n"));
    });
    it("prod passes every mandatory policy", async () => {
        const { code, lines } = await policyOn("prod");
        assert.equal(code, 0, lines.join("\n"));
    });
    it("prod edited to a public, unencrypted RDS fails naming both policies", async () => {
        const { code, lines } = await policyOn("prod", (rs) => {
            const db = rs.find((r) => r.type === "aws:rds/instance:Instance");
            assert.ok(db);
            db.inputs.publiclyAccessible = true;
            db.inputs.storageEncrypted = false;
        });
        assert.equal(code, 1);
        assert.ok(lines.some((l) => l.startsWith("rds-private ")));
        assert.ok(lines.some((l) => l.startsWith("rds-encrypted ")));
    });
    it("the rendered credentials Secret keeps its key names for the policy: dev's static keys in an irsa stack are named", async () => {
        // Before the render kept Secret keys, the no-static-keys rule saw keys "0".."7" and missed the Secret.
        const { code, lines } = await policyOn("dev", undefined, (o) => (o.artifactAuth = "irsa"));
        assert.equal(code, 1);
        assert.ok(lines.some((l) => /^no-static-aws-keys-with-irsa .*Secret mlflow\/mlflow-aws-credentials stringData holds AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/.test(l)), lines.join("\n"));
    });
    it("dev edited to an open bucket fails naming the public-access policy", async () => {
        const { code, lines } = await policyOn("dev", (rs) => {
            const pab = rs.find((r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
            assert.ok(pab);
            pab.inputs.blockPublicPolicy = false;
        });
        assert.equal(code, 1);
        assert.ok(lines.some((l) => l.startsWith("s3-public-access-block ")));
    });
});
