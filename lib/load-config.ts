import * as pulumi from "@pulumi/pulumi";
import { parseConfig, parseRawValue, PlatformConfig, PROJECT } from "../config";

/**
 * Whether the engine handed a config key over as a secret. `isConfigSecret` is exported by
 * @pulumi/pulumi's runtime but marked internal, so its declaration is stripped from the typings.
 */
export function engineSecretKeys(): (fullKey: string) => boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
    const isConfigSecret = runtime.isConfigSecret;
    if (typeof isConfigSecret !== "function") throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: the plain-secret check needs another source of secret keys");
    return (key) => isConfigSecret(key);
}

/**
 * Reads and validates the `mlflow-platform:*` keys of the running stack (throws ConfigError). Secret keys
 * (`secret: true` in the spec) set in plain config are refused.
 */
export function loadPlatformConfig(): PlatformConfig {
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = parseRawValue(value);
    }
    return parseConfig(raw, pulumi.getStack(), { isSecretKey: engineSecretKeys() });
}

/** The AWS region: cluster.region, else the provider's aws:region. */
export function awsRegion(config: PlatformConfig): string | undefined {
    return config.cluster.region ?? new pulumi.Config("aws").get("region");
}
