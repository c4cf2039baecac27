import * as assert from "node:assert/strict";
import { changedPaths, diffRenders, formatDiff } from "../../lib/diff";
import type { RenderResult } from "../../lib/render";
import { isBuiltIn, validateKubernetesObject } from "../support/k8s-validate";
import { allStrings, containersOf, findObject, render, resourcesOfType } from "../support/render";

describe("render: prod stack (future state)", () => {
    let r: RenderResult;
    before(async () => {
        r = await render("prod");
    });
    it("every Kubernetes object is valid against its schema", () => {
        for (const o of r.kubernetes.filter(isBuiltIn)) validateKubernetesObject(o);
    });
    it("RDS: encrypted, private, deletion-protected, >= 7 days of backups, final snapshot, TLS forced, protected", () => {
        const [db] = resourcesOfType(r, "aws:rds/instance:Instance");
        assert.equal(db.inputs.storageEncrypted, true);
        assert.equal(db.inputs.publiclyAccessible, false);
        assert.equal(db.inputs.deletionProtection, true);
        assert.ok((db.inputs.backupRetentionPeriod as number) >= 7);
        assert.equal(db.inputs.skipFinalSnapshot, false);
        assert.equal(db.inputs.finalSnapshotIdentifier, "mlflow-prod-final");
        assert.equal(db.inputs.password, "[secret]");
        assert.deepEqual(db.options, { protect: true });
        const [pg] = resourcesOfType(r, "aws:rds/parameterGroup:ParameterGroup");
        assert.deepEqual(pg.inputs.parameters, [{ name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" }]);
        assert.equal(pg.inputs.family, "postgres16");
    });
    it("RDS admits 5432 only from the configured security group", () => {
        const rules = resourcesOfType(r, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        assert.equal(rules.length, 1);
        assert.equal(rules[0].inputs.referencedSecurityGroupId, "sg-0123456789abcdef0");
        assert.equal(rules[0].inputs.fromPort, 5432);
        assert.equal(rules[0].inputs.cidrIpv4, undefined);
    });
    it("no static AWS keys anywhere: no IAM user or access key, no keys Secret, no key env vars", () => {
        assert.equal(resourcesOfType(r, "aws:iam/user:User").length, 0);
        assert.equal(resourcesOfType(r, "aws:iam/accessKey:AccessKey").length, 0);
        assert.ok(!r.kubernetes.some((o) => o.kind === "Secret" && o.metadata.name === "mlflow-aws-credentials"));
        const envNames = r.kubernetes.filter((o) => ["Deployment", "Job", "CronJob", "StatefulSet"].includes(o.kind)).flatMap((o) => containersOf(o).flatMap((c) => ((c.env ?? []) as { name: string }[]).map((e) => e.name)));
        assert.ok(!envNames.includes("AWS_ACCESS_KEY_ID") && !envNames.includes("AWS_SECRET_ACCESS_KEY"));
    });
    it("IRSA roles trust exactly system:serviceaccount:mlflow:<sa>, and those accounts carry the role ARN", () => {
        const roles = resourcesOfType(r, "aws:iam/role:Role");
        assert.equal(roles.length, 3);
        for (const role of roles) {
            const trust = JSON.parse(role.inputs.assumeRolePolicy as string);
            const cond = trust.Statement[0].Condition.StringEquals as Record<string, string>;
            const sub = Object.entries(cond).find(([k]) => k.endsWith(":sub"))?.[1];
            assert.match(String(sub), /^system:serviceaccount:mlflow:mlflow(-training|-serving)?$/);
            assert.equal(Object.entries(cond).find(([k]) => k.endsWith(":aud"))?.[1], "sts.amazonaws.com");
        }
        for (const sa of ["mlflow", "mlflow-training"]) {
            const obj = findObject(r, "ServiceAccount", sa);
            assert.equal((obj.metadata.annotations as Record<string, string>)["eks.amazonaws.com/role-arn"], `arn:aws:iam::123456789012:role/workload-identity-${sa}`);
        }
    });
    it("serving role is read-only; tracking role reads and writes", () => {
        const policy = (name: string) => JSON.stringify(resourcesOfType(r, "aws:iam/rolePolicy:RolePolicy").find((p) => p.name === name)?.inputs.policy);
        assert.doesNotMatch(policy("workload-identity-mlflow-serving"), /PutObject|DeleteObject/);
        assert.match(policy("workload-identity-mlflow"), /PutObject/);
    });
    it("Ingress with TLS and the tracking server behind basic auth with the host allowed", () => {
        const ing = findObject(r, "Ingress", "mlflow");
        const spec = ing.spec as { tls: { hosts: string[] }[]; rules: { host: string }[]; ingressClassName: string };
        assert.deepEqual(spec.tls[0].hosts, ["mlflow.example.com"]);
        assert.equal(spec.rules[0].host, "mlflow.example.com");
        assert.equal((ing.metadata.annotations as Record<string, string>)["cert-manager.io/cluster-issuer"], "letsencrypt-prod");
        const c = containersOf(findObject(r, "Deployment", "mlflow"))[0] as { args: string[] };
        assert.equal(c.args[c.args.indexOf("--app-name") + 1], "basic-auth");
        assert.ok(c.args[c.args.indexOf("--allowed-hosts") + 1].split(",").includes("mlflow.example.com"));
        assert.equal(c.args[c.args.indexOf("--cors-allowed-origins") + 1], "https://mlflow.example.com");
    });
    it("training jobs authenticate from the credentials Secret", () => {
        const env = containersOf(findObject(r, "CronJob", "train-baseline"))[0].env as { name: string; valueFrom?: { secretKeyRef: { name: string } } }[];
        assert.equal(env.find((e) => e.name === "MLFLOW_TRACKING_PASSWORD")?.valueFrom?.secretKeyRef.name, "mlflow-tracking-credentials");
    });
    it("NetworkPolicy fences the tracking server; retired in-cluster PostgreSQL has neither StatefulSet nor policy", () => {
        findObject(r, "NetworkPolicy", "mlflow-ingress");
        assert.ok(!r.kubernetes.some((o) => o.kind === "StatefulSet"));
        assert.ok(!r.kubernetes.some((o) => o.kind === "NetworkPolicy" && o.metadata.name === "postgres-ingress"));
    });
    it("no plaintext credentials", () => {
        assert.ok(!allStrings([r.resources, r.outputs]).some((s) => s.startsWith("mockpw") || /postgresql:\/\/[^:]+:[^@[]+@/.test(s)));
        assert.equal(r.outputs.adminPassword, "[secret]");
    });
});

describe("transitions: each switch alone, checked with the offline diff", () => {
    it("dev → rds with the copy adds RDS and the copy Job, removes no StatefulSet or volume, moves the backend Secret", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["database.mode=rds", "database.migrateFromInCluster=true"])).resources);
        const added = d.added.map((a) => a.type);
        assert.ok(added.includes("aws:rds/instance:Instance"));
        assert.ok(added.includes("kubernetes:batch/v1:Job"));
        // Only the in-cluster database's backup CronJob goes (RDS keeps its own automated backups); the
        // dumps it wrote stay in the bucket until the lifecycle expires them.
        assert.deepEqual(d.removed.map((x) => `${x.type} ${x.name}`).sort(), ["kubernetes:batch/v1:CronJob db-backup", "kubernetes:core/v1:ServiceAccount db-backup", "mlflow-platform:database:DatabaseBackup db-backup"]);
        const dep = d.changed.find((c) => c.type === "kubernetes:apps/v1:Deployment");
        assert.deepEqual(dep?.fields, ["spec.template.spec.containers[mlflow].env[MLFLOW_BACKEND_STORE_URI].valueFrom.secretKeyRef.name"]);
    });
    it("the tracking server's schema migration waits for the copy Job", async () => {
        const r = await render("dev", ["database.mode=rds", "database.migrateFromInCluster=true"]);
        const copy = findObject(r, "Job", "mlflow-db-migrate");
        assert.equal((copy.spec as { backoffLimit: number }).backoffLimit, 0);
        assert.match(JSON.stringify(findObject(r, "ConfigMap", "mlflow-db-migrate").data), /pg_dump/);
        assert.doesNotMatch(JSON.stringify(copy), /mlflow_auth/, "no auth database without basic auth");
    });
    it("with basic auth on, the copy Job carries the auth database too", async () => {
        const r = await render("dev", ["database.mode=rds", "database.migrateFromInCluster=true", "access.mode=ingress", "access.auth=basic", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=le"]);
        assert.match(JSON.stringify(findObject(r, "Job", "mlflow-db-migrate")), /create database \$db/);
        assert.match(JSON.stringify(findObject(r, "Job", "mlflow-db-migrate")), /db=mlflow_auth/);
    });
    it("retiring the in-cluster database removes the StatefulSet but it is retained on delete", async () => {
        const before = await render("dev", ["database.mode=rds"]);
        const after = await render("dev", ["database.mode=rds", "database.retireInCluster=true"]);
        const d = diffRenders(before.resources, after.resources);
        assert.ok(d.removed.some((x) => x.type === "kubernetes:apps/v1:StatefulSet"));
        assert.equal(resourcesOfType(before, "kubernetes:apps/v1:StatefulSet")[0].options?.retainOnDelete, true);
        // Its claim-size patch goes too, retained: the claim keeps its size and its data.
        assert.ok(d.removed.some((x) => x.type === "kubernetes:core/v1:PersistentVolumeClaimPatch" && x.name === "postgres-data"));
        assert.equal(resourcesOfType(before, "kubernetes:core/v1:PersistentVolumeClaimPatch")[0].options?.retainOnDelete, true);
    });
    it("staticKeys → irsa removes the IAM user and keys Secret, adds a role per workload (the backup's own), touches no database resource", async () => {
        const irsa = await render("dev", ["artifactAuth=irsa", "cluster.oidcProviderArn=arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC", "cluster.oidcIssuerUrl=https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"]);
        const d = diffRenders((await render("dev")).resources, irsa.resources);
        assert.deepEqual(d.removed.map((x) => x.type).sort(), ["aws:iam/accessKey:AccessKey", "aws:iam/user:User", "aws:iam/userPolicy:UserPolicy", "kubernetes:core/v1:Secret", "mlflow-platform:identity:StaticArtifactCredentials"].sort());
        assert.deepEqual(d.added.filter((x) => x.type === "aws:iam/role:Role").map((x) => x.name).sort(), ["mlflow", "mlflow-db-backup", "mlflow-serving", "mlflow-training"].map((sa) => `workload-identity-${sa}`));
        assert.ok(!d.changed.some((c) => c.type.startsWith("aws:rds") || c.type === "kubernetes:apps/v1:StatefulSet"));
        // The in-cluster database's backups run as their own ServiceAccount, whose role only reads and puts
        // under backups/ (no delete, nothing else in the bucket); not as training with the whole bucket.
        const sa = findObject(irsa, "ServiceAccount", "mlflow-db-backup");
        assert.equal((sa.metadata.annotations as Record<string, string>)["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/workload-identity-mlflow-db-backup");
        assert.equal((findObject(irsa, "CronJob", "mlflow-db-backup").spec as { jobTemplate: { spec: { template: { spec: { serviceAccountName: string } } } } }).jobTemplate.spec.template.spec.serviceAccountName, "mlflow-db-backup");
        const role = resourcesOfType(irsa, "aws:iam/role:Role").find((x) => x.name === "workload-identity-mlflow-db-backup");
        assert.match(JSON.parse(role?.inputs.assumeRolePolicy as string).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"], /^system:serviceaccount:mlflow:mlflow-db-backup$/);
        type Policy = { Statement: { Action: string[]; Resource: string; Condition?: unknown }[] };
        const policy = (sa: string) => JSON.parse(resourcesOfType(irsa, "aws:iam/rolePolicy:RolePolicy").find((x) => x.name === `workload-identity-${sa}`)?.inputs.policy as string) as Policy;
        const bucketArn = policy("mlflow").Statement[0].Resource; // the tracking server's: the artifact bucket
        assert.match(bucketArn, /^arn:aws:s3:::[a-z0-9.-]+$/);
        assert.deepEqual(policy("mlflow-db-backup").Statement.map((x) => [x.Resource, x.Condition ?? null, [...x.Action].sort()]), [
            [bucketArn, { StringLike: { "s3:prefix": ["backups/*"] } }, ["s3:GetBucketLocation", "s3:ListBucket"]],
            [`${bucketArn}/backups/*`, null, ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:ListMultipartUploadParts", "s3:PutObject"]],
        ]);
    });
    it("a batch profile reading and writing another bucket: the training role (irsa) and the static keys' user get exactly those grants", async () => {
        const batch = ["batch.profiles[0].name=nightly", "batch.profiles[0].inputS3Path=s3://scoring-data/in/nightly.csv", "batch.profiles[0].outputS3Prefix=s3://scoring-data/out/nightly"];
        const irsa = ["artifactAuth=irsa", "cluster.oidcProviderArn=arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC", "cluster.oidcIssuerUrl=https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"];
        type Doc = { Statement: { Sid: string; Action: string[]; Resource: string }[] };
        const outside = (doc: Doc) => doc.Statement.filter((x) => String(x.Resource).startsWith("arn:aws:s3:::scoring-data")).map((x) => [x.Resource, x.Action.includes("s3:PutObject"), x.Action.includes("s3:DeleteObject")]);
        const expected = [
            ["arn:aws:s3:::scoring-data", false, false],
            ["arn:aws:s3:::scoring-data/in/*", false, false],
            ["arn:aws:s3:::scoring-data", false, false],
            ["arn:aws:s3:::scoring-data/out/nightly/*", true, false],
        ];
        const withIrsa = await render("dev", [...irsa, ...batch]);
        const rolePolicy = (sa: string) => JSON.parse(resourcesOfType(withIrsa, "aws:iam/rolePolicy:RolePolicy").find((x) => x.name === `workload-identity-${sa}`)?.inputs.policy as string) as Doc;
        assert.deepEqual(outside(rolePolicy("mlflow-training")), expected);
        for (const sa of ["mlflow", "mlflow-serving", "mlflow-db-backup"]) assert.deepEqual(outside(rolePolicy(sa)), [], `${sa} reaches the batch bucket`);
        const withKeys = await render("dev", batch);
        assert.deepEqual(outside(JSON.parse(resourcesOfType(withKeys, "aws:iam/userPolicy:UserPolicy")[0].inputs.policy as string) as Doc), expected);
        // Without such a profile, no grant outside the artifact bucket (dev's dataset is in it).
        assert.equal(JSON.parse(resourcesOfType(await render("dev"), "aws:iam/userPolicy:UserPolicy")[0].inputs.policy as string).Statement.length, 2);
    });
    it("clusterLocal → ingress adds the Ingress and auth, changes the tracking server args", async () => {
        const d = diffRenders(
            (await render("dev")).resources,
            (await render("dev", ["access.mode=ingress", "access.auth=basic", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=le"])).resources,
        );
        assert.ok(d.added.some((x) => x.type === "kubernetes:networking.k8s.io/v1:Ingress"));
        assert.ok(d.added.some((x) => x.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy"));
        assert.deepEqual(d.removed, []);
    });
    it("changedPaths compares named lists by name and reports leaves", () => {
        assert.deepEqual(changedPaths({ a: [{ name: "x", v: 1 }, { name: "y", v: 2 }] }, { a: [{ name: "y", v: 3 }, { name: "x", v: 1 }] }), ["a[y].v"]);
        assert.deepEqual(changedPaths({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 2 } }), []);
        assert.deepEqual(changedPaths({ s: "[secret]" }, { s: "[secret]" }), []);
        assert.match(formatDiff({ added: [{ type: "t", name: "n" }], removed: [], changed: [] }), /^\+ t n\n1 to add, 0 to remove, 0 to change$/);
    });
});

describe("transitions: rollback", () => {
    it("rds → inCluster with keepRds switches the tracking server back and keeps the protected instance", async () => {
        const onRds = await render("dev", ["database.mode=rds"]);
        const back = await render("dev", ["database.keepRds=true"]);
        const d = diffRenders(onRds.resources, back.resources);
        assert.deepEqual(d.removed, []);
        assert.ok(d.changed.some((c) => c.type === "kubernetes:apps/v1:Deployment" && c.fields.some((f) => f.includes("MLFLOW_BACKEND_STORE_URI"))));
        assert.deepEqual(resourcesOfType(back, "aws:rds/instance:Instance")[0].options, { protect: true });
    });
});
