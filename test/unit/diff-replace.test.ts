// Update or replace: the offline diff's classification of changed Kubernetes objects (lib/diff.ts, table in
// lib/replace-fields.ts), as plain functions on pairs of manifests, then on real config switches of the
// project, the last through `npm run diff` itself.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { classifyKubernetesChange, diffRenders, formatDiff, RenderDiff } from "../../lib/diff";
import { CLUSTER_SCOPED_KINDS, forceNewFields, IDENTITY_FIELDS, providerFlagsFrom, REPLACE_ON_CHANGE, ruleFor, STATEFUL_KINDS } from "../../lib/replace-fields";
import type { RenderedResource } from "../../lib/render";
import { render, ROOT } from "../support/render";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests edit manifests freely

const clone = <T>(v: T): T => structuredClone(v);
/** The object after `edit`, and its classification against the original. */
function classify(obj: Obj, edit: (o: Obj) => void, flags = {}) {
    const after = clone(obj);
    edit(after);
    return classifyKubernetesChange(obj, after, flags);
}

const podTemplate = (image: string) => ({
    metadata: { labels: { app: "x" } },
    spec: { containers: [{ name: "main", image, env: [{ name: "A", value: "1" }] }] },
});
const statefulSet: Obj = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "postgres", namespace: "mlflow" },
    spec: {
        replicas: 1,
        serviceName: "postgres",
        selector: { matchLabels: { app: "x" } },
        template: podTemplate("postgres:16.10"),
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "20Gi" } } } }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    },
};
// Containers without names: the provider's array paths are positional, `[0]`.
const job: Obj = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "mlflow-db-upgrade-0ab2389d62", namespace: "mlflow" },
    spec: { backoffLimit: 2, template: { spec: { restartPolicy: "Never", containers: [{ image: "mlflow@sha256:aaa", args: ["db", "upgrade"] }] } } },
};
const deployment: Obj = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "mlflow", namespace: "mlflow" },
    spec: { replicas: 2, selector: { matchLabels: { app: "x" } }, template: podTemplate("mlflow:1") },
};
const secret: Obj = { apiVersion: "v1", kind: "Secret", metadata: { name: "mlflow-backend-store", namespace: "mlflow" }, type: "Opaque", stringData: { uri: "[secret]" } };
const configMap: Obj = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "auth", namespace: "mlflow" }, data: { "basic_auth.ini": "a" } };
const service: Obj = { apiVersion: "v1", kind: "Service", metadata: { name: "mlflow", namespace: "mlflow" }, spec: { type: "ClusterIP", ports: [{ name: "http", port: 5000 }], selector: { app: "x" } } };
const pvc: Obj = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace: "mlflow" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "gp3", resources: { requests: { storage: "20Gi" } } },
};
const namespace: Obj = { apiVersion: "v1", kind: "Namespace", metadata: { name: "mlflow", labels: { "pod-security.kubernetes.io/enforce": "baseline" } } };

