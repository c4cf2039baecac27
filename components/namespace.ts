import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import { labels } from "../manifests/common";

export interface PlatformNamespaceArgs {
    /** Namespace name. Defaults to `mlflow`. */
    readonly name?: string;
}

/**
 * The namespace every workload of the platform lives in, labelled for Pod Security.
 * Retained on delete: deleting a namespace deletes the PersistentVolumeClaims in it.
 */
export class PlatformNamespace extends pulumi.ComponentResource {
    /** The namespace's name (known at preview, so manifests can use it as a plain string). */
    public readonly name: string;
    public readonly namespace: corev1.Namespace;

    constructor(name: string, args: PlatformNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:kubernetes:PlatformNamespace", name, {}, opts);
        this.name = args.name ?? "mlflow";
        this.namespace = new corev1.Namespace(
            name,
            {
                metadata: {
                    name: this.name,
                    labels: {
                        ...labels("namespace", this.name),
                        // Enforce "restricted": every pod of the platform meets it, KServe's predictor pods too
                        // (the platform's own storage initializer, serving.storageInitializer, runs restricted;
                        // KServe's default one does not). The engine tests create every pod under it.
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    },
                },
            },
            { parent: this, retainOnDelete: true },
        );
        this.registerOutputs({ name: this.name });
    }
}
