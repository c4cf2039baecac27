// The CrossGuard adapters, called the way @pulumi/policy's server calls them: props behind the
// unknown-checking proxy, stack resources linked by propertyDependencies. No Pulumi CLI.
import * as assert from "node:assert/strict";
import {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
    unknownCheckingProxy,
} from "@pulumi/policy";
import { BUCKET, compliantStack, find, prodContext } from "../../policy/fixtures";
import { contextFromConfig, makePolicies, toPlain } from "../../policy/pack";
import { NormalizedResource, RULES, UNKNOWN } from "../../policy/rules";

// What the engine sends for any value unknown during preview (internal to @pulumi/policy, so untyped).
const UNKNOWN_WIRE = (require("@pulumi/policy/proxy") as { unknownStringValue: string }).unknownStringValue;

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests poke into nested fixture objects

const urn = (r: Pick<NormalizedResource, "type" | "name">) => `urn:pulumi:prod::mlflow-platform::${r.type}::${r.name}`;
const opts = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

function resourceArgs(r: NormalizedResource): ResourceValidationArgs {
    return {
        type: r.type,
        name: r.name,
        urn: urn(r),
        props: unknownCheckingProxy(structuredClone(r.inputs)),
        opts,
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
}

/** PolicyResources as the server builds them; `deps` maps "type::name" → { property: [type::name…] }. */
function stackResources(rs: NormalizedResource[], deps: Record<string, Record<string, string[]>> = {}): PolicyResource[] {
    const out = rs.map(
        (r): PolicyResource => ({
            type: r.type,
            name: r.name,
            urn: urn(r),
            props: unknownCheckingProxy(structuredClone(r.inputs)),
            opts,
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        }),
    );
    const byKey = new Map(out.map((p) => [`${p.type}::${p.name}`, p]));
    for (const [key, props] of Object.entries(deps)) {
        for (const [prop, targets] of Object.entries(props)) byKey.get(key)!.propertyDependencies[prop] = targets.map((t) => byKey.get(t)!);
    }
    return out;
}

interface Reported {
    message: string;
    urn?: string;
}

function collector(): { report: ReportViolation; got: Reported[] } {
    const got: Reported[] = [];
    return { got, report: (message: string, u?: string) => void got.push({ message, urn: u }) };
}

const policy = (name: string, ctx = prodContext()) => {
    const p = makePolicies(ctx).find((x) => x.name === name);
    assert.ok(p, `policy ${name} exists`);
    return p;
};

async function validateResource(name: string, r: NormalizedResource, ctx = prodContext()): Promise<Reported[]> {
    const p = policy(name, ctx) as ResourceValidationPolicy;
    assert.equal(typeof p.validateResource, "function", `${name} is a resource policy`);
    const { report, got } = collector();
    await (p.validateResource as (a: ResourceValidationArgs, r: ReportViolation) => unknown)(resourceArgs(r), report);
    return got;
}

async function validateStack(name: string, resources: PolicyResource[], ctx = prodContext()): Promise<Reported[]> {
    const p = policy(name, ctx) as StackValidationPolicy;
    assert.equal(typeof p.validateStack, "function", `${name} is a stack policy`);
    const { report, got } = collector();
    await p.validateStack({ resources, stackTags: new Map(), getConfig: <T extends object>() => ({}) as T, notApplicable: () => assert.fail("notApplicable") }, report);
    return got;
}

describe("policy pack", () => {
    it("has one policy per rule, with levels chosen per stack", () => {
        const prod = makePolicies(prodContext());
        assert.deepEqual(prod.map((p) => p.name), RULES.map((r) => r.name));
        assert.ok(prod.every((p) => p.enforcementLevel === "mandatory"));
        const dev = makePolicies({ stack: "dev" });
        assert.equal(dev.find((p) => p.name === "images-pinned-by-digest")!.enforcementLevel, "advisory");
        assert.equal(dev.filter((p) => p.enforcementLevel === "advisory").length, 1);
    });

    it("contextFromConfig reads artifactAuth and artifactStore.bucketName from the stack config", () => {
        assert.deepEqual(contextFromConfig("prod", { "mlflow-platform:artifactAuth": "irsa", "mlflow-platform:artifactStore": JSON.stringify({ bucketName: "b1" }) }), {
            stack: "prod",
            artifactAuth: "irsa",
            artifactBucket: "b1",
        });
        assert.deepEqual(contextFromConfig("dev", { "mlflow-platform:artifactAuth": "bogus", "mlflow-platform:artifactStore": "{not json" }), { stack: "dev" });
    });

    it("toPlain turns values unknown during preview into UNKNOWN instead of throwing", () => {
        const p = unknownCheckingProxy({ a: UNKNOWN_WIRE, b: [{ c: UNKNOWN_WIRE, d: 1 }], e: "x" });
        assert.throws(() => p.a, /can't be known during preview/);
        assert.deepEqual(toPlain(p), { a: UNKNOWN, b: [{ c: UNKNOWN, d: 1 }], e: "x" });
    });

    describe("validateResource", () => {
        it("rds-private and rds-encrypted report a public, unencrypted instance", async () => {
            const rds = find(compliantStack(), "Instance", "mlflow-db");
            assert.deepEqual(await validateResource("rds-private", rds), []);
            rds.inputs.publiclyAccessible = true;
            rds.inputs.storageEncrypted = false;
            assert.deepEqual(await validateResource("rds-private", rds), [{ message: "publiclyAccessible is true, must be false", urn: undefined }]);
            assert.deepEqual(await validateResource("rds-encrypted", rds), [{ message: "storageEncrypted is false, must be true", urn: undefined }]);
        });

        it("rds-deletion-protection and rds-backups", async () => {
            const rds = find(compliantStack(), "Instance", "mlflow-db");
            Object.assign(rds.inputs, { deletionProtection: false, backupRetentionPeriod: 1 });
            assert.equal((await validateResource("rds-deletion-protection", rds)).length, 1);
            assert.match((await validateResource("rds-backups", rds))[0].message, /backupRetentionPeriod is 1/);
        });

        it("containers-non-root, containers-resources and images-pinned-by-digest on a Deployment", async () => {
            const d = find(compliantStack(), "Deployment", "mlflow");
            for (const p of ["containers-non-root", "containers-resources", "images-pinned-by-digest"]) assert.deepEqual(await validateResource(p, d), [], p);
            const spec = (d.inputs as Obj).spec.template.spec;
            delete spec.securityContext;
            delete spec.containers[0].resources.limits;
            spec.containers[0].image = "mlflow:latest";
            assert.match((await validateResource("containers-non-root", d))[0].message, /Deployment mlflow\/mlflow container "mlflow" .* may run as root/);
            assert.match((await validateResource("containers-resources", d))[0].message, /has no resources\.limits\.cpu, resources\.limits\.memory/);
            assert.match((await validateResource("images-pinned-by-digest", d))[0].message, /"mlflow:latest" is not pinned by digest/);
        });

        it("skips values unknown during preview instead of failing the policy", async () => {
            const d = find(compliantStack(), "Deployment", "mlflow");
            (d.inputs as Obj).spec.template.spec.containers[0].image = UNKNOWN_WIRE;
            assert.deepEqual(await validateResource("images-pinned-by-digest", d), []);
            const rds = find(compliantStack(), "Instance", "mlflow-db");
            rds.inputs.storageEncrypted = UNKNOWN_WIRE;
            assert.deepEqual(await validateResource("rds-encrypted", rds), []);
        });
    });

    describe("validateStack", () => {
        const S3 = ["s3-public-access-block", "s3-encryption", "s3-versioning"];
        const BUCKET_KEY = "aws:s3/bucket:Bucket::artifacts";
        /** Preview of a first deploy: the attachments' `bucket` is the unknown bucket id, tied by propertyDependencies. */
        function preview(rs: NormalizedResource[]): PolicyResource[] {
            const deps: Record<string, Record<string, string[]>> = {};
            for (const r of rs.filter((x) => x.type.startsWith("aws:s3/bucket") && x.type !== "aws:s3/bucket:Bucket")) {
                r.inputs.bucket = UNKNOWN_WIRE;
                delete r.parent;
                deps[`${r.type}::${r.name}`] = { bucket: [BUCKET_KEY] };
            }
            return stackResources(rs, deps);
        }

        it("s3 policies pass attachments tied to the bucket by dependency, and fail a missing one with the bucket's URN", async () => {
            for (const p of S3) assert.deepEqual(await validateStack(p, preview(compliantStack())), [], p);
            const rs = compliantStack().filter((r) => !r.type.endsWith(":BucketPublicAccessBlock"));
            const got = await validateStack("s3-public-access-block", preview(rs));
            assert.equal(got.length, 1);
            assert.equal(got[0].urn, urn({ type: "aws:s3/bucket:Bucket", name: "artifacts" }));
            assert.match(got[0].message, /has no public access block attached/);
        });

        it("s3-public-access-block reports an opened bucket", async () => {
            const rs = compliantStack();
            find(rs, "BucketPublicAccessBlock", "artifacts").inputs.restrictPublicBuckets = false;
            assert.match((await validateStack("s3-public-access-block", preview(rs)))[0].message, /restrictPublicBuckets must be true/);
        });

        it("no-static-aws-keys-with-irsa uses the stack config's artifactAuth", async () => {
            const rs = [...compliantStack(), { type: "aws:iam/accessKey:AccessKey", name: "mlflow", inputs: { user: "mlflow" } }];
            const got = await validateStack("no-static-aws-keys-with-irsa", stackResources(rs), contextFromConfig("prod", { "mlflow-platform:artifactAuth": "irsa" }));
            assert.deepEqual(got.map((g) => g.urn), [urn({ type: "aws:iam/accessKey:AccessKey", name: "mlflow" })]);
            const dev = await validateStack("no-static-aws-keys-with-irsa", stackResources(rs), contextFromConfig("dev", { "mlflow-platform:artifactAuth": "staticKeys" }));
            assert.deepEqual(dev, []);
        });

        it("inference-storage-in-artifact-bucket checks against the stack's bucket", async () => {
            const rs = compliantStack();
            assert.deepEqual(await validateStack("inference-storage-in-artifact-bucket", stackResources(rs), { stack: "prod" }), []);
            ((find(rs, "CustomResource", "california-housing").inputs as Obj).spec.predictor.model.storageUri = "s3://someone-elses/m");
            const got = await validateStack("inference-storage-in-artifact-bucket", stackResources(rs), { stack: "prod" });
            assert.match(got[0].message, new RegExp(`outside the artifact bucket \\(${BUCKET}\\)`));
        });
    });
});
