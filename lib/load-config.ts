import * as pulumi from "@pulumi/pulumi";
import { parseConfig, parseRawValue, PlatformConfig, PROJECT } from "../config";

/** Reads and validates the `mlflow-platform:*` keys of the running stack (throws ConfigError). */
export function loadPlatformConfig(): PlatformConfig {
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = parseRawValue(value);
    }
    return parseConfig(raw, pulumi.getStack());
}

/** The AWS region: cluster.region, else the provider's aws:region. */
export function awsRegion(config: PlatformConfig): string | undefined {
    return config.cluster.region ?? new pulumi.Config("aws").get("region");
}
