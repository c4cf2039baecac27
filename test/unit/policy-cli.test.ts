// `npm run policy -- --dir <render dir>` over render directories written to a temp dir.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { main } from "../../cli/policy";
import { BUCKET, compliantStack, find } from "../../policy/fixtures";
import { NormalizedResource } from "../../policy/rules";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests edit rendered JSON

const ROOT = path.resolve(__dirname, "../..");
const dirs: string[] = [];

/** Writes a render of `resources` the way the renderer does: resources.json, kubernetes.yaml, outputs.json. */
function writeRender(resources: NormalizedResource[], outputs: Obj | undefined = { stack: "prod", artifactAuth: "irsa", bucketName: BUCKET, databaseMode: "rds" }): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-render-"));
    dirs.push(dir);
    const rows = JSON.parse(JSON.stringify(resources.map((r) => ({ type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs })))) as Obj[];
    fs.writeFileSync(path.join(dir, "resources.json"), JSON.stringify(rows, null, 2));
    const k8s = rows.filter((r) => r.type.startsWith("kubernetes:")).map((r) => stringify(r.inputs));
    fs.writeFileSync(path.join(dir, "kubernetes.yaml"), k8s.join("---\n"));
    if (outputs) fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(outputs));
    return dir;
}

/** Edits one JSON file of a render in place. */
function editJson(dir: string, file: string, edit: (v: any) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary JSON
    const p = path.join(dir, file);
    const v: unknown = JSON.parse(fs.readFileSync(p, "utf8"));
    edit(v);
    fs.writeFileSync(p, JSON.stringify(v));
}

const row = (rows: Obj[], type: string, name: string): Obj => rows.find((r) => r.type === type && r.name === name)!;

async function runCli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
}

