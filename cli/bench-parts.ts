/**
 * The parts of `npm run bench`, in the order one run measures them: each a cli/bench-<name>.ts module's `part`
 * (the contract is cli/bench-stats.ts). A part added here is selectable by `--part <name>` and in `--json`.
 */
import type { BenchPart } from "./bench-stats";
import { part as engine } from "./bench-engine";
import { part as program } from "./bench-program";
import { part as serving } from "./bench-serving";
import { part as tracking } from "./bench-tracking";

export const BENCH_PARTS: readonly BenchPart[] = [program, engine, serving, tracking];
