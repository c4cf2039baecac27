import * as assert from "node:assert/strict";
import { artifactAccessPolicy, irsaTrustPolicy, outsideBucketGrants, tlsOnlyBucketPolicy, workloadAccess } from "../../lib/iam-policies";

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
        const [tracking, training, serving] = workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, { dataset: "s3://data/datasets/x.csv" });
        assert.deepEqual(tracking.grants, [{ bucket: "art", access: "readWrite" }]);
        assert.deepEqual(training.grants, [{ bucket: "art", access: "readWrite" }, { bucket: "data", access: "readOnly", prefix: "datasets/" }]);
        assert.deepEqual(serving.grants, [{ bucket: "art", access: "readOnly" }]);
        assert.equal(workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, { dataset: "s3://art/datasets/x.csv" })[1].grants.length, 1);
    });
    it("workload access: the database backup reads and puts under its prefix only, and deletes nothing", () => {
        const accounts = { tracking: "t", training: "tr", serving: "s", backup: "b" };
        const all = workloadAccess("art", accounts, {}, "s3://art/team-a/backups");
        assert.deepEqual(all.map((a) => a.serviceAccount), ["t", "tr", "s", "b"]);
        assert.deepEqual(all[3].grants, [{ bucket: "art", access: "readPut", prefix: "team-a/backups/" }]);
        const doc = artifactAccessPolicy(all[3].grants);
        assert.deepEqual(doc.Statement[1].Action, ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]);
        assert.equal(doc.Statement[1].Resource, "arn:aws:s3:::art/team-a/backups/*");
        assert.deepEqual(doc.Statement[0].Condition, { StringLike: { "s3:prefix": ["team-a/backups/*"] } });
        // Without a backup: three roles, as before.
        assert.equal(workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }).length, 3);
        assert.throws(() => workloadAccess("art", accounts, {}, "s3://art"), /backups prefix s3:\/\/art names no key prefix/);
        assert.throws(() => workloadAccess("art", accounts), /the backup ServiceAccount and the backups prefix come together/);
        assert.throws(() => workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, {}, "s3://art/backups"), /come together/);
    });
    it("outside the artifact bucket, training reads the dataset's and batch inputs' directories and puts under batch outputs, once each", () => {
        const grants = outsideBucketGrants("art", {
            dataset: "s3://data/housing/v3/train.csv",
            batchInputs: ["s3://scoring/in/nightly.csv", "s3://scoring/in/weekly.csv", "s3://art/batch/x/input.csv"],
            batchOutputs: ["s3://scoring/out/nightly", "s3://art/batch/x/predictions", "s3://scoring/out/nightly"],
        });
        assert.deepEqual(grants, [
            { bucket: "data", access: "readOnly", prefix: "housing/v3/" },
            { bucket: "scoring", access: "readOnly", prefix: "in/" },
            { bucket: "scoring", access: "readPut", prefix: "out/nightly/" },
        ]);
        assert.deepEqual(outsideBucketGrants("art", {}), []);
        const [, training] = workloadAccess("art", { tracking: "t", training: "tr", serving: "s" }, { batchInputs: ["s3://scoring/in/a.csv"], batchOutputs: ["s3://scoring/out"] });
        assert.deepEqual(training.grants, [{ bucket: "art", access: "readWrite" }, { bucket: "scoring", access: "readOnly", prefix: "in/" }, { bucket: "scoring", access: "readPut", prefix: "out/" }]);
        assert.throws(() => outsideBucketGrants("art", { batchInputs: ["https://x/y.csv"] }), /Invalid S3 URI "https:\/\/x\/y.csv"/);
    });
    it("access levels: readWrite alone may delete", () => {
        const actions = (access: "readWrite" | "readOnly" | "readPut") => artifactAccessPolicy([{ bucket: "art", access }]).Statement[1].Action as string[];
        assert.ok(actions("readWrite").includes("s3:DeleteObject"));
        assert.ok(!actions("readPut").includes("s3:DeleteObject") && actions("readPut").includes("s3:PutObject"));
        assert.deepEqual(actions("readOnly"), ["s3:GetObject", "s3:GetObjectVersion"]);
        assert.deepEqual(artifactAccessPolicy([{ bucket: "art", access: "readPut" }]).Statement.map((x) => x.Sid), ["List0", "ReadPut0"]);
    });
});