describe("npm run policy", () => {
    after(() => {
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    });

    it("exits 0 with a one-line summary on a clean render", async () => {
        const r = await runCli(["--dir", writeRender(compliantStack())]);
        assert.deepEqual(r.err, []);
        assert.equal(r.code, 0);
        assert.equal(r.out.length, 1);
        assert.match(r.out[0], /^policy: ok: 12 policies over \d+ resources \(stack "prod"\), 0 advisory warning\(s\)$/);
    });

    it("exits 1 naming rds-private and rds-encrypted when the render makes RDS public and unencrypted", async () => {
        const dir = writeRender(compliantStack());
        editJson(dir, "resources.json", (rows: Obj[]) => Object.assign(row(rows, "aws:rds/instance:Instance", "mlflow-db").inputs, { publiclyAccessible: true, storageEncrypted: false }));
        const r = await runCli([`--dir=${dir}`]);
        assert.equal(r.code, 1);
        assert.deepEqual(r.out.sort(), [
            "rds-encrypted aws:rds/instance:Instance::mlflow-db storageEncrypted is false, must be true",
            "rds-private aws:rds/instance:Instance::mlflow-db publiclyAccessible is true, must be false",
        ]);
        assert.match(r.err.at(-1)!, /^policy: 2 mandatory violation\(s\)/);
    });

    it("exits 1 naming s3-public-access-block when the render opens the bucket", async () => {
        const dir = writeRender(compliantStack());
        editJson(dir, "resources.json", (rows: Obj[]) =>
            Object.assign(row(rows, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts").inputs, { blockPublicAcls: false, blockPublicPolicy: false }),
        );
        const r = await runCli(["--dir", dir]);
        assert.equal(r.code, 1);
        assert.equal(r.out.length, 1);
        assert.match(r.out[0], /^s3-public-access-block aws:s3\/bucket:Bucket::artifacts bucket "mlflow-artifacts-prod": .*blockPublicAcls, blockPublicPolicy must be true$/);
    });

    it("matches bucket attachments by the bucket name from outputs.json when inputs carry stand-in ids", async () => {
        const rs = compliantStack();
        const bucket = find(rs, "Bucket", "artifacts");
        bucket.inputs = { bucketPrefix: "mlflow-artifacts-prod-" };
        for (const r of rs) {
            delete r.parent;
            if (r.type.startsWith("aws:s3/bucket") && r !== bucket) r.inputs.bucket = BUCKET;
        }
        assert.equal((await runCli(["--dir", writeRender(rs)])).code, 0);
        assert.equal((await runCli(["--dir", writeRender(rs, { stack: "prod", artifactAuth: "irsa" })])).code, 1, "without the output nothing ties them");
    });

    it("checks kubernetes.yaml too: an edit there alone is caught", async () => {
        const dir = writeRender(compliantStack());
        const yamlFile = path.join(dir, "kubernetes.yaml");
        fs.writeFileSync(yamlFile, fs.readFileSync(yamlFile, "utf8").replace("runAsUser: 1000", "runAsUser: 0"));
        const r = await runCli(["--dir", dir]);
        assert.equal(r.code, 1);
        assert.equal(r.out.length, 1);
        assert.match(r.out[0], /^containers-non-root kubernetes:apps\/v1:Deployment::mlflow Deployment mlflow\/mlflow container "mlflow"/);
    });

    it("prints advisory findings as warnings without failing (digest pins outside prod)", async () => {
        const rs = compliantStack();
        (find(rs, "CronJob", "train-nightly").inputs as Obj).spec.jobTemplate.spec.template.spec.containers[0].image = "trainer:1.0";
        const dev = await runCli(["--dir", writeRender(rs, { stack: "dev", artifactAuth: "staticKeys", bucketName: BUCKET })]);
        assert.equal(dev.code, 0);
        assert.equal(dev.err.length, 1);
        assert.match(dev.err[0], /^warning: images-pinned-by-digest kubernetes:batch\/v1:CronJob::train-nightly .*"trainer:1.0"/);
        assert.match(dev.out[0], /1 advisory warning/);
        const prod = await runCli(["--dir", writeRender(rs)]);
        assert.equal(prod.code, 1);
        const overridden = await runCli(["--dir", writeRender(rs), "--stack", "staging"]);
        assert.equal(overridden.code, 0, "--stack overrides outputs.json's stack");
    });

    it("takes artifactAuth from outputs.json", async () => {
        const rs = compliantStack().filter((r) => !/ServiceAccount|iam\/role/.test(r.type));
        rs.push({ type: "aws:iam/accessKey:AccessKey", name: "mlflow", inputs: { user: "mlflow" } });
        const irsa = await runCli(["--dir", writeRender(rs)]);
        assert.equal(irsa.code, 1);
        assert.match(irsa.out[0], /^no-static-aws-keys-with-irsa aws:iam\/accessKey:AccessKey::mlflow /);
        assert.equal((await runCli(["--dir", writeRender(rs, { stack: "prod", artifactAuth: "staticKeys", bucketName: BUCKET })])).code, 0);
    });

    it("exits 2 on bad arguments and unreadable renders, naming the problem", async () => {
        const cases: [string[], RegExp][] = [
            [[], /missing --dir/],
            [["--dir"], /--dir needs a value/],
            [["--dri", "x"], /unknown option --dri \(did you mean --dir\?\)/],
            [["--dir", path.join(os.tmpdir(), "no-such-render-dir-xyz")], /not a directory/],
        ];
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "policy-render-"));
        dirs.push(empty);
        cases.push([["--dir", empty], /resources\.json: missing/]);
        const badJson = writeRender(compliantStack());
        fs.writeFileSync(path.join(badJson, "resources.json"), "[{");
        cases.push([["--dir", badJson], /resources\.json: invalid JSON/]);
        const badShape = writeRender(compliantStack());
        fs.writeFileSync(path.join(badShape, "resources.json"), JSON.stringify([{ type: "aws:s3/bucket:Bucket" }]));
        cases.push([["--dir", badShape], /resources\.json\[0\]: must be an object with string "type" and "name"/]);
        const badYaml = writeRender(compliantStack());
        fs.writeFileSync(path.join(badYaml, "kubernetes.yaml"), "kind: [unclosed");
        cases.push([["--dir", badYaml], /kubernetes\.yaml: document 1/]);
        for (const [argv, re] of cases) {
            const r = await runCli(argv);
            assert.equal(r.code, 2, argv.join(" "));
            assert.equal(r.err.length, 1);
            assert.match(r.err[0], re);
        }
    });

    it("runs as `tsx cli/policy.ts` with the exit code as the process status", function () {
        this.timeout(60_000);
        const dir = writeRender(compliantStack());
        const ok = spawnSync(process.execPath, ["--import", "tsx", "cli/policy.ts", "--dir", dir], { cwd: ROOT, encoding: "utf8" });
        assert.equal(ok.status, 0, ok.stderr);
        assert.match(ok.stdout, /^policy: ok/);
        editJson(dir, "resources.json", (rows: Obj[]) => (row(rows, "aws:rds/instance:Instance", "mlflow-db").inputs.publiclyAccessible = true));
        const bad = spawnSync(process.execPath, ["--import", "tsx", "cli/policy.ts", "--dir", dir], { cwd: ROOT, encoding: "utf8" });
        assert.equal(bad.status, 1, bad.stderr);
        assert.match(bad.stdout, /^rds-private aws:rds\/instance:Instance::mlflow-db /);
        assert.equal(spawnSync(process.execPath, ["--import", "tsx", "cli/policy.ts"], { cwd: ROOT, encoding: "utf8" }).status, 2);
    });
});
