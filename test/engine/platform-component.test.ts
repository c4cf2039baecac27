/**
 * The platform as one MlflowPlatform component, on the real engine and a real API server: a stack deployed
 * before the component existed (every part a top-level resource) upgrades to it with no replace and no delete —
 * the parts' aliases carry every resource, and their children, to the new URNs.
 *
 * The previous version's state is made from a deployed one (previousVersionState below). Checked once by hand
 * with the previous version itself (the commit before the component): its `pulumi up`, then this version's, on
 * one stack — the same result (docs/testing.md).
 */
import assert from "node:assert/strict";
import { sharedCluster, type Cluster } from "../../testbed/cluster";
import { engineStack, localSecrets, secretConfig, type EngineStack } from "../../testbed/stack";
import { main, PLATFORM_NAME } from "../../program";

const PLATFORM_TYPE = "mlflow-platform:index:MlflowPlatform";
/** Its own namespace: an earlier suite on the shared cluster leaves its retained StatefulSets in `mlflow`. */
const NS = "mlflow-component";
/** The kinds of object the stack makes in its namespace (Pods and Events come and go on their own). */
const OBJECT_KINDS: readonly [string, string][] = [
    ["apps/v1", "Deployment"], ["apps/v1", "StatefulSet"], ["v1", "Service"], ["v1", "Secret"], ["v1", "ConfigMap"], ["v1", "ServiceAccount"],
    ["v1", "PersistentVolumeClaim"], ["batch/v1", "CronJob"], ["batch/v1", "Job"], ["gateway.networking.k8s.io/v1", "HTTPRoute"],
    ["networking.k8s.io/v1", "NetworkPolicy"], ["policy/v1", "PodDisruptionBudget"],
];

/**
 * The state a stack deployed by the previous version has: the same resources (the offline renders of both versions
 * are equal, object by object), with the URNs the previous version gave them — every part a top-level resource, no
 * MlflowPlatform. Made by exporting a deployed stack's state and taking the component out of every URN (the
 * checkpoint format `pulumi stack export` documents), then importing it back.
 */
function previousVersionState(deployment: { resources?: Record<string, unknown>[] } & Record<string, unknown>): typeof deployment {
    const resources = deployment.resources ?? [];
    const component = resources.find((r) => r.type === PLATFORM_TYPE);
    const stack = resources.find((r) => r.type === "pulumi:pulumi:Stack");
    if (!component || !stack) throw new Error("the deployed state has no MlflowPlatform or no stack resource");
    const componentUrn = String(component.urn);
    const text = JSON.stringify(resources.filter((r) => r !== component))
        .split(`"${componentUrn}"`).join(`"${String(stack.urn)}"`)
        .split(`${PLATFORM_TYPE}$`).join("");
    const previous = JSON.parse(text) as Record<string, unknown>[];
    // A dependency on the component became one on the stack: the previous version had neither.
    for (const r of previous) if (Array.isArray(r.dependencies)) r.dependencies = (r.dependencies as string[]).filter((d) => d !== stack.urn);
    return { ...deployment, resources: previous };
}

describe("engine: the MlflowPlatform component keeps a stack deployed before it", function () {
    this.timeout(20 * 60_000);
    let cluster: Cluster;
    let stack: EngineStack;
    /** kind/name → uid of every object the stack made, after the previous layout's up. */
    let uidsBefore: Map<string, string>;
    const uids = async (): Promise<Map<string, string>> => {
        const out = new Map<string, string>();
        for (const [apiVersion, kind] of OBJECT_KINDS)
            for (const o of await cluster.kube.list(apiVersion, kind, NS)) out.set(`${kind}/${o.metadata.name}`, o.metadata.uid ?? "");
        return out;
    };

    before(async function () {
        this.timeout(80 * 60_000); // a cold toolchain build
        cluster = await sharedCluster();
        await cluster.removeCrds("kserve");
        await cluster.installCrds("gateway-api"); // the HTTPRoute of access.mode gateway
        stack = await engineStack(cluster, { base: "local", stackName: "pre-platform", program: main });
        // Every part that has an alias to carry: a Gateway route + basic auth (Access and its auth database), gc, batch.
        // (A Gateway rather than an Ingress: no controller here would give an Ingress the address the provider waits for.)
        await stack.configure({
            ...secretConfig(localSecrets(), { basicAuth: true }),
            namespace: NS,
            "access.mode": "gateway",
            "access.auth": "basic",
            "access.gateway.host": "mlflow.example.test",
            "access.gateway.name": "shared",
            "access.gateway.namespace": "gateways",
            "gc.enabled": true,
            "batch.profiles[0].name": "nightly",
        });
    });

    after(async () => {
        await stack?.destroy().catch(() => undefined);
        await stack?.remove();
    });

    it("a stack in the previous version's state: every part at the top level, no URN under the component", async () => {
        await stack.up();
        const exported = await stack.stack.exportStack();
        await stack.stack.importStack({ ...exported, deployment: previousVersionState(exported.deployment) });
        const state = (await stack.stack.exportStack()).deployment as { resources: { urn: string }[] };
        const urns = state.resources.map((r) => r.urn);
        assert.ok(urns.length > 40, `${urns.length} resources`);
        assert.deepEqual(urns.filter((u) => u.includes(`${PLATFORM_TYPE}$`)), [], "no resource is a child of the component");
        for (const part of ["mlflow-platform:tracking:TrackingServer::tracking-server", "mlflow-platform:access:Access::access", "mlflow-platform:database:InClusterDatabase::postgres"])
            assert.ok(urns.some((u) => u.endsWith(`::${part}`) && u.split("::")[2] === part.split("::")[0]), `${part} at the top level`);
        uidsBefore = await uids();
        assert.ok(uidsBefore.size > 20, `${uidsBefore.size} objects`);
    });

    it("the MlflowPlatform version previews and goes up with no replace and no delete; every part is its child", async () => {
        for (const run of [await stack.preview(), await stack.up()]) {
            const changed = run.steps.filter((s) => s.op !== "same");
            // The one new resource is the component itself (a component has no state of its own to lose).
            assert.deepEqual(
                changed.map((s) => `${s.op} ${s.type} ${s.name} ${JSON.stringify(s.detailedDiff)}`),
                [`create ${PLATFORM_TYPE} ${PLATFORM_NAME} {}`],
            );
        }
        const after = await stack.up();
        assert.deepEqual(after.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), [], "a further up changes nothing");
        const children = after.steps.filter((s) => s.type !== PLATFORM_TYPE && s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:"));
        assert.ok(children.length > 40);
        for (const s of children) assert.ok(s.urn.includes(`::${PLATFORM_TYPE}$`), `${s.urn} is under the component`);
    });

    it("the API server has the same objects with the same uids: nothing was deleted or recreated", async () => {
        assert.deepEqual(await uids(), uidsBefore);
    });
});
