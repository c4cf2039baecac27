import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseConfig, parseRawValue, PlatformConfig, PROJECT } from "../config";

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
    const provider = kubernetesProviderIssues(all);
    if (provider.length > 0) throw new ConfigError(provider);
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = parseRawValue(value);
    }
    return parseConfig(raw, pulumi.getStack(), { isSecretKey: engineSecretKeys() });
}

/**
 * The Kubernetes provider settings the platform relies on. `kubernetes:enableSecretMutable` must be true:
 * with the provider's default, a changed Secret value (a rotated password, a new key) *replaces* the Secret,
 * delete first, and every object that takes the Secret's name from it sees an unknown name and is replaced
 * too: the engine tests found a PostgreSQL password rotation planning a replace of the PostgreSQL
 * StatefulSet. With it, credential Secrets are updated in place. The provider also reads
 * PULUMI_K8S_ENABLE_SECRET_MUTABLE, so that counts as well.
 */
export function kubernetesProviderIssues(all: Record<string, string>, env: NodeJS.ProcessEnv = process.env): { key: string; message: string }[] {
    const key = "kubernetes:enableSecretMutable";
    const value = all[key] ?? env.PULUMI_K8S_ENABLE_SECRET_MUTABLE;
    if (value === "true") return [];
    return [{
        key,
        message: `${key} must be true (got ${value === undefined ? "unset" : JSON.stringify(value)}): otherwise a rotated credential replaces its Secret and the objects that use it, the PostgreSQL StatefulSet among them. Set it with: pulumi config set ${key} true`,
    }];
}

/** The AWS region: cluster.region, else the provider's aws:region. */
export function awsRegion(config: PlatformConfig): string | undefined {
    return config.cluster.region ?? new pulumi.Config("aws").get("region");
}