describe("replace classification: StatefulSet", () => {
    it("a storage size change in volumeClaimTemplates replaces it, deleting first (same explicit name)", () => {
        const c = classify(statefulSet, (o) => (o.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "50Gi"));
        assert.deepEqual(c, {
            action: "replace",
            replaceBecause: ["spec.volumeClaimTemplates"],
            replaceFields: ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"],
            replaceKeys: ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"],
            deleteBeforeReplace: true,
        });
    });
    it("replicas, the pod template, the update strategy and the claim retention policy update in place", () => {
        for (const edit of [
            (o: Obj) => (o.spec.replicas = 2),
            (o: Obj) => (o.spec.template.spec.containers[0].image = "postgres:16.11"),
            (o: Obj) => (o.spec.updateStrategy = { type: "OnDelete" }),
            (o: Obj) => (o.spec.persistentVolumeClaimRetentionPolicy.whenDeleted = "Delete"),
            (o: Obj) => (o.metadata.labels = { a: "b" }),
        ]) {
            assert.equal(classify(statefulSet, edit).action, "update", edit.toString());
        }
    });
    it("serviceName, podManagementPolicy, revisionHistoryLimit (added or removed) and the selector replace it", () => {
        assert.deepEqual(classify(statefulSet, (o) => (o.spec.serviceName = "pg")).replaceBecause, ["spec.serviceName"]);
        assert.deepEqual(classify(statefulSet, (o) => (o.spec.podManagementPolicy = "Parallel")).replaceBecause, ["spec.podManagementPolicy"]);
        assert.deepEqual(classify(statefulSet, (o) => (o.spec.revisionHistoryLimit = 3)).replaceBecause, ["spec.revisionHistoryLimit"]);
        assert.deepEqual(classify({ ...statefulSet, spec: { ...statefulSet.spec, revisionHistoryLimit: 3 } }, (o) => delete o.spec.revisionHistoryLimit).replaceBecause, ["spec.revisionHistoryLimit"]);
        const sel = classify(statefulSet, (o) => (o.spec.selector.matchLabels.tier = "db"));
        assert.deepEqual([sel.replaceBecause, sel.replaceFields], [["spec.selector"], ["spec.selector.matchLabels.tier"]]);
    });
    it("adding a second claim template replaces it", () => {
        const c = classify(statefulSet, (o) => o.spec.volumeClaimTemplates.push({ metadata: { name: "wal" }, spec: {} }));
        assert.deepEqual(c.replaceBecause, ["spec.volumeClaimTemplates"]);
    });
});

describe("replace classification: Job, Deployment, CronJob", () => {
    it("a Job's new image replaces it: spec.template covers spec.template.spec.containers[0].image", () => {
        const c = classify(job, (o) => (o.spec.template.spec.containers[0].image = "mlflow@sha256:bbb"));
        assert.deepEqual([c.action, c.replaceBecause, c.replaceFields], ["replace", ["spec.template"], ["spec.template.spec.containers[0].image"]]);
    });
    it("a Job renamed after the new digest replaces it, creating the new one first (names differ)", () => {
        const c = classify(job, (o) => {
            o.metadata.name = "mlflow-db-upgrade-1111111111";
            o.spec.template.spec.containers[0].image = "mlflow@sha256:111";
        });
        assert.deepEqual([c.replaceBecause, c.deleteBeforeReplace], [["metadata.name", "spec.template"], false]);
    });
    it("a Job's backoffLimit, ttl and labels update it; completions and parallelism replace it", () => {
        assert.equal(classify(job, (o) => (o.spec.backoffLimit = 0)).action, "update");
        assert.equal(classify(job, (o) => (o.spec.ttlSecondsAfterFinished = 600)).action, "update");
        assert.equal(classify(job, (o) => (o.metadata.labels = { a: "b" })).action, "update");
        assert.deepEqual(classify(job, (o) => (o.spec.completions = 2)).replaceBecause, ["spec.completions"]);
        assert.deepEqual(classify(job, (o) => (o.spec.parallelism = 2)).replaceBecause, ["spec.parallelism"]);
    });
    it("a Deployment's pod template change is an update (a rollout); its selector replaces it", () => {
        assert.equal(classify(deployment, (o) => (o.spec.template.spec.containers[0].image = "mlflow:2")).action, "update");
        assert.equal(classify(deployment, (o) => (o.spec.template.spec.containers[0].env[0].value = "2")).action, "update");
        assert.deepEqual(classify(deployment, (o) => (o.spec.selector = { matchLabels: { app: "y" } })).replaceBecause, ["spec.selector"]);
    });
    it("a CronJob's job template change is an update (no CronJob entry in the provider's table)", () => {
        const cron: Obj = { apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "train", namespace: "mlflow" }, spec: { schedule: "0 0 * * *", suspend: true, jobTemplate: { spec: job.spec } } };
        assert.equal(classify(cron, (o) => (o.spec.jobTemplate.spec.template.spec.containers[0].image = "t:2")).action, "update");
    });
});

