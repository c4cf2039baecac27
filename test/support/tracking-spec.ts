import { parseConfig } from "../../config";
import type { TrackingServerSpec } from "../../manifests/tracking-server";

/** A tracking-server spec as the component fills it for a default config (static keys, two pods). */
export const TRACKING_SPEC: TrackingServerSpec = {
    namespace: "mlflow",
    image: "img@sha256:abc",
    replicas: 2,
    workers: 3,
    resources: parseConfig({}, "test").trackingServer.resources,
    serviceAccountName: "mlflow",
    backendStoreSecretName: "mlflow-backend-store",
    artifactRoot: "s3://bucket/",
    aws: { keysSecretName: "keys", region: "eu-west-1" },
    extraAllowedHosts: [],
};
