/** Once-per-process shared test services, and the cleanup registry every started service joins. */
import { startMoto, type S3Server } from "../../../testbed/moto";
import { startPostgres, type PostgresServer } from "../../../testbed/postgres";
import { registerCleanup, stopAll as stopAllRegistered, tempDir } from "../../../testbed/process";

export { registerCleanup, tempDir };

let pg: Promise<PostgresServer> | undefined;
let s3: Promise<S3Server> | undefined;

/** One PostgreSQL server shared by all tests of this process; create a database per test. */
export function sharedPostgres(): Promise<PostgresServer> {
  pg ??= startPostgres({ name: "shared" }).catch((err: unknown) => { pg = undefined; throw err; });
  return pg;
}

/** One moto S3 server shared by all tests of this process; create a bucket per test. */
export function sharedMoto(): Promise<S3Server> {
  s3 ??= startMoto().catch((err: unknown) => { s3 = undefined; throw err; });
  return s3;
}

/** Stops every server started in this process (shared or not) and every registered cleanup. */
export async function stopAll(): Promise<void> {
  pg = undefined;
  s3 = undefined;
  await stopAllRegistered();
}
