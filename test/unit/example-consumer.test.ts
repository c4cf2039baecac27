/**
 * examples/consumer: a team's own program that composes the platform next to its cluster, under Pulumi's mocks.
 * The platform is one component under the team's stack, every part its child, and every Kubernetes object goes
 * through the team's provider (none through a default provider).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { renderStack, type RenderResult } from "../../lib/render";
import { ROOT } from "../support/render";
import consumer = require("../../examples/consumer");

const PLATFORM = "mlflow-platform:index:MlflowPlatform::mlflow";

describe("examples/consumer: the platform composed in a team's own program (Pulumi mocks)", () => {
    let r: RenderResult;
    before(async () => {
        r = await renderStack({ root: path.join(ROOT, "examples", "consumer"), stack: "example", program: consumer });
    });

    it("one MlflowPlatform under the team's stack; every other resource descends from it (one tree)", () => {
        const byId = new Map(r.resources.map((x) => [`${x.type}::${x.name}`, x]));
        assert.ok(byId.has(PLATFORM), "the component is registered");
        assert.equal(byId.get(PLATFORM)!.parent, undefined, "the component is a child of the stack");
        const outside: string[] = [];
        for (const x of r.resources) {
            if (x.type.startsWith("pulumi:providers:") || `${x.type}::${x.name}` === PLATFORM) continue;
            let p = x.parent;
            while (p !== undefined && p !== PLATFORM) p = byId.get(p)?.parent;
            if (p !== PLATFORM) outside.push(`${x.type}::${x.name}`);
        }
        assert.deepEqual(outside, []);
        assert.ok(r.resources.length > 30, `${r.resources.length} resources`);
    });

    it("every Kubernetes object goes through the team's provider", () => {
        const kube = r.resources.filter((x) => x.type.startsWith("kubernetes:"));
        assert.ok(kube.length > 20);
        assert.deepEqual(kube.filter((x) => x.provider !== "pulumi:providers:kubernetes::team-cluster").map((x) => `${x.type}::${x.name} ${x.provider ?? "(default)"}`), []);
    });

    it("the team's settings reach the objects, and its outputs are the component's", () => {
        const deploy = r.kubernetes.find((o) => o.kind === "Deployment" && o.metadata.name === "mlflow") as unknown as { metadata: { namespace?: string }; spec: { template: { spec: { containers: { image: string }[] } } } };
        assert.equal(deploy.metadata.namespace, "mlflow-forecasting");
        assert.equal(deploy.spec.template.spec.containers[0].image, "registry.example.com/mlflow-platform/mlflow:3.17.2");
        assert.deepEqual(r.outputs, { trackingUri: "http://mlflow.mlflow-forecasting.svc.cluster.local:5000", artifactRoot: "s3://mlflow-artifacts" });
    });
});