describe("replace classification: Secret, ConfigMap (provider defaults and the mutable flags)", () => {
    it("with the defaults a Secret's data, stringData or type change replaces it, deleting first", () => {
        const c = classify(secret, (o) => (o.stringData.extra = "[secret]"));
        assert.deepEqual(c, { action: "replace", replaceBecause: ["stringData"], replaceFields: ["stringData.extra"], replaceKeys: ["stringData.extra"], deleteBeforeReplace: true });
        assert.deepEqual(classify(secret, (o) => (o.data = { k: "[secret]" })).replaceBecause, ["data"]);
        assert.deepEqual(classify(secret, (o) => (o.type = "kubernetes.io/basic-auth")).replaceBecause, ["type"]);
        assert.equal(classify(secret, (o) => (o.metadata.annotations = { a: "b" })).action, "update");
    });
    it("enableSecretMutable: data updates in place, type still replaces, an immutable Secret still replaces", () => {
        const flags = { enableSecretMutable: true };
        assert.equal(classify(secret, (o) => (o.stringData.extra = "[secret]"), flags).action, "update");
        assert.deepEqual(classify(secret, (o) => (o.type = "kubernetes.io/basic-auth"), flags).replaceBecause, ["type"]);
        assert.deepEqual(classify({ ...secret, immutable: true }, (o) => (o.stringData.extra = "[secret]"), flags).replaceBecause, ["stringData"]);
    });
    it("with the defaults a ConfigMap's data change replaces it; enableConfigMapMutable updates it unless immutable", () => {
        assert.deepEqual(classify(configMap, (o) => (o.data["basic_auth.ini"] = "b")).replaceFields, ["data.basic_auth.ini"]);
        assert.deepEqual(classify(configMap, (o) => (o.binaryData = { x: "AA==" })).replaceBecause, ["binaryData"]);
        assert.equal(classify(configMap, (o) => (o.data["basic_auth.ini"] = "b"), { enableConfigMapMutable: true }).action, "update");
        assert.equal(classify({ ...configMap, immutable: true }, (o) => (o.data["basic_auth.ini"] = "b"), { enableConfigMapMutable: true }).action, "replace");
    });
    it("the flags come from the stack's kubernetes: config, else the environment", () => {
        assert.deepEqual(providerFlagsFrom({}, {}), { enableSecretMutable: false, enableConfigMapMutable: false });
        assert.deepEqual(providerFlagsFrom({ "kubernetes:enableSecretMutable": "true" }, { PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE: "true" }), { enableSecretMutable: true, enableConfigMapMutable: true });
        assert.deepEqual(providerFlagsFrom({ "kubernetes:enableSecretMutable": false }, { PULUMI_K8S_ENABLE_SECRET_MUTABLE: "true" }).enableSecretMutable, false);
    });
});

