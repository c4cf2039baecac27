import * as assert from "node:assert/strict";
import { diffRenders } from "../../lib/diff";
import { trackingHttpRoute } from "../../manifests/access";
import { errorsOf } from "../support/config-errors";
import { findObject, render } from "../support/render";

const GATEWAY = [
    "access.mode=gateway",
    "access.auth=basic",
    "access.gateway.host=mlflow.example.com",
    "access.gateway.name=public",
    "access.gateway.namespace=gateways",
    "access.gateway.sectionName=https",
    "access.gateway.proxyNamespace=envoy-gateway-system",
];
const INGRESS = ["access.mode=ingress", "access.auth=basic", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=letsencrypt-prod"];

type Spec = Record<string, unknown>;
const specOf = (o: object) => (o as { spec: Spec }).spec;

describe("access: Gateway API (access.mode gateway)", function () {
    this.timeout(120_000);

    it("the HTTPRoute: every path of the host to the mlflow Service on 5000, attached to the named Gateway's listener", () => {
        const route = trackingHttpRoute({ namespace: "mlflow", host: "mlflow.example.com", gatewayName: "public", gatewayNamespace: "gateways", sectionName: "https" });
        assert.equal(route.apiVersion, "gateway.networking.k8s.io/v1");
        assert.deepEqual(route.spec, {
            parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "public", namespace: "gateways", sectionName: "https" }],
            hostnames: ["mlflow.example.com"],
            rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ group: "", kind: "Service", name: "mlflow", port: 5000, weight: 1 }] }],
        });
        const any = trackingHttpRoute({ namespace: "mlflow", host: "h.example.com", gatewayName: "g", gatewayNamespace: "n" });
        assert.ok(!("sectionName" in any.spec.parentRefs[0]), "no listener named: every listener that accepts the host");
    });

    it("config: the host, the Gateway's name and namespace and basic auth are required, each naming its key", () => {
        assert.deepEqual(errorsOf({ access: { mode: "gateway" } }), [
            'mlflow-platform:access.gateway.host is required when access.mode is "gateway": a DNS name such as mlflow.example.com (got undefined)',
            'mlflow-platform:access.gateway.name is required when access.mode is "gateway": the name of the Gateway the route attaches to (got undefined)',
            'mlflow-platform:access.gateway.namespace is required when access.mode is "gateway": the namespace of the Gateway the route attaches to (got undefined)',
            'mlflow-platform:access.auth must be "basic" or "oidc" when access.mode is "gateway": the UI and API would be open to everyone who reaches the host (got "none")',
        ]);
        assert.match(errorsOf({ access: { mode: "clusterLocal", auth: "basic" } })[0], /^mlflow-platform:access\.auth "basic" is set up together with access\.mode "ingress" or "gateway"/);
    });

    it("renders in the dev stack: an HTTPRoute and no Ingress, with the same auth, allowed hosts and fences as an Ingress", async () => {
        const gw = await render("dev", GATEWAY);
        const ing = await render("dev", INGRESS);
        assert.ok(!gw.kubernetes.some((o) => o.kind === "Ingress"), "no Ingress in gateway mode");
        const route = findObject(gw, "HTTPRoute", "mlflow");
        assert.deepEqual((specOf(route).parentRefs as Spec[])[0], { group: "gateway.networking.k8s.io", kind: "Gateway", name: "public", namespace: "gateways", sectionName: "https" });
        // The tracking server is the same as behind the Ingress: basic auth, the host allowed, CORS for its origin.
        const args = (d: typeof gw) => (((specOf(findObject(d, "Deployment", "mlflow")).template as Spec).spec as Spec).containers as { args: string[] }[])[0].args;
        assert.deepEqual(args(gw), args(ing));
        assert.ok(args(gw).join(" ").includes("mlflow.example.com"));
        assert.equal(gw.outputs.externalUrl, "https://mlflow.example.com");
        // Fences: PostgreSQL as with the Ingress; the tracking server admits the Gateway's proxies, not ingress-nginx.
        const from = (d: typeof gw) =>
            ((specOf(findObject(d, "NetworkPolicy", "mlflow-ingress")).ingress as { from: { namespaceSelector?: { matchLabels: Record<string, string> } }[] }[])[0].from)
                .map((f) => f.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"])
                .filter(Boolean);
        assert.deepEqual(from(gw), ["envoy-gateway-system"]);
        assert.deepEqual(from(ing), ["ingress-nginx"]);
        assert.deepEqual(specOf(findObject(gw, "NetworkPolicy", "postgres-ingress")), specOf(findObject(ing, "NetworkPolicy", "postgres-ingress")));
        assert.ok(findObject(gw, "Secret", "mlflow-tracking-credentials"));
    });

    it("moving from the Ingress to the Gateway replaces only the route object: the auth database, credentials and server stay", async () => {
        const d = diffRenders((await render("dev", INGRESS)).resources, (await render("dev", GATEWAY)).resources);
        assert.deepEqual(d.added.map((a) => `${a.type} ${a.name}`), ["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute access"]);
        assert.deepEqual(d.removed.map((a) => `${a.type} ${a.name}`), ["kubernetes:networking.k8s.io/v1:Ingress access"]);
        assert.deepEqual(d.changed.map((c) => `${c.type} ${c.name}`), ["kubernetes:networking.k8s.io/v1:NetworkPolicy access-tracking"]);
    });
});
