/** moto's S3 server on 127.0.0.1 (from the "tools" venv), the S3 stand-in for integration tests. */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./ports";
import { spawnManaged, tail } from "./process";
import { ensureVenv } from "./venv";

export interface S3Server {
  /** http://127.0.0.1:port */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_REGION, MLFLOW_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3 */
  env(): Record<string, string>;
  /** An S3 client for this server (path-style); the caller owns it (call destroy() when done). */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /**
   * Enforce IAM after this many actions (moto's INITIAL_NO_AUTH_ACTION_COUNT): the readiness probe is one, then
   * the caller's setup (a bucket, IAM users); every later request must be signed by an IAM user's key and allowed
   * by its policies (moto matches Action and Resource, not Condition). Defaults to never.
   */
  readonly enforceIamAfter?: number;
}

export async function startMoto(opts: MotoOptions = {}): Promise<S3Server> {
  const venv = await ensureVenv("tools");
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = "testing";
  const secretAccessKey = "testing";
  const region = "us-east-1";
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-it-moto-"));
  const proc = spawnManaged(venv.bin("moto_server"), ["-H", "127.0.0.1", "-p", String(port)], {
    cwd, tempDir: cwd,
    env: { ...process.env, PYTHONUNBUFFERED: "1", ...(opts.enforceIamAfter !== undefined ? { INITIAL_NO_AUTH_ACTION_COUNT: String(opts.enforceIamAfter) } : {}) },
  });
  const stop = () => proc.stop();

  // Ready once it answers HTTP at all (moto answers GET / with an S3 ListBuckets document): one action.
  const deadline = Date.now() + 60_000;
  let exited = false;
  void proc.exited.then(() => { exited = true; });
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      break;
    } catch { /* not up yet */ }
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server on ${endpoint} ${exited ? "exited" : "not ready after 60 s"}; last output:\n${tail(proc.output())}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  const server: S3Server = {
    endpoint, accessKeyId, secretAccessKey, region,
    env: () => ({
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_DEFAULT_REGION: region,
      AWS_REGION: region,
      MLFLOW_S3_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
    }),
    client: () => new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } }),
    async createBucket(name) {
      const s3 = server.client();
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
      } catch (err) {
        throw new Error(`createBucket("${name}") on ${endpoint} failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        s3.destroy();
      }
    },
    stop,
  };
  return server;
}
