/**
 * A team's own Pulumi program that composes the MLflow platform next to what it already has: its cluster's
 * Kubernetes provider, its own settings in code, its own outputs. The platform is one component
 * (`mlflow-platform:index:MlflowPlatform`), so `pulumi stack --show-urns` and the console show it as one tree under
 * the team's stack.
 *
 * In the team's repository the import is the package's: `import { MlflowPlatform, parseConfig } from
 * "mlflow-platform/platform"` (this example, inside the project, imports the same module by path).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MlflowPlatform, parseConfig } from "../../platform";

/** The platform's settings, as code: the same keys as `mlflow-platform:*` stack config (config.ts validates them). */
function platformSettings(team: string): Record<string, unknown> {
    return {
        namespace: `mlflow-${team}`,
        // A cluster without AWS: MinIO for the artifacts, PostgreSQL in the cluster, images the team built.
        artifactStore: { mode: "minio" },
        image: { build: false, ref: "registry.example.com/mlflow-platform/mlflow:3.17.2", mlflowVersion: "3.17.2" },
        training: {
            image: "registry.example.com/mlflow-platform/trainer:3.17.2",
            profiles: [{ name: "baseline" }],
        },
        trackingServer: { replicas: 1, workers: 2 },
    };
}

async function program(): Promise<Record<string, unknown>> {
    const team = new pulumi.Config("team");
    // The team's cluster, as its program already knows it (a kubeconfig here; an EKS cluster's output in theirs).
    const kubeconfig = team.require("kubeconfig");
    const cluster = new k8s.Provider("team-cluster", { kubeconfig, enableServerSideApply: true });

    const platform = await MlflowPlatform.create(
        "mlflow",
        // The same cluster for the platform's pre-flight checks as for its resources.
        { config: parseConfig(platformSettings(team.require("name")), pulumi.getStack()), kubeconfig: { kubeconfig } },
        { providers: { kubernetes: cluster } },
    );
    return { trackingUri: platform.trackingUri, artifactRoot: platform.artifactRoot };
}

// Pulumi calls the exported function and stacks its result as the outputs.
export = program;
