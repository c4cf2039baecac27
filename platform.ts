/**
 * The package as a library: compose the platform in your own Pulumi TypeScript program
 * (`import { MlflowPlatform, parseConfig } from "mlflow-platform/platform"`; examples/consumer/).
 * index.ts stays this project's own program: the stack's config → one MlflowPlatform.
 */
export { MlflowPlatform, type MlflowPlatformArgs } from "./components/mlflow-platform";
export { ConfigError, parseConfig, type PlatformConfig } from "./config";
export type { KubeconfigSource } from "./lib/kube-api";