describe("replace classification: Service, PVC, Namespace, PDB, networking, custom resources", () => {
    it("a Service replaces on spec.clusterIP only; type and ports update it", () => {
        assert.deepEqual(classify(service, (o) => (o.spec.clusterIP = "None")).replaceBecause, ["spec.clusterIP"]);
        assert.equal(classify(service, (o) => (o.spec.type = "NodePort")).action, "update");
        assert.equal(classify(service, (o) => (o.spec.ports[0].port = 80)).action, "update");
    });
    it("a PVC's size is an update (expansion); its class or access modes replace it", () => {
        assert.equal(classify(pvc, (o) => (o.spec.resources.requests.storage = "50Gi")).action, "update");
        assert.deepEqual(classify(pvc, (o) => (o.spec.storageClassName = "gp2")).replaceBecause, ["spec.storageClassName"]);
        assert.deepEqual(classify(pvc, (o) => (o.spec.accessModes = ["ReadWriteMany"])).replaceFields, ["spec.accessModes[0]"]);
    });
    it("a Namespace replaces only on a new name (created first: the names differ); labels update it", () => {
        assert.equal(classify(namespace, (o) => (o.metadata.labels["pod-security.kubernetes.io/enforce"] = "restricted")).action, "update");
        assert.deepEqual(classify(namespace, (o) => (o.metadata.name = "mlflow-next")), {
            action: "replace",
            replaceBecause: ["metadata.name"],
            replaceFields: ["metadata.name"],
            replaceKeys: ["metadata.name"],
            deleteBeforeReplace: false,
        });
    });
    it("namespaces compare as the provider canonicalizes them: unset is default; cluster-scoped kinds have none", () => {
        const unset: Obj = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "a" } };
        assert.equal(classify(unset, (o) => (o.metadata.namespace = "default")).action, "update");
        assert.deepEqual(classify(unset, (o) => (o.metadata.namespace = "mlflow")).replaceBecause, ["metadata.namespace"]);
        assert.equal(classify(namespace, (o) => (o.metadata.namespace = "stray")).action, "update");
    });
    it("a policy/v1 PDB, an Ingress and a NetworkPolicy update in place whatever the spec change", () => {
        const pdb: Obj = { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "mlflow", namespace: "mlflow" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "x" } } } };
        assert.equal(classify(pdb, (o) => (o.spec = { maxUnavailable: 1, selector: { matchLabels: { app: "y" } } })).action, "update");
        const ing: Obj = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: "mlflow", namespace: "mlflow" }, spec: { ingressClassName: "nginx" } };
        assert.equal(classify(ing, (o) => (o.spec.ingressClassName = "alb")).action, "update");
        const np: Obj = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "mlflow" }, spec: { podSelector: {} } };
        assert.equal(classify(np, (o) => (o.spec.podSelector = { matchLabels: { a: "b" } })).action, "update");
    });
    it("custom resources (InferenceService, ClusterServingRuntime) replace only on their name", () => {
        const isvc: Obj = { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name: "ch", namespace: "mlflow" }, spec: { predictor: { model: { storageUri: "s3://b/m-1" } } } };
        assert.equal(classify(isvc, (o) => (o.spec.predictor.model.storageUri = "s3://b/m-2")).action, "update");
        assert.deepEqual(classify(isvc, (o) => (o.metadata.name = "ch2")).replaceBecause, ["metadata.name"]);
        const widget: Obj = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { a: 1 } };
        assert.deepEqual(forceNewFields(widget), [...IDENTITY_FIELDS]);
        assert.equal(classify(widget, (o) => (o.spec.a = 2)).action, "update");
    });
    it("a RoleBinding replaces on roleRef", () => {
        const rb: Obj = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "r", namespace: "mlflow" }, roleRef: { kind: "Role", name: "a" }, subjects: [] };
        assert.deepEqual(classify(rb, (o) => (o.roleRef.name = "b")).replaceBecause, ["roleRef"]);
        assert.equal(classify(rb, (o) => o.subjects.push({ kind: "ServiceAccount", name: "x" })).action, "update");
    });
});

