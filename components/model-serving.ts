import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as pulumi from "@pulumi/pulumi";
import type { Resources, ServingConfig } from "../config";
import { AwsCredentialSource } from "../manifests/common";
import {
    clusterServingRuntime,
    clusterStorageContainer,
    inferenceService,
    servingServiceAccount,
    SERVING_SERVICE_ACCOUNT,
} from "../manifests/serving";
import type { ResolvedModel } from "../lib/registry/resolver";
import { MLFLOW_PYFUNC_RUNTIME, runtimeNeeded } from "../lib/terms";

export interface ModelServingArgs {
    /** Namespace of the ServiceAccount and the InferenceServices. */
    readonly namespace: string;
    /**
     * The `serving` config section: the models (one InferenceService each), the default runtime, whether to install
     * the project's ClusterServingRuntime (cluster-scoped: one stack per cluster should; a stack serving no model on
     * it declares no KServe object at all, so it goes up on a cluster without KServe), KServe's deployment mode,
     * the storage initializer's resources.
     */
    readonly config: Pick<ServingConfig, "models" | "runtime" | "installRuntime" | "deploymentMode" | "storageInitializer">;
    /** The registry lookups of the config's models, in the same order (resolveModels keeps it). */
    readonly resolved: readonly ResolvedModel[];
    /** Image of the runtime (images/serving). Required when a served model runs on the project's runtime. Defaults to none. */
    readonly runtimeImage?: pulumi.Input<string>;
    /** Requests and limits of the runtime's container template. Defaults to 500m/1Gi requests, 1/2Gi limits. */
    readonly runtimeResources?: Resources;
    /** Image of images/storage-initializer. Required when a model is served. Defaults to none. */
    readonly storageInitializerImage?: pulumi.Input<string>;
    /** How the storage initializer reaches the bucket: a keys Secret (static keys) or none (IRSA); region, endpoint. */
    readonly aws: AwsCredentialSource;
    /** Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn (IRSA). Defaults to none. */
    readonly serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The s3:// prefixes the storage initializer serves from (the artifact bucket, allowed prefixes). Defaults to none. */
    readonly storagePrefixes?: readonly string[];
    /** MLflow's usage telemetry on in its containers (telemetry.enabled). Defaults to off. */
    readonly telemetry?: boolean;
}

/** What is served: one entry per InferenceService (a stack output). */
export interface ServedModelOutput {
    readonly name: string;
    readonly registeredModel: string;
    readonly version?: string;
    readonly alias?: string;
    readonly storageUri: string;
}

/**
 * KServe serving of registered models: the `mlflow-serving` ServiceAccount, the `mlflow-pyfunc`
 * ClusterServingRuntime (optional) and one InferenceService per served model, from lookups already made.
 */
export class ModelServing extends pulumi.ComponentResource {
    public readonly models: ServedModelOutput[];
    public readonly serviceAccountName: pulumi.Output<string>;
    /** The InferenceServices, by model name. */
    public readonly inferenceServices: Record<string, apiextensions.CustomResource>;
    /** The ClusterStorageContainer each InferenceService names (declared when a model is served). */
    public readonly storageContainer?: apiextensions.CustomResource;

    constructor(name: string, args: ModelServingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:serving:ModelServing", name, {}, opts);
        const child = { parent: this };
        const c = args.config;
        const models = c.models;
        if (models.length !== args.resolved.length)
            throw new Error(`ModelServing: ${models.length} serving.models but ${args.resolved.length} resolved models (one lookup per model, same order)`);
        const defaultRuntime = c.runtime;
        const needsRuntime = runtimeNeeded({ installRuntime: c.installRuntime, models, defaultRuntime });
        if (needsRuntime && args.runtimeImage === undefined)
            throw new Error(`ModelServing: runtimeImage is required when a served model runs on "${MLFLOW_PYFUNC_RUNTIME}" (set serving.runtimeImage or image.build)`);

        const sa = new corev1.ServiceAccount(
            name,
            servingServiceAccount({ namespace: args.namespace, aws: args.aws, annotations: args.serviceAccountAnnotations }),
            child,
        );
        const runtime =
            needsRuntime && args.runtimeImage !== undefined
                ? new apiextensions.CustomResource(`${name}-runtime`, { ...clusterServingRuntime({ image: args.runtimeImage, resources: args.runtimeResources, telemetry: args.telemetry }) }, child)
                : undefined;

        if (models.length > 0 && args.storageInitializerImage === undefined)
            throw new Error(`ModelServing: storageInitializerImage is required when a model is served (set serving.storageInitializer.image or image.build)`);
        this.storageContainer =
            models.length > 0 && args.storageInitializerImage !== undefined
                ? new apiextensions.CustomResource(
                      `${name}-storage-initializer`,
                      {
                          ...clusterStorageContainer({
                              namespace: args.namespace,
                              image: args.storageInitializerImage,
                              prefixes: [...(args.storagePrefixes ?? [])],
                              resources: c.storageInitializer.resources,
                          }),
                      },
                      child,
                  )
                : undefined;

        this.inferenceServices = {};
        this.models = models.map((model, i) => {
            const resolved = args.resolved[i];
            const isvc = inferenceService(model, resolved, {
                namespace: args.namespace,
                serviceAccountName: SERVING_SERVICE_ACCOUNT,
                runtime: defaultRuntime,
                deploymentMode: c.deploymentMode,
            });
            const dependsOn: pulumi.Resource[] = [sa, ...(this.storageContainer ? [this.storageContainer] : [])];
            if (runtime && (model.runtime ?? defaultRuntime) === MLFLOW_PYFUNC_RUNTIME) dependsOn.push(runtime);
            this.inferenceServices[model.name] = new apiextensions.CustomResource(`${name}-${model.name}`, { ...isvc }, { ...child, dependsOn });
            return {
                name: model.name,
                registeredModel: resolved.name,
                ...(resolved.version !== undefined ? { version: resolved.version } : {}),
                ...((resolved.alias ?? model.alias) !== undefined ? { alias: resolved.alias ?? model.alias } : {}),
                storageUri: resolved.storageUri,
            };
        });
        this.serviceAccountName = sa.metadata.name;
        this.registerOutputs({ models: this.models, serviceAccountName: this.serviceAccountName });
    }
}
