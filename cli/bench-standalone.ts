/**
 * A bench part run alone (`npx tsx cli/bench-<name>.ts [--json] ...`): its own arguments (bad ones exit 2), the
 * processes it starts ended on any exit, `skipped` when it cannot run here, its result as text or JSON, exit 1 when
 * it fails.
 */
import { installExitHooks } from "../testbed/process";
import { UsageError } from "./args";
import type { BenchPart } from "./bench-stats";

export function runStandalone<A extends { readonly json: boolean }, T extends object>(
    part: BenchPart<T>,
    argv: readonly string[],
    parse: (argv: string[]) => A,
    run: (args: A, log: (line: string) => void) => Promise<T>,
): void {
    let args: A;
    try {
        args = parse([...argv]);
    } catch (err) {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(err instanceof UsageError ? 2 : 1);
    }
    installExitHooks(`bench-${part.name}`);
    const why = part.skip();
    if (why) {
        process.stdout.write(args.json ? `${JSON.stringify({ skipped: why })}\n` : `${part.name.padEnd(20)}skipped: ${why}\n`);
        process.exit(0);
    }
    run(args, (line) => process.stderr.write(`${line}\n`)).then(
        (r) => {
            process.stdout.write(args.json ? `${JSON.stringify(r, null, 2)}\n` : `${part.human(r)}\n`);
            process.exit(0);
        },
        (err: unknown) => {
            process.stderr.write(`bench-${part.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
            process.exit(1);
        },
    );
}