describe("replace classification: paths into arrays, identity, auto-naming", () => {
    const pod: Obj = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "mlflow" }, spec: { containers: [{ name: "a", image: "x:1" }] } };
    it("`[*]` matches any element: a Pod's containers[0].image replaces it, by position or by name", () => {
        assert.deepEqual(classify({ ...pod, spec: { containers: [{ image: "x:1" }] } }, (o) => (o.spec.containers[0].image = "x:2")).replaceFields, ["spec.containers[0].image"]);
        assert.deepEqual(classify(pod, (o) => (o.spec.containers[0].image = "x:2")).replaceBecause, ["spec.containers[*].image"]);
    });
    it("a change above a force-new path counts when the new value holds it (a container added with an image)", () => {
        const c = classify(pod, (o) => o.spec.containers.push({ name: "b", image: "y:1" }));
        assert.deepEqual([c.replaceFields, c.replaceBecause], [["spec.containers[b]"], ["spec.containers[*].image"]]);
        assert.equal(classify(pod, (o) => (o.spec.containers[0].terminationMessagePath = "/x")).action, "replace");
    });
    it("removing a whole element above the pattern does not count (the provider's own case: containers[0] deleted is an update)", () => {
        const bare: Obj = { ...pod, spec: { containers: [{ name: "nginx" }] } };
        assert.equal(classify(bare, (o) => (o.spec.containers = [])).action, "update");
        // ... but a deletion at or under a force-new path does (PVC spec.accessModes removed: DELETE_REPLACE).
        assert.deepEqual(classify(pvc, (o) => delete o.spec.accessModes).replaceBecause, ["spec.accessModes"]);
    });
    it("metadata.name / metadata.namespace replace every kind; without a name (auto-named) the new one comes first", () => {
        const named = classify(deployment, (o) => (o.metadata.namespace = "other"));
        assert.deepEqual([named.replaceBecause, named.deleteBeforeReplace], [["metadata.namespace"], false]);
        const auto: Obj = { ...job, metadata: { namespace: "mlflow" } };
        const c = classify(auto, (o) => (o.spec.template.spec.containers[0].image = "mlflow@sha256:bbb"));
        assert.deepEqual([c.action, c.deleteBeforeReplace], ["replace", false]);
        assert.deepEqual(classify(auto, (o) => (o.metadata.name = "explicit")).replaceBecause, ["metadata.name"]);
    });
    it("replaceKeys name the paths as the provider does: named items by position, odd keys quoted", () => {
        const named: Obj = { ...job, spec: { template: { spec: { containers: [{ name: "init", image: "a" }, { name: "db-upgrade", image: "b", env: [{ name: "X", value: "1" }] }] } } } };
        const c = classify(named, (o) => {
            o.spec.template.spec.containers[1].env[0].value = "2";
            o.spec.template.metadata = { annotations: { "example.com/a.b": "1" } };
        });
        assert.deepEqual(c.replaceFields, ["spec.template.metadata", "spec.template.spec.containers[db-upgrade].env[X].value"]);
        assert.deepEqual(c.replaceKeys, ["spec.template.metadata", "spec.template.spec.containers[1].env[0].value"]);
        const quoted = classify(configMap, (o) => (o.data["basic_auth.ini"] = "b"));
        assert.deepEqual(quoted.replaceKeys, ['data["basic_auth.ini"]']);
        // A removed named item keeps its old position. (The provider, comparing by position, would list
        // containers[0].name, .image, .env and containers[1] instead: the same replace, other keys.)
        const removed = classify(named, (o) => o.spec.template.spec.containers.splice(0, 1));
        assert.deepEqual([removed.action, removed.replaceKeys], ["replace", ["spec.template.spec.containers[0]"]]);
    });
    it("removing the whole metadata replaces", () => {
        assert.deepEqual(classify(namespace, (o) => delete o.metadata).replaceBecause, ["metadata"]);
    });
});

