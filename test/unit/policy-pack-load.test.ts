// Loads policy/ the way `pulumi preview --policy-pack policy` does, without the Pulumi CLI: the engine's
// pulumi-analyzer-policy shim runs `@pulumi/pulumi/cmd/run-policy-pack <engine> .` from the pack directory
// (resolving that module from there), with the stack name and config in the environment; the pack prints
// its gRPC port, and the engine calls the Analyzer service. This test plays the engine's part.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { RULES } from "../../policy/rules";

const PACK_DIR = path.resolve(__dirname, "../../policy");

function startPack(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [PACK_DIR] });
    const child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: PACK_DIR, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
        });
        child.on("exit", (code) => reject(new Error(`policy pack exited ${code} before serving: ${err}${out}`)));
    });
}

function call<Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));
}

function options(): pb.AnalyzerResourceOptions {
    return new pb.AnalyzerResourceOptions().setCustomtimeouts(new pb.AnalyzerResourceOptions.CustomTimeouts());
}

const urn = (type: string, name: string) => `urn:pulumi:prod::mlflow-platform::${type}::${name}`;

describe("policy pack loads as `pulumi preview --policy-pack policy` loads it", function () {
    this.timeout(120_000);
    let pack: Awaited<ReturnType<typeof startPack>> | undefined;
    let client: AnalyzerClient;

    before(async () => {
        pack = await startPack({
            PULUMI_STACK: "prod",
            PULUMI_NODEJS_STACK: "prod",
            PULUMI_PROJECT: "mlflow-platform",
            PULUMI_NODEJS_PROJECT: "mlflow-platform",
            PULUMI_CONFIG: JSON.stringify({ "mlflow-platform:artifactAuth": "irsa" }),
        });
        client = new AnalyzerClient(`127.0.0.1:${pack.port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        pack?.child.kill();
    });

    it("serves every policy, digest pins mandatory for the prod stack", async () => {
        const info = await call<Empty, pb.AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
        assert.equal(info.getName(), "mlflow-platform");
        assert.equal(info.getVersion(), "0.1.0");
        const policies = info.getPoliciesList();
        assert.deepEqual(policies.map((p) => p.getName()), RULES.map((r) => r.name));
        assert.ok(policies.every((p) => p.getEnforcementlevel() === pb.EnforcementLevel.MANDATORY));
    });

    it("Analyze reports a public, unencrypted RDS instance", async () => {
        const req = new pb.AnalyzeRequest()
            .setType("aws:rds/instance:Instance")
            .setName("mlflow-db")
            .setUrn(urn("aws:rds/instance:Instance", "mlflow-db"))
            .setOptions(options())
            .setProperties(Struct.fromJavaScript({ publiclyAccessible: true, storageEncrypted: false, deletionProtection: true, backupRetentionPeriod: 7 }));
        const res = await call<pb.AnalyzeRequest, pb.AnalyzeResponse>(client.analyze.bind(client), req);
        const got = res.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getMessage(), d.getEnforcementlevel()]);
        assert.deepEqual(
            got.map(([n]) => n).sort(),
            ["rds-encrypted", "rds-private"],
            pack!.stderr(),
        );
        assert.ok(got.every(([, m, l]) => typeof m === "string" && m.length > 0 && l === pb.EnforcementLevel.MANDATORY));
    });

    it("AnalyzeStack reports static keys, reading artifactAuth from the stack config", async () => {
        const res = new pb.AnalyzerResource()
            .setType("aws:iam/accessKey:AccessKey")
            .setName("mlflow")
            .setUrn(urn("aws:iam/accessKey:AccessKey", "mlflow"))
            .setOptions(options())
            .setProperties(Struct.fromJavaScript({ user: "mlflow" }));
        const out = await call<pb.AnalyzeStackRequest, pb.AnalyzeResponse>(client.analyzeStack.bind(client), new pb.AnalyzeStackRequest().setResourcesList([res]));
        const d = out.getDiagnosticsList().filter((x) => x.getPolicyname() === "no-static-aws-keys-with-irsa");
        assert.equal(d.length, 1, pack!.stderr());
        assert.equal(d[0].getUrn(), urn("aws:iam/accessKey:AccessKey", "mlflow"));
    });
});
