import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { CLAIM_TEMPLATE_SIZE_PATH, claimSizePatch } from "../manifests/common";

/** The StatefulSet of an in-cluster store and the patch that owns its claim's size. */
export interface StatefulStore {
    readonly statefulSet: appsv1.StatefulSet;
    readonly claimSize: corev1.PersistentVolumeClaimPatch;
}

/**
 * Creates a one-replica store's StatefulSet (retained on delete: its claim holds the data) and the
 * PersistentVolumeClaimPatch that carries `storageSize` to the claim, as children of `opts.parent`.
 * A bigger `storageSize` later is an in-place update of the claim, never a replacement of the
 * StatefulSet: the template's size is left as the StatefulSet was created (ignoreChanges).
 */
export function statefulStore(
    name: string,
    spec: k8s.types.input.apps.v1.StatefulSet,
    args: { statefulSetName: string; namespace: pulumi.Input<string>; storageSize: string },
    opts: pulumi.CustomResourceOptions,
): StatefulStore {
    const statefulSet = new appsv1.StatefulSet(name, spec, { ...opts, retainOnDelete: true, ignoreChanges: [...(opts.ignoreChanges ?? []), CLAIM_TEMPLATE_SIZE_PATH] });
    // After the StatefulSet is ready its controller has made the claim; the patch then owns the size.
    // Retained on delete: deleting a patch gives up its fields, and the size is one the claim cannot lose.
    const claimSize = new corev1.PersistentVolumeClaimPatch(
        `${name}-data`,
        claimSizePatch({ statefulSet: args.statefulSetName, namespace: args.namespace, storageSize: args.storageSize }),
        { parent: opts.parent, dependsOn: [statefulSet], retainOnDelete: true },
    );
    return { statefulSet, claimSize };
}
