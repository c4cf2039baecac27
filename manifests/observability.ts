/**
 * The tracking server's scrape target for the Prometheus Operator as plain data: a
 * monitoring.coreos.com/v1 ServiceMonitor on the `mlflow` Service's `http` port, path /metrics.
 */
import type { Input } from "@pulumi/pulumi";
import { meta, selectorLabels } from "./common";
import { COMPONENT, METRICS_PATH, TRACKING_SERVICE_NAME } from "./tracking-server";

export const SERVICE_MONITOR_API = "monitoring.coreos.com/v1";

export interface ServiceMonitorSpec {
    readonly namespace: string;
    /** Prometheus duration, e.g. 30s. */
    readonly interval: string;
    /**
     * Secret with `username` and `password` (the machine client's credentials) when the server has basic
     * auth: MLflow's auth app guards /metrics like every route but /health.
     */
    readonly basicAuthSecretName?: Input<string>;
}

/** A ServiceMonitor object (the provider's CustomResource takes apiVersion, kind, metadata and spec). */
export interface ServiceMonitorObject {
    readonly apiVersion: typeof SERVICE_MONITOR_API;
    readonly kind: "ServiceMonitor";
    readonly metadata: ReturnType<typeof meta>;
    readonly spec: {
        readonly selector: { readonly matchLabels: Record<string, string> };
        readonly namespaceSelector: { readonly matchNames: string[] };
        readonly endpoints: ReadonlyArray<Record<string, unknown>>;
    };
}

/** Scrapes every tracking-server pod behind the Service on its named http port. */
export function trackingServiceMonitor(spec: ServiceMonitorSpec): ServiceMonitorObject {
    const secretKey = (key: string) => ({ name: spec.basicAuthSecretName, key });
    return {
        apiVersion: SERVICE_MONITOR_API,
        kind: "ServiceMonitor",
        metadata: meta(TRACKING_SERVICE_NAME, spec.namespace, COMPONENT),
        spec: {
            selector: { matchLabels: selectorLabels(COMPONENT) },
            namespaceSelector: { matchNames: [spec.namespace] },
            endpoints: [
                {
                    port: "http",
                    path: METRICS_PATH,
                    interval: spec.interval,
                    scheme: "http",
                    ...(spec.basicAuthSecretName !== undefined ? { basicAuth: { username: secretKey("username"), password: secretKey("password") } } : {}),
                },
            ],
        },
    };
}
