/**
 * The harness itself on real services: PostgreSQL + moto S3 + a real MLflow server from the
 * images/mlflow venv, a run whose artifact is logged by the Python client and lands in the bucket,
 * and MLflow's Host-header check (--allowed-hosts, MLflow >= 3.5).
 */
import * as assert from "node:assert/strict";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import * as fs from "node:fs";
import * as path from "node:path";
import { mlflowServerArgs, startMlflowServer, type MlflowServer } from "../../testbed/mlflow";
import { freePort } from "../../testbed/ports";
import { getWithHost, tail } from "../../testbed/process";
import type { PostgresServer } from "../../testbed/postgres";
import type { S3Server } from "../../testbed/moto";
import { runPython } from "../../testbed/python";
import { sharedMoto, sharedPostgres, tempDir } from "./support/services";
import { basicAuthIni } from "../../manifests/access";


async function postJson<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${url} -> ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

const LOG_ARTIFACT_PY = `
import os, sys
from mlflow.tracking import MlflowClient
run_id, path = sys.argv[1], sys.argv[2]
client = MlflowClient()
client.log_artifact(run_id, path)
print(client.get_run(run_id).info.artifact_uri)
`;

describe("integration harness (PostgreSQL + moto + real MLflow server)", function () {
  let pg: PostgresServer;
  let s3: S3Server;
  let server: MlflowServer | undefined;
  let tmp: string;
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `harness_${suffix}`;
  const bucket = `harness-${suffix.replace(/_/g, "-")}`;
  const clusterHost = "mlflow.mlflow.svc.cluster.local:5000";

  before(async function () {
    tmp = tempDir("harness");
    [pg, s3] = await Promise.all([sharedPostgres(), sharedMoto()]);
    await pg.createDatabase(db);
    await s3.createBucket(bucket);
    const port = await freePort();
    const started = Date.now();
    server = await startMlflowServer({
      args: mlflowServerArgs(port, [
        "--backend-store-uri", pg.url(db),
        "--default-artifact-root", `s3://${bucket}/`,
        "--workers", "2",
        "--allowed-hosts", `127.0.0.1:${port},${clusterHost}`,
      ]),
      env: s3.env(),
    });
    process.stderr.write(`      (MLflow server healthy after ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && server) {
      process.stderr.write(`--- MLflow server output (last 60 lines) ---\n${tail(server.output(), 60)}\n`);
    }
  });

  after(async function () {
    await server?.stop();
  });

  it("PostgreSQL answers queries and holds MLflow's schema after startup", async function () {
    assert.equal(await pg.query(db, "SELECT 1 + 1"), "2");
    const tables = (await pg.query(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).split("\n");
    for (const t of ["alembic_version", "experiments", "runs", "registered_models", "model_versions"]) {
      assert.ok(tables.includes(t), `table ${t} missing; have: ${tables.join(", ")}`);
    }
  });

  it("serves /health and creates an experiment and a run through the REST API; the artifact lands in moto", async function () {
    const url = server!.url;
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.text()).trim(), "OK");

    const exp = await postJson<{ experiment_id: string }>(`${url}/api/2.0/mlflow/experiments/create`, { name: `harness-${suffix}` });
    assert.match(exp.experiment_id, /^\d+$/);
    const run = await postJson<{ run: { info: { run_id: string; artifact_uri: string } } }>(
      `${url}/api/2.0/mlflow/runs/create`, { experiment_id: exp.experiment_id, start_time: Date.now() });
    const runId = run.run.info.run_id;
    assert.equal(run.run.info.artifact_uri, `s3://${bucket}/${exp.experiment_id}/${runId}/artifacts`);
    // The experiment row really is in PostgreSQL.
    assert.equal(await pg.query(db, `SELECT name FROM experiments WHERE experiment_id = ${Number(exp.experiment_id)}`), `harness-${suffix}`);

    const script = path.join(tmp, "log_artifact.py");
    fs.writeFileSync(script, LOG_ARTIFACT_PY);
    const artifact = path.join(tmp, "hello.txt");
    const content = `hello from ${suffix}\n`;
    fs.writeFileSync(artifact, content);
    const py = await runPython("mlflow", script, { args: [runId, artifact], env: { ...s3.env(), MLFLOW_TRACKING_URI: url }, timeoutMs: 180_000 });
    assert.equal(py.code, 0, `log_artifact.py failed:\n${py.stderr}`);
    assert.equal(py.stdout.trim().split("\n").pop(), run.run.info.artifact_uri);

    const key = `${exp.experiment_id}/${runId}/artifacts/hello.txt`;
    const client = s3.client();
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${exp.experiment_id}/${runId}/` }));
      assert.deepEqual((listed.Contents ?? []).map((o) => o.Key), [key]);
      const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(await obj.Body!.transformToString(), content);
    } finally {
      client.destroy();
    }

    // The server reads the same bucket with its own (moto) credentials.
    const list = await fetch(`${url}/api/2.0/mlflow/artifacts/list?run_id=${runId}`);
    const listBody = await list.text();
    assert.equal(list.status, 200, listBody);
    assert.deepEqual((JSON.parse(listBody) as { files?: { path: string }[] }).files?.map((f) => f.path), ["hello.txt"]);
  });

  it("rejects a foreign Host header with 403 and accepts the allowed ones (--allowed-hosts)", async function () {
    const api = `${server!.url}/api/2.0/mlflow/experiments/search?max_results=1`;
    const evil = await getWithHost(api, "evil.example");
    assert.equal(evil.status, 403, evil.body);
    assert.match(evil.body, /Invalid Host header/);
    const evilUi = await getWithHost(`${server!.url}/`, "evil.example");
    assert.equal(evilUi.status, 403, "the UI is host-checked too");

    const cluster = await getWithHost(api, clusterHost);
    assert.equal(cluster.status, 200, cluster.body);
    const self = await getWithHost(api, `127.0.0.1:${server!.port}`);
    assert.equal(self.status, 200, self.body);
    // The match is exact: the allowed name on another port is refused.
    const otherPort = await getWithHost(api, "mlflow.mlflow.svc.cluster.local:80");
    assert.equal(otherPort.status, 403, otherPort.body);

    // /health is exempt from the check (kubelet probes send the pod IP as Host).
    const probe = await getWithHost(`${server!.url}/health`, "evil.example");
    assert.equal(probe.status, 200, probe.body);
  });

  it("without --allowed-hosts, accepts localhost and private IPs but refuses a cluster DNS name", async function () {
    const port = await freePort();
    const dflt = await startMlflowServer({
      args: mlflowServerArgs(port, ["--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${bucket}/`, "--workers", "1"]),
      // Only the Host check matters here: skip the background job runner (huey consumers) to save CPU.
      env: { ...s3.env(), MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false" },
    });
    try {
      const api = `${dflt.url}/api/2.0/mlflow/experiments/search?max_results=1`;
      assert.equal((await getWithHost(api, `localhost:${port}`)).status, 200);
      assert.equal((await getWithHost(api, "10.1.2.3:5000")).status, 200);
      assert.equal((await getWithHost(api, clusterHost)).status, 403);
      assert.equal((await getWithHost(api, "evil.example")).status, 403);
    } finally {
      await dflt.stop();
    }
  });

  it("runs the basic-auth app (--app-name basic-auth) with the platform's generated config, users in PostgreSQL", async function () {
    const authDb = `${db}_auth`;
    await pg.createDatabase(authDb);
    const ini = path.join(tmp, "basic_auth.ini");
    const password = `pw-${suffix}`;
    // The same basic_auth.ini the Access component puts in the mlflow-auth Secret.
    fs.writeFileSync(ini, basicAuthIni({ databaseUri: pg.url(authDb), adminUsername: "admin", adminPassword: password, defaultPermission: "READ", credentialCacheSeconds: 60 }));
    const port = await freePort();
    const auth = await startMlflowServer({
      args: mlflowServerArgs(port, ["--backend-store-uri", pg.url(db), "--default-artifact-root", `s3://${bucket}/`, "--workers", "1", "--app-name", "basic-auth"]),
      env: {
        ...s3.env(), MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false",
        MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: `key-${suffix}`,
      },
    });
    try {
      const api = `${auth.url}/api/2.0/mlflow/experiments/search?max_results=1`;
      const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}` });
      assert.equal((await fetch(api)).status, 401);
      assert.equal((await fetch(api, { headers: basic("admin", "wrong") })).status, 401);
      const ok = await fetch(api, { headers: basic("admin", password) });
      assert.equal(ok.status, 200, await ok.text());
      assert.equal((await fetch(`${auth.url}/health`)).status, 200, "/health needs no credentials (probes)");
      assert.equal(await pg.query(authDb, "SELECT username || ':' || is_admin FROM users"), "admin:true");
    } finally {
      await auth.stop();
    }
  });
});
