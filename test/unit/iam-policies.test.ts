import * as assert from "node:assert/strict";
import { artifactAccessPolicy, irsaTrustPolicy, parseS3Uri, tlsOnlyBucketPolicy } from "../../lib/iam-policies";

describe("IAM and bucket policies as data", () => {
    it("read/write grant: list narrowed to nothing, objects read+write, no bucket admin", () => {
        const doc = artifactAccessPolicy([{ bucket: "b", access: "readWrite" }]);
        const actions = doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
        assert.ok(actions.includes("s3:PutObject"));
        assert.ok(actions.includes("s3:GetObject"));
        assert.ok(!actions.some((a) => a === "s3:*" || a.startsWith("s3:PutBucket") || a.startsWith("s3:DeleteBucket")));
        assert.deepEqual(doc.Statement[1].Resource, "arn:aws:s3:::b/*");
    });
    it("read-only grant on a prefix: no write action, list condition on the prefix", () => {
        const doc = artifactAccessPolicy([{ bucket: "data", access: "readOnly", prefix: "/datasets/" }]);
        const actions = doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
        assert.ok(!actions.includes("s3:PutObject") && !actions.includes("s3:DeleteObject"));
        assert.deepEqual(doc.Statement[0].Condition, { StringLike: { "s3:prefix": ["datasets/*"] } });
        assert.equal(doc.Statement[1].Resource, "arn:aws:s3:::data/datasets/*");
    });
    it("refuses an empty grant list", () => {
        assert.throws(() => artifactAccessPolicy([]), /at least one bucket grant/);
    });
    it("TLS-only policy denies insecure transport on the bucket and its objects", () => {
        const doc = tlsOnlyBucketPolicy("b");
        assert.equal(doc.Statement[0].Effect, "Deny");
        assert.deepEqual(doc.Statement[0].Condition, { Bool: { "aws:SecureTransport": false } });
        assert.deepEqual(doc.Statement[0].Resource, ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]);
    });
    it("IRSA trust: exactly one service account, STS audience, the cluster's provider", () => {
        const doc = irsaTrustPolicy("arn:aws:iam::1:oidc-provider/oidc.eks.x.amazonaws.com/id/A", "https://oidc.eks.x.amazonaws.com/id/A", "mlflow", "mlflow-serving");
        const st = doc.Statement[0];
        assert.deepEqual(st.Principal, { Federated: "arn:aws:iam::1:oidc-provider/oidc.eks.x.amazonaws.com/id/A" });
        assert.equal(st.Action, "sts:AssumeRoleWithWebIdentity");
        assert.equal(st.Resource, undefined);
        assert.deepEqual(st.Condition, {
            StringEquals: {
                "oidc.eks.x.amazonaws.com/id/A:sub": "system:serviceaccount:mlflow:mlflow-serving",
                "oidc.eks.x.amazonaws.com/id/A:aud": "sts.amazonaws.com",
            },
        });
    });
    it("parses s3 URIs and refuses others", () => {
        assert.deepEqual(parseS3Uri("s3://bucket/a/b"), { bucket: "bucket", key: "a/b" });
        assert.deepEqual(parseS3Uri("s3://bucket"), { bucket: "bucket", key: "" });
        assert.throws(() => parseS3Uri("gs://bucket/a"), /expected an s3:\/\/bucket\/key URI/);
    });
});
