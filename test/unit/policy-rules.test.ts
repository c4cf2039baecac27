import * as assert from "node:assert/strict";
import { BUCKET, compliantStack, find, prodContext, secureContainer } from "../../policy/fixtures";
import { Finding, NormalizedResource, RULES, StackContext, UNKNOWN, evaluate, k8sKind, resolveContext } from "../../policy/rules";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests poke into nested fixture objects

const run = (resources: NormalizedResource[], ctx: Partial<StackContext> = prodContext()) => evaluate(resources, ctx);
const byPolicy = (fs: Finding[], policy: string) => fs.filter((f) => f.policy === policy);

/** Runs with one change to the compliant stack and returns the findings of `policy`, asserting no other policy fires. */
function breakOne(policy: string, change: (rs: NormalizedResource[]) => void, ctx?: Partial<StackContext>): Finding[] {
    const rs = compliantStack();
    change(rs);
    const fs = run(rs, ctx);
    assert.deepEqual(
        fs.filter((f) => f.policy !== policy).map((f) => f.policy),
        [],
        "only the policy under test fires",
    );
    return byPolicy(fs, policy);
}

const inputs = (rs: NormalizedResource[], kind: string, name: string) => find(rs, kind, name).inputs as Obj;
const podSpec = (rs: NormalizedResource[], name: string) => inputs(rs, "Deployment", name).spec.template.spec;
const cronContainer = (rs: NormalizedResource[]) => inputs(rs, "CronJob", "train-nightly").spec.jobTemplate.spec.template.spec.containers[0];

