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
                        // Enforce "baseline" (KServe's injected storage-initializer is not "restricted"-clean),
                        // and warn/audit on "restricted", which the platform's own pods meet.
                        "pod-security.kubernetes.io/enforce": "baseline",
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
