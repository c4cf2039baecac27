import * as assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { trackingNetworkPolicy } from "../../manifests/access";
import { trackingServiceMonitor } from "../../manifests/observability";
import {
    METRICS_DIR,
    POD_IP_ENV,
    serverArgs,
    trackingServerDeployment,
    trackingServerHpa,
    trackingServerPdb,
    trackingServerService,
} from "../../manifests/tracking-server";
import type { KubernetesObject } from "../../lib/render";
import { errorsOf } from "../support/config-errors";
import { validateKubernetesObject } from "../support/k8s-validate";
import { TRACKING_SPEC } from "../support/tracking-spec";
import { findObject, render } from "../support/render";

const cfg = parseConfig({}, "test");
const spec = { ...TRACKING_SPEC, workers: 2 };

interface PodSpecView {
    containers: { args: string[]; env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]; volumeMounts: { name: string; mountPath: string }[] }[];
    volumes: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
}
const podOf = (d: unknown) => (d as { spec: { template: { spec: PodSpecView } } }).spec.template.spec;
const flag = (args: readonly string[], name: string) => args[args.indexOf(name) + 1];

describe("manifests: tracking-server metrics", () => {
    it("config: metrics on by default, no ServiceMonitor, no autoscaler", () => {
        assert.deepEqual(cfg.observability, { metrics: true, serviceMonitor: false, scrapeInterval: "30s", prometheusNamespace: "monitoring" });
        assert.deepEqual(cfg.trackingServer.autoscaling, { enabled: false, minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70 });
    });

    it("on: --expose-prometheus into a memory emptyDir mounted there, and the pod's own IP:5000 an allowed host", () => {
        const d = trackingServerDeployment({ ...spec, metrics: true });
        const pod = podOf(d);
        const c = pod.containers[0];
        assert.equal(flag(c.args, "--expose-prometheus"), METRICS_DIR);
        const hosts = flag(c.args, "--allowed-hosts").split(",");
        assert.ok(hosts.includes(`$(${POD_IP_ENV}):5000`), hosts.join(","));
        // Only the pod's own address: no IP wildcard that would reopen DNS rebinding.
        assert.ok(!hosts.some((h) => /^(10|172|192)\.|\*\.\*|^\*$/.test(h)), hosts.join(","));
        assert.deepEqual(c.env.find((e) => e.name === POD_IP_ENV)?.valueFrom, { fieldRef: { fieldPath: "status.podIP" } });
        const mount = c.volumeMounts.find((m) => m.mountPath === METRICS_DIR);
        assert.ok(mount, "the metrics directory is a mounted volume (the root filesystem is read-only)");
        assert.deepEqual(pod.volumes.find((v) => v.name === mount.name)?.emptyDir, { medium: "Memory", sizeLimit: "64Mi" });
        validateKubernetesObject(d as unknown as KubernetesObject);
    });

    it("off: none of it", () => {
        const c = podOf(trackingServerDeployment({ ...spec, metrics: false })).containers[0];
        assert.ok(!c.args.includes("--expose-prometheus"));
        assert.ok(!flag(c.args, "--allowed-hosts").includes(POD_IP_ENV));
        assert.ok(!c.env.some((e) => e.name === POD_IP_ENV));
        assert.ok(!c.volumeMounts.some((m) => m.mountPath === METRICS_DIR));
        assert.deepEqual(serverArgs({ ...spec }), serverArgs({ ...spec, metrics: false }), "metrics default off in the builder: the component decides");
    });

    it("the Service port the ServiceMonitor names exists and carries the labels it selects", () => {
        const svc = trackingServerService("mlflow") as unknown as KubernetesObject & { spec: { ports: { name: string; port: number }[] } };
        const sm = trackingServiceMonitor({ namespace: "mlflow", interval: "30s" });
        assert.deepEqual(svc.spec.ports.map((p) => p.name), [sm.spec.endpoints[0].port]);
        for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal((svc.metadata.labels as Record<string, string>)[k], v, k);
        assert.deepEqual(sm.spec.namespaceSelector, { matchNames: ["mlflow"] });
        assert.deepEqual(sm.spec.endpoints[0], { port: "http", path: "/metrics", interval: "30s", scheme: "http" });
    });

    it("with basic auth the ServiceMonitor authenticates with the machine client's Secret", () => {
        const sm = trackingServiceMonitor({ namespace: "mlflow", interval: "1m", basicAuthSecretName: "mlflow-tracking-credentials" });
        assert.deepEqual(sm.spec.endpoints[0].basicAuth, {
            username: { name: "mlflow-tracking-credentials", key: "username" },
            password: { name: "mlflow-tracking-credentials", key: "password" },
        });
    });

    it("the tracking NetworkPolicy admits the Prometheus namespace only when asked", () => {
        type From = { from: { namespaceSelector?: { matchLabels: Record<string, string> } }[] }[];
        const namespaces = (np: unknown) =>
            ((np as { spec: { ingress: From } }).spec.ingress[0].from)
                .map((f) => f.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"])
                .filter((n) => n !== undefined);
        assert.deepEqual(namespaces(trackingNetworkPolicy("mlflow", "ingress-nginx")), ["ingress-nginx"]);
        const np = trackingNetworkPolicy("mlflow", "ingress-nginx", ["monitoring"]);
        assert.deepEqual(namespaces(np), ["ingress-nginx", "monitoring"]);
        validateKubernetesObject(np as unknown as KubernetesObject);
    });

    it("config: a ServiceMonitor needs metrics; a bad interval names the key", () => {
        assert.deepEqual(errorsOf({ observability: { metrics: false, serviceMonitor: true } }), [
            "mlflow-platform:observability.serviceMonitor needs observability.metrics: the ServiceMonitor scrapes the tracking server's /metrics (got serviceMonitor true with metrics false)",
        ]);
        assert.match(errorsOf({ observability: { scrapeInterval: "30" } })[0], /^mlflow-platform:observability\.scrapeInterval must be a duration in seconds or minutes such as 30s or 1m \(got "30"\)$/);
    });
});

describe("manifests: tracking-server autoscaling", () => {
    const bounds = { minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70 };

    it("an autoscaling/v2 HPA on the Deployment, CPU utilization of the request, a five-minute scale-down window", () => {
        const hpa = trackingServerHpa("mlflow", bounds);
        validateKubernetesObject(hpa as unknown as KubernetesObject);
        assert.deepEqual(hpa.spec, {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "mlflow" },
            minReplicas: 2,
            maxReplicas: 6,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
            behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        });
        // Utilization is of the request: the pods must request CPU.
        assert.ok(cfg.trackingServer.resources.requests.cpu);
    });

    it("with the autoscaler the Deployment starts at minReplicas and ignores its replicas afterwards (the render records it)", async () => {
        const on = await render("dev", ["trackingServer.autoscaling.enabled=true", "trackingServer.autoscaling.minReplicas=3"]);
        const off = await render("dev");
        const dep = (r: typeof on) => r.resources.find((x) => x.type === "kubernetes:apps/v1:Deployment" && x.name === "tracking-server");
        assert.deepEqual(dep(on)?.options, { ignoreChanges: ["spec.replicas"] });
        assert.equal((findObject(on, "Deployment", "mlflow").spec as { replicas: number }).replicas, 3);
        assert.equal(dep(off)?.options, undefined, "without the autoscaler the program owns the count");
        assert.equal((findObject(off, "Deployment", "mlflow").spec as { replicas: number }).replicas, 2);
        // ...and takes it back from the autoscaler's field manager once the autoscaler is switched off.
        for (const r of [on, off]) assert.equal((findObject(r, "Deployment", "mlflow").metadata.annotations as Record<string, string> | undefined)?.["pulumi.com/patchForce"], "true");
    });

    it("the PodDisruptionBudget follows the autoscaler's floor", () => {
        const pdbSpec = (n: number) => trackingServerPdb("mlflow", n).spec as { minAvailable?: number; maxUnavailable?: number };
        assert.deepEqual(pdbSpec(bounds.minReplicas), { minAvailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "tracking-server", "app.kubernetes.io/component": "tracking-server" } } });
        assert.equal(pdbSpec(1).maxUnavailable, 1);
    });

    it("config: min above max, and a write freeze with the autoscaler on, are refused naming the keys", () => {
        assert.deepEqual(errorsOf({ trackingServer: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 3 } } }), [
            "mlflow-platform:trackingServer.autoscaling.minReplicas must not exceed trackingServer.autoscaling.maxReplicas (3) (got 5)",
        ]);
        assert.match(errorsOf({ trackingServer: { replicas: 0, autoscaling: { enabled: true } } })[0], /^mlflow-platform:trackingServer\.replicas 0 freezes writes, which the autoscaler would undo/);
        assert.doesNotThrow(() => parseConfig({ trackingServer: { replicas: 0 } }, "test"), "a freeze without the autoscaler stays valid");
    });
});
