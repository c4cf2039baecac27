import * as assert from "node:assert/strict";
import { artifactAccessPolicy, irsaTrustPolicy, tlsOnlyBucketPolicy, workloadAccess } from "../../lib/iam-policies";

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
    it("workload access: training reads a dataset outside the artifact bucket, serving only reads", () => {
        const [tracking, training, serving] = workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, "s3://data/datasets/x.csv");
        assert.deepEqual(tracking.grants, [{ bucket: "art", access: "readWrite" }]);
        assert.deepEqual(training.grants, [{ bucket: "art", access: "readWrite" }, { bucket: "data", access: "readOnly", prefix: "datasets/" }]);
        assert.deepEqual(serving.grants, [{ bucket: "art", access: "readOnly" }]);
        assert.equal(workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, "s3://art/datasets/x.csv")[1].grants.length, 1);
    });
});
