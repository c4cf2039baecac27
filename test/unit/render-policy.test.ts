import * as assert from "node:assert/strict";
import { policyOn } from "../support/policy";

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
        const { code, lines } = await policyOn("prod", { edit: (rs) => {
            const db = rs.find((r) => r.type === "aws:rds/instance:Instance");
            assert.ok(db);
            db.inputs.publiclyAccessible = true;
            db.inputs.storageEncrypted = false;
        } });
        assert.equal(code, 1);
        assert.ok(lines.some((l) => l.startsWith("rds-private ")));
        assert.ok(lines.some((l) => l.startsWith("rds-encrypted ")));
    });
    it("the rendered credentials Secret keeps its key names for the policy: dev's static keys in an irsa stack are named", async () => {
        // Before the render kept Secret keys, the no-static-keys rule saw keys "0".."7" and missed the Secret.
        const { code, lines } = await policyOn("dev", { editOutputs: (o) => (o.artifactAuth = "irsa") });
        assert.equal(code, 1);
        assert.ok(lines.some((l) => /^no-static-aws-keys-with-irsa .*Secret mlflow\/mlflow-aws-credentials stringData holds AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/.test(l)), lines.join("\n"));
    });
    it("dev edited to an open bucket fails naming the public-access policy", async () => {
        const { code, lines } = await policyOn("dev", { edit: (rs) => {
            const pab = rs.find((r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
            assert.ok(pab);
            pab.inputs.blockPublicPolicy = false;
        } });
        assert.equal(code, 1);
        assert.ok(lines.some((l) => l.startsWith("s3-public-access-block ")));
    });
});
