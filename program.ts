/**
 * The platform program: the stack's config, validated (config.ts), becomes one MlflowPlatform component
 * (components/mlflow-platform.ts), whose outputs are the stack's. A team composing the platform in its own
 * program does the same with its config and its providers (examples/consumer/).
 */
import { loadPlatformConfig } from "./lib/load-config";
import { MlflowPlatform } from "./components/mlflow-platform";

/** The name of the component in this project's stacks (part of every resource's URN: never change it). */
export const PLATFORM_NAME = "mlflow-platform";

/** The Pulumi entry point: reads the stack's config and builds the platform. */
export async function main(): Promise<Record<string, unknown>> {
    const platform = await MlflowPlatform.create(PLATFORM_NAME, { config: loadPlatformConfig() });
    return platform.outputs;
}