describe("replace table (lib/replace-fields.ts)", () => {
    it("one entry per apiVersion/kind, each naming the provider file it came from, every field well-formed", () => {
        const keys = REPLACE_ON_CHANGE.map((r) => `${r.apiVersion}/${r.kind}`);
        assert.equal(new Set(keys).size, keys.length);
        for (const r of REPLACE_ON_CHANGE) {
            assert.match(r.source, /pkg\/(provider|clients)\/[a-z_]+\.go/, `${r.kind}: source`);
            for (const f of [...r.fields, ...(r.whenMutable?.fields ?? [])]) assert.match(f, /^[A-Za-z]+(\[\*\])?(\.[A-Za-z]+(\[\*\])?)*$/, `${r.kind}: ${f}`);
        }
        assert.deepEqual(ruleFor("apps/v1", "StatefulSet")?.fields, ["spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"]);
        for (const k of ["StatefulSet", "PersistentVolumeClaim", "Namespace", "Secret"]) assert.ok(STATEFUL_KINDS.has(k));
    });
    it("covers every kind the platform's stacks emit (add an entry from the provider's source when a new kind appears)", async () => {
        const renders = await Promise.all([
            render("local"),
            render("dev"),
            render("prod"),
            render("dev", ["database.mode=rds", "database.migrateFromInCluster=true", "access.mode=ingress", "access.auth=basic", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=le"]),
            render("dev", ["artifactStore.bucketName=mlflow-artifacts-dev", "serving.verifyArtifacts=false", 'serving.models=[{"name":"ch","storageUri":"s3://mlflow-artifacts-dev/models/m-1/artifacts"}]']),
        ]);
        const emitted = new Set(renders.flatMap((r) => r.kubernetes.map((o) => `${o.apiVersion} ${o.kind}`)));
        for (const want of ["v1 ConfigMap", "serving.kserve.io/v1beta1 InferenceService", "networking.k8s.io/v1 Ingress"]) assert.ok(emitted.has(want), `renders emit ${want}`);
        const missing = [...emitted].filter((k) => !ruleFor(...(k.split(" ") as [string, string])));
        assert.deepEqual(missing, []);
        for (const o of renders.flatMap((r) => r.kubernetes)) if (CLUSTER_SCOPED_KINDS.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind} ${o.metadata.name}`);
    });
});

const change = (d: RenderDiff, type: string, name: string) => {
    const c = d.changed.find((x) => x.type === type && x.name === name);
    assert.ok(c, `${type} ${name} changed (have ${d.changed.map((x) => `${x.type} ${x.name}`).join(", ")})`);
    return c;
};

describe("ignoreChanges and Patch resources", () => {
    const res = (type: string, name: string, inputs: Obj, options?: Obj): RenderedResource => ({ type, name, inputs, ...(options ? { options } : {}) }) as RenderedResource;
    it("a change under an ignoreChanges path is never made: not shown, not a replace (named items by position)", () => {
        const ignore = { retainOnDelete: true, ignoreChanges: ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"] };
        const grown = clone(statefulSet);
        grown.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "50Gi";
        const type = "kubernetes:apps/v1:StatefulSet";
        assert.deepEqual(diffRenders([res(type, "pg", statefulSet, ignore)], [res(type, "pg", grown, ignore)]).changed, []);
        grown.spec.replicas = 2;
        assert.deepEqual(diffRenders([res(type, "pg", statefulSet, ignore)], [res(type, "pg", grown, ignore)]).changed, [{ type, name: "pg", fields: ["spec.replicas"], action: "update" }]);
        const wild = { ignoreChanges: ["spec.template.spec.containers[*].image"] };
        const img = clone(statefulSet);
        img.spec.template.spec.containers[0].image = "postgres:17";
        assert.deepEqual(diffRenders([res(type, "pg", statefulSet, wild)], [res(type, "pg", img, wild)]).changed, []);
        const byPos = { ignoreChanges: ["spec.template.spec.containers[0].env"] };
        img.spec.template.spec.containers[0].env[0].value = "2";
        assert.deepEqual(diffRenders([res(type, "pg", statefulSet, byPos)], [res(type, "pg", img, byPos)]).changed[0].fields, ["spec.template.spec.containers[main].image"]);
    });
    it("a Patch resource (PersistentVolumeClaimPatch) replaces only on its name or namespace", () => {
        const type = "kubernetes:core/v1:PersistentVolumeClaimPatch";
        const patch: Obj = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data-postgres-0", namespace: "mlflow" }, spec: { resources: { requests: { storage: "20Gi" } } } };
        const bigger = clone(patch);
        bigger.spec.resources.requests.storage = "50Gi";
        bigger.spec.storageClassName = "gp3";
        assert.equal(diffRenders([res(type, "p", patch)], [res(type, "p", bigger)]).changed[0].action, "update");
        const moved = clone(patch);
        moved.metadata.namespace = "other";
        const d = diffRenders([res(type, "p", patch)], [res(type, "p", moved)]);
        assert.deepEqual([d.changed[0].action, d.changed[0].replaceBecause, d.changed[0].stateful], ["replace", ["metadata.namespace"], undefined]);
    });
});

describe("replace classification on the project's config switches", () => {
    // The API server refuses any change to volumeClaimTemplates, so a bigger volume would replace the
    // StatefulSet. components/stateful-store.ts keeps the template's size as created (ignoreChanges, which
    // the render records) and grows the claim with a PersistentVolumeClaimPatch: an update in place.
    it("a StatefulSet storage size change updates the claim in place; the StatefulSet is not touched", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["database.inCluster.storageSize=50Gi"])).resources);
        assert.deepEqual(d.changed, [
            { type: "kubernetes:core/v1:PersistentVolumeClaimPatch", name: "postgres-data", fields: ["spec.resources.requests.storage"], action: "update" },
        ]);
        assert.doesNotMatch(formatDiff(d), /replace:|!!/);
    });
    it("without the ignoreChanges the render records, the same change is a stateful replace because of volumeClaimTemplates", async () => {
        const strip = (rs: readonly RenderedResource[]) => rs.map((r) => (r.type === "kubernetes:apps/v1:StatefulSet" ? { ...r, options: { retainOnDelete: true as const } } : r));
        const d = diffRenders(strip((await render("dev")).resources), strip((await render("dev", ["database.inCluster.storageSize=50Gi"])).resources));
        const sts = change(d, "kubernetes:apps/v1:StatefulSet", "postgres");
        assert.deepEqual([sts.action, sts.replaceBecause, sts.deleteBeforeReplace, sts.stateful, sts.retainsOld], ["replace", ["spec.volumeClaimTemplates"], true, true, true]);
        const text = formatDiff(d);
        assert.match(text, /^!! \+- kubernetes:apps\/v1:StatefulSet postgres {2}STATEFUL replace: .*because spec\.volumeClaimTemplates$/m);
        assert.match(text, /^ {4}spec\.volumeClaimTemplates\[0\]\.spec\.resources\.requests\.storage {2}\[forces replace\]$/m);
    });
    it("dev → rds: the db-upgrade Job (same image, same name) is replaced delete-first, so it runs again on RDS; the Deployment updates", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["database.mode=rds"])).resources);
        const j = change(d, "kubernetes:batch/v1:Job", "tracking-server-db-upgrade");
        assert.deepEqual([j.action, j.replaceBecause, j.deleteBeforeReplace], ["replace", ["spec.template"], true]);
        assert.equal(change(d, "kubernetes:apps/v1:Deployment", "tracking-server").action, "update");
        assert.ok(!d.changed.some((c) => c.action === "replace" && c.stateful));
    });
    it("more replicas or a new PostgreSQL image update the StatefulSet and Deployment in place", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["trackingServer.replicas=3", "database.inCluster.image=postgres:16.11"])).resources);
        assert.ok(d.changed.length >= 2);
        for (const c of d.changed) assert.equal(c.action, "update", `${c.type} ${c.name}: ${c.fields.join(", ")}`);
    });
    it("renaming the namespace replaces every namespaced object and the Namespace; the stateful ones stand out", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["namespace=mlflow-next"])).resources);
        const k8s = d.changed.filter((c) => c.type.startsWith("kubernetes:"));
        assert.ok(k8s.length > 10);
        for (const c of k8s) assert.equal(c.action, "replace", `${c.type} ${c.name}`);
        const ns = change(d, "kubernetes:core/v1:Namespace", "namespace");
        assert.deepEqual([ns.replaceBecause, ns.deleteBeforeReplace, ns.stateful, ns.retainsOld], [["metadata.name"], false, true, true]);
        assert.deepEqual(change(d, "kubernetes:apps/v1:StatefulSet", "postgres").replaceBecause, ["metadata.namespace"]);
        assert.equal(change(d, "kubernetes:core/v1:Secret", "postgres-backend-store").stateful, true);
        assert.equal(change(d, "kubernetes:apps/v1:Deployment", "tracking-server").stateful, undefined);
    });
    it("a changed model version updates the InferenceService in place", async () => {
        const sets = (m: string) => ["artifactStore.bucketName=mlflow-artifacts-dev", "serving.verifyArtifacts=false", `serving.models=[{"name":"ch","storageUri":"s3://mlflow-artifacts-dev/models/${m}/artifacts"}]`];
        const d = diffRenders((await render("dev", sets("m-1"))).resources, (await render("dev", sets("m-2"))).resources);
        const isvc = change(d, "kubernetes:serving.kserve.io/v1beta1:InferenceService", "serving-ch");
        assert.equal(isvc.action, "update");
    });
    it("a non-Kubernetes change is `unknown`, said so in the text", async () => {
        const d = diffRenders((await render("dev")).resources, (await render("dev", ["artifactStore.bucketName=mlflow-artifacts-dev"])).resources);
        const bucket = change(d, "aws:s3/bucket:Bucket", "artifacts");
        assert.equal(bucket.action, "unknown");
        assert.match(formatDiff(d), /~ aws:s3\/bucket:Bucket artifacts {2}\(update or replace: up to the aws provider, not known offline\)/);
    });
});

describe("npm run diff: a new tracking-server image", function () {
    this.timeout(120000);
    const image = "registry.example.com/mlflow@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const run = (...extra: string[]) => {
        const r = spawnSync(process.execPath, ["cli/run.js", "diff", "--from", "dev", "--to", "dev", "--set", `image.ref=${image}`, "--set", "image.mlflowVersion=3.17.2", ...extra], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
    };
    it("--json: the db-upgrade Job (named after the digest) is replaced, new one first; the Deployment is an update", () => {
        const d = JSON.parse(run("--json")) as RenderDiff;
        const jobChange = change(d, "kubernetes:batch/v1:Job", "tracking-server-db-upgrade");
        assert.deepEqual(
            { action: jobChange.action, replaceBecause: jobChange.replaceBecause, deleteBeforeReplace: jobChange.deleteBeforeReplace, stateful: jobChange.stateful },
            { action: "replace", replaceBecause: ["metadata.name", "spec.template"], deleteBeforeReplace: false, stateful: undefined },
        );
        assert.ok(jobChange.fields.includes("metadata.name") && jobChange.fields.includes("spec.template.spec.containers[db-upgrade].image"));
        const dep = change(d, "kubernetes:apps/v1:Deployment", "tracking-server");
        assert.deepEqual([dep.action, dep.fields, dep.replaceBecause], ["update", ["spec.template.spec.containers[mlflow].image"], undefined]);
        assert.ok(!d.changed.some((c) => c.action === "replace" && c.stateful), "no stateful object is replaced");
    });
    it("text: `+-` for the Job with the forcing fields marked, `~` for the Deployment, no stateful warning", () => {
        const out = run();
        assert.match(out, /^\+- kubernetes:batch\/v1:Job tracking-server-db-upgrade {2}replace: creates the new object, then deletes the old one; because metadata\.name, spec\.template$/m);
        assert.match(out, /^ {4}metadata\.name +\[forces replace\]$/m);
        assert.match(out, /^~ kubernetes:apps\/v1:Deployment tracking-server\n {4}spec\.template\.spec\.containers\[mlflow\]\.image$/m);
        assert.doesNotMatch(out, /^!!/m);
        // The db-upgrade Job is replaced; the Deployment and the CronJobs that run the image (backup upload, gc) update.
        assert.match(out, /^~ kubernetes:batch\/v1:CronJob gc\n {4}spec\.jobTemplate\.spec\.template\.spec\.containers\[gc\]\.image$/m);
        assert.match(out, /to change \(3 update, 1 replace\)\n$/);
    });
});
