/**
 * Mocha root hooks for the integration, engine and node suites (their .mocharc files load it): stop every
 * test service after the run, and on SIGINT/SIGTERM/exit, so no server outlives the test process and a real
 * node's host is put back.
 */
import { installExitHooks } from "../../../testbed/process";
import { stopAll } from "./services";

installExitHooks("tests", stopAll);

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    await stopAll();
  },
};