describe("policy rules", () => {
    it("the compliant stack passes every rule", () => {
        assert.deepEqual(run(compliantStack()), []);
        assert.equal(new Set(RULES.map((r) => r.name)).size, RULES.length, "rule names are unique");
    });

    describe("s3", () => {
        it("s3-public-access-block fails when a flag is false, naming it", () => {
            const fs = breakOne("s3-public-access-block", (rs) => (inputs(rs, "BucketPublicAccessBlock", "artifacts").blockPublicPolicy = false));
            assert.equal(fs.length, 1);
            assert.equal(fs[0].resource, "aws:s3/bucket:Bucket::artifacts");
            assert.equal(fs[0].level, "mandatory");
            assert.match(fs[0].reason, /blockPublicPolicy must be true/);
        });

        it("s3-public-access-block fails when no block is attached", () => {
            const fs = breakOne("s3-public-access-block", (rs) => rs.splice(rs.indexOf(find(rs, "BucketPublicAccessBlock", "artifacts")), 1));
            assert.equal(fs.length, 1);
            assert.match(fs[0].reason, /has no public access block attached/);
        });

        it("s3-encryption fails when missing or not a real algorithm", () => {
            let fs = breakOne("s3-encryption", (rs) => rs.splice(rs.indexOf(find(rs, "BucketServerSideEncryptionConfiguration", "artifacts")), 1));
            assert.equal(fs.length, 1);
            fs = breakOne("s3-encryption", (rs) => (inputs(rs, "BucketServerSideEncryptionConfiguration", "artifacts").rules = [{}]));
            assert.match(fs[0].reason, /sseAlgorithm must be one of AES256/);
        });

        it("s3-versioning fails unless status is Enabled", () => {
            const fs = breakOne("s3-versioning", (rs) => (inputs(rs, "BucketVersioning", "artifacts").versioningConfiguration.status = "Suspended"));
            assert.equal(fs.length, 1);
            assert.match(fs[0].reason, /"Suspended", must be "Enabled"/);
        });

        it("checks every bucket, including one without attachments", () => {
            const fs = byPolicy(
                run([...compliantStack(), { type: "aws:s3/bucket:Bucket", name: "other", inputs: { bucket: "other-bucket" } }], prodContext()),
                "s3-versioning",
            );
            assert.deepEqual(fs.map((f) => f.resource), ["aws:s3/bucket:Bucket::other"]);
        });

        it("matches attachments by dependency when the bucket id is unknown (preview)", () => {
            const rs = compliantStack();
            for (const a of rs.filter((r) => r.type.startsWith("aws:s3/bucket") && r.type !== "aws:s3/bucket:Bucket")) {
                a.inputs.bucket = UNKNOWN;
                delete a.parent;
                a.refs = { bucket: ["aws:s3/bucket:Bucket::artifacts"] };
            }
            assert.deepEqual(run(rs), []);
            for (const a of rs) delete a.refs;
            assert.equal(byPolicy(run(rs), "s3-versioning").length, 1, "without refs nothing ties them to the bucket");
        });

        it("falls back to the only bucket with the same parent when the bucket value is a stand-in id", () => {
            const rs = compliantStack();
            for (const a of rs.filter((r) => r.type.startsWith("aws:s3/bucket") && r.type !== "aws:s3/bucket:Bucket")) a.inputs.bucket = "artifacts_id";
            assert.deepEqual(run(rs), []);
            find(rs, "BucketVersioning", "artifacts").inputs.versioningConfiguration = { status: "Disabled" };
            assert.equal(byPolicy(run(rs), "s3-versioning").length, 1);
        });
    });

    describe("rds", () => {
        const rds = (rs: NormalizedResource[]) => inputs(rs, "Instance", "mlflow-db");

        it("rds-encrypted fails when storageEncrypted is false or unset", () => {
            assert.equal(breakOne("rds-encrypted", (rs) => (rds(rs).storageEncrypted = false)).length, 1);
            const fs = breakOne("rds-encrypted", (rs) => delete rds(rs).storageEncrypted);
            assert.equal(fs[0].resource, "aws:rds/instance:Instance::mlflow-db");
            assert.match(fs[0].reason, /storageEncrypted is unset, must be true/);
        });

        it("rds-private fails when publicly accessible; unset is private (the AWS default)", () => {
            assert.equal(breakOne("rds-private", (rs) => (rds(rs).publiclyAccessible = true)).length, 1);
            assert.equal(breakOne("rds-private", (rs) => delete rds(rs).publiclyAccessible).length, 0);
        });

        it("rds-deletion-protection fails unless true", () => {
            assert.equal(breakOne("rds-deletion-protection", (rs) => (rds(rs).deletionProtection = false)).length, 1);
        });

        it("rds-backups fails on retention < 7 days or skipFinalSnapshot", () => {
            assert.match(breakOne("rds-backups", (rs) => (rds(rs).backupRetentionPeriod = 3))[0].reason, /backupRetentionPeriod is 3, must be >= 7/);
            assert.match(breakOne("rds-backups", (rs) => (rds(rs).skipFinalSnapshot = true))[0].reason, /skipFinalSnapshot/);
            assert.equal(breakOne("rds-backups", (rs) => (rds(rs).backupRetentionPeriod = 35)).length, 0);
        });
    });

    describe("no-static-aws-keys-with-irsa", () => {
        const P = "no-static-aws-keys-with-irsa";
        it("fails on IAM access keys and users in an irsa stack", () => {
            const fs = breakOne(P, (rs) =>
                rs.push({ type: "aws:iam/user:User", name: "mlflow", inputs: {} }, { type: "aws:iam/accessKey:AccessKey", name: "mlflow", inputs: { user: "mlflow" } }),
            );
            assert.deepEqual(fs.map((f) => f.resource).sort(), ["aws:iam/accessKey:AccessKey::mlflow", "aws:iam/user:User::mlflow"]);
        });

        it("fails on a Secret holding AWS keys and on container env carrying them", () => {
            const fs = breakOne(P, (rs) => {
                inputs(rs, "Secret", "mlflow-db").stringData.AWS_ACCESS_KEY_ID = "[secret]";
                podSpec(rs, "mlflow").containers[0].env.push({ name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "s3", key: "k" } } });
            });
            assert.deepEqual(fs.map((f) => f.resource).sort(), ["kubernetes:apps/v1:Deployment::mlflow", "kubernetes:core/v1:Secret::mlflow-db"]);
            assert.match(fs.find((f) => f.resource.includes("Secret"))!.reason, /stringData holds AWS_ACCESS_KEY_ID/);
        });

        it("allows static keys when artifactAuth is staticKeys, and derives irsa from IRSA markers otherwise", () => {
            const addKey = (rs: NormalizedResource[]) => rs.push({ type: "aws:iam/accessKey:AccessKey", name: "k", inputs: {} });
            assert.equal(breakOne(P, addKey, { ...prodContext(), artifactAuth: "staticKeys" }).length, 0);
            assert.equal(breakOne(P, addKey, { stack: "prod" }).length, 1, "derived from the annotated ServiceAccount / IRSA role");
            const noMarkers = compliantStack().filter((r) => !/ServiceAccount|iam\/role/.test(r.type));
            addKey(noMarkers);
            assert.equal(byPolicy(run(noMarkers, { stack: "prod" }), P).length, 0);
        });
    });

    describe("containers", () => {
        it("containers-non-root fails for a container with no securityContext and no pod-level setting", () => {
            const fs = breakOne("containers-non-root", (rs) => delete cronContainer(rs).securityContext);
            assert.equal(fs.length, 1);
            assert.equal(fs[0].resource, "kubernetes:batch/v1:CronJob::train-nightly");
            assert.match(fs[0].reason, /container "trainer" \(spec\.jobTemplate\.spec\.template\.spec\.containers\[0\]\) may run as root/);
        });

        it("container-level settings override the pod's", () => {
            assert.equal(breakOne("containers-non-root", (rs) => (podSpec(rs, "mlflow").containers[0].securityContext = { runAsUser: 0 })).length, 1);
            assert.equal(
                breakOne("containers-non-root", (rs) => {
                    podSpec(rs, "mlflow").securityContext = { runAsNonRoot: true };
                    podSpec(rs, "mlflow").containers[0].securityContext = { runAsNonRoot: false };
                }).length,
                1,
            );
            assert.equal(breakOne("containers-non-root", (rs) => (podSpec(rs, "mlflow").securityContext = { runAsNonRoot: true })).length, 0);
        });

        it("covers init containers, Pods, StatefulSets and serving runtimes", () => {
            const fs = breakOne("containers-non-root", (rs) => {
                delete inputs(rs, "Job", "mlflow-db-upgrade").spec.template.spec.initContainers[0].securityContext;
                delete inputs(rs, "ClusterServingRuntime", "mlflow-mlserver").spec.containers[0].securityContext;
                const bare = { name: "x", image: `x${"@sha256:" + "0".repeat(64)}`, resources: secureContainer("x").resources };
                rs.push(
                    { type: "kubernetes:core/v1:Pod", name: "p", inputs: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [bare] } } },
                    {
                        type: "kubernetes:apps/v1:StatefulSet",
                        name: "pg",
                        inputs: { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "pg" }, spec: { template: { spec: { containers: [bare] } } } },
                    },
                );
            });
            assert.deepEqual(fs.map((f) => f.resource).sort(), [
                "kubernetes:apps/v1:StatefulSet::pg",
                "kubernetes:batch/v1:Job::mlflow-db-upgrade",
                "kubernetes:core/v1:Pod::p",
                "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime::mlflow-mlserver",
            ]);
        });

        it("containers-resources names each missing request and limit", () => {
            const fs = breakOne("containers-resources", (rs) => {
                delete cronContainer(rs).resources.limits.memory;
                delete inputs(rs, "Job", "mlflow-db-upgrade").spec.template.spec.initContainers[0].resources.requests;
            });
            assert.equal(fs.length, 2);
            assert.match(fs[0].reason, /"trainer".*has no resources\.limits\.memory$/);
            assert.match(fs[1].reason, /initContainers\[0\]\) has no resources\.requests\.cpu, resources\.requests\.memory$/);
        });

        it("images-pinned-by-digest is mandatory in prod and advisory elsewhere", () => {
            const tag = (rs: NormalizedResource[]) => (podSpec(rs, "mlflow").containers[0].image = "ghcr.io/acme/mlflow:2.22.0");
            const prod = breakOne("images-pinned-by-digest", tag);
            assert.equal(prod.length, 1);
            assert.equal(prod[0].level, "mandatory");
            assert.match(prod[0].reason, /image "ghcr.io\/acme\/mlflow:2.22.0" is not pinned by digest/);
            assert.equal(breakOne("images-pinned-by-digest", tag, { ...prodContext(), stack: "dev" })[0].level, "advisory");
            assert.equal(breakOne("images-pinned-by-digest", tag, { ...prodContext(), stack: "acme/mlflow-platform/production" })[0].level, "mandatory");
            assert.equal(breakOne("images-pinned-by-digest", (rs) => (podSpec(rs, "mlflow").containers[0].image = UNKNOWN)).length, 0, "unknown images are skipped");
        });
    });

    describe("inference-storage-in-artifact-bucket", () => {
        const P = "inference-storage-in-artifact-bucket";
        const setUri = (uri: unknown) => (rs: NormalizedResource[]) => (inputs(rs, "CustomResource", "california-housing").spec.predictor.model.storageUri = uri);

        it("fails for non-s3 URIs, other buckets, a bare bucket and a missing storageUri", () => {
            for (const uri of ["gs://x/model", `s3://other-bucket/1/models/m`, `s3://${BUCKET}/`, `s3://${BUCKET}`, undefined]) {
                const fs = breakOne(P, setUri(uri));
                assert.equal(fs.length, 1, String(uri));
                assert.equal(fs[0].resource, "kubernetes:apiextensions.k8s.io:CustomResource::california-housing");
            }
            assert.match(breakOne(P, setUri("s3://other-bucket/m"))[0].reason, /outside the artifact bucket \(mlflow-artifacts-prod\)/);
        });

        it("derives the artifact bucket from the stack's bucket (by name or prefix) when not given", () => {
            assert.equal(breakOne(P, () => undefined, { stack: "prod" }).length, 0);
            assert.equal(breakOne(P, setUri("s3://elsewhere/m"), { stack: "prod" }).length, 1);
            const prefixed = (rs: NormalizedResource[]) => {
                const b = find(rs, "Bucket", "artifacts");
                b.inputs = { bucketPrefix: "mlflow-artifacts-prod-" };
                for (const a of rs.filter((r) => r.type.startsWith("aws:s3/bucket") && r !== b)) a.inputs.bucket = "stand-in-id";
            };
            assert.equal(breakOne(P, (rs) => (prefixed(rs), setUri(`s3://mlflow-artifacts-prod-x1y2/1/m`)(rs)), { stack: "prod" }).length, 0);
            assert.equal(breakOne(P, (rs) => (prefixed(rs), setUri(`s3://mlflow-artifacts-dev-x1y2/1/m`)(rs)), { stack: "prod" }).length, 1);
        });

        it("skips a storageUri that is unknown during preview", () => {
            assert.equal(breakOne(P, setUri(UNKNOWN)).length, 0);
        });
    });

    describe("context", () => {
        it("resolveContext: explicit values win, the rest is derived", () => {
            const rs = compliantStack();
            assert.deepEqual(resolveContext({ stack: "prod" }, rs), { stack: "prod", artifactAuth: "irsa", artifactBucket: BUCKET, requireDigestPins: true });
            assert.deepEqual(resolveContext({ stack: "dev", artifactAuth: "staticKeys", artifactBucket: "b", requireDigestPins: true }, rs), {
                stack: "dev",
                artifactAuth: "staticKeys",
                artifactBucket: "b",
                requireDigestPins: true,
            });
            assert.deepEqual(resolveContext({}), { stack: "", requireDigestPins: false });
        });

        it("k8sKind reads apiVersion/kind from the object, else from the type token", () => {
            assert.deepEqual(k8sKind(find(compliantStack(), "CustomResource", "california-housing")), { group: "serving.kserve.io", version: "v1beta1", kind: "InferenceService" });
            assert.deepEqual(k8sKind({ type: "kubernetes:core/v1:Secret", name: "s", inputs: {} }), { group: "", version: "v1", kind: "Secret" });
            assert.equal(k8sKind({ type: "aws:s3/bucket:Bucket", name: "b", inputs: {} }), undefined);
        });
    });
});
