/**
 * Mocha root hooks for the integration suite (loaded by .mocharc.integration.json): stop every
 * test service after the run, and on SIGINT/SIGTERM/exit, so no server outlives the test process.
 */
import { killAllSync } from "../../../testbed/process";
import { stopAll } from "./services";

let signalled = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`\n[integration] ${signal}: stopping test services\n`);
    const hardStop = setTimeout(() => { killAllSync(); process.exit(code); }, 20_000);
    stopAll().catch((err: unknown) => process.stderr.write(`${String(err)}\n`)).finally(() => {
      clearTimeout(hardStop);
      process.exit(code);
    });
  });
}
process.once("exit", () => killAllSync());

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    await stopAll();
  },
};
