import * as assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { awsEnv, containerSecurityContext } from "../../manifests/common";
import { postgresStatefulSet, postgresUri } from "../../manifests/postgres";
import { allowedHosts, serverArgs, trackingServerDeployment, trackingServerPdb, trackingUri } from "../../manifests/tracking-server";
import { launchCommand, trainingCronJob, trainingEnv } from "../../manifests/training";
import { validateKubernetesObject } from "../support/k8s-validate";
import { TRACKING_SPEC } from "../support/tracking-spec";
import type { KubernetesObject } from "../../lib/render";

const cfg = parseConfig({}, "test");
const trackingSpec = TRACKING_SPEC;

describe("manifests: tracking server", () => {
    it("tracking URI is the Service FQDN on 5000", () => {
        assert.equal(trackingUri("mlflow"), "http://mlflow.mlflow.svc.cluster.local:5000");
    });
    it("allowed hosts cover every in-cluster name with and without port, localhost, and extras once", () => {
        const hosts = allowedHosts("ns", ["mlflow.example.com", "localhost"]);
        for (const h of ["mlflow", "mlflow:5000", "mlflow.ns", "mlflow.ns.svc", "mlflow.ns.svc.cluster.local", "mlflow.ns.svc.cluster.local:5000", "localhost:*", "127.0.0.1:*", "mlflow.example.com"]) {
            assert.ok(hosts.includes(h), h);
        }
        assert.equal(hosts.filter((h) => h === "localhost").length, 1);
    });
    it("server args: 0.0.0.0:5000, direct S3 artifacts, no backend URI on the command line", () => {
        const args = serverArgs(trackingSpec) as string[];
        assert.deepEqual(args.slice(0, 5), ["server", "--host", "0.0.0.0", "--port", "5000"]);
        assert.equal(args[args.indexOf("--default-artifact-root") + 1], "s3://bucket/");
        assert.ok(args.includes("--no-serve-artifacts"));
        assert.equal(args[args.indexOf("--workers") + 1], "3");
        assert.ok(!args.includes("--backend-store-uri"));
        assert.ok(!args.includes("--app-name"));
    });
    it("auth adds the basic-auth app and its config path", () => {
        const args = serverArgs({ ...trackingSpec, auth: { secretName: "auth" } }) as string[];
        assert.equal(args[args.indexOf("--app-name") + 1], "basic-auth");
        const d = trackingServerDeployment({ ...trackingSpec, auth: { secretName: "auth" } });
        const env = (d.spec as any).template.spec.containers[0].env as { name: string }[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- test reads plain data
        assert.ok(env.some((e) => e.name === "MLFLOW_AUTH_CONFIG_PATH"));
        assert.ok(env.some((e) => e.name === "MLFLOW_FLASK_SERVER_SECRET_KEY"));
    });
    it("deployment: probes on /health with an accepted Host header, hardened, valid", () => {
        const d = trackingServerDeployment(trackingSpec) as unknown as KubernetesObject;
        validateKubernetesObject(d);
        const c = (d.spec as any).template.spec.containers[0]; // eslint-disable-line @typescript-eslint/no-explicit-any -- test reads plain data
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
            assert.equal(c[probe].httpGet.path, "/health");
            assert.deepEqual(c[probe].httpGet.httpHeaders, [{ name: "Host", value: "localhost:5000" }]);
        }
        assert.deepEqual(c.securityContext, containerSecurityContext());
        assert.equal(c.env.find((e: { name: string }) => e.name === "MLFLOW_BACKEND_STORE_URI").valueFrom.secretKeyRef.name, "mlflow-backend-store");
    });
    it("PDB keeps one pod with two replicas, allows a drain with one", () => {
        assert.deepEqual((trackingServerPdb("ns", 2).spec as { minAvailable?: number }).minAvailable, 1);
        assert.deepEqual((trackingServerPdb("ns", 1).spec as { maxUnavailable?: number }).maxUnavailable, 1);
    });
});

describe("manifests: postgres and training", () => {
    it("postgres URI encodes the password and carries sslmode when asked", () => {
        assert.equal(postgresUri({ username: "u", password: "p@ss/w", host: "h", database: "d" }), "postgresql://u:p%40ss%2Fw@h:5432/d");
        assert.match(postgresUri({ username: "u", password: "p", host: "h", database: "d", sslmode: "require" }), /\?sslmode=require$/);
    });
    it("statefulset: retained claim, pg_isready probes, password from a Secret, valid", () => {
        const s = postgresStatefulSet({ namespace: "mlflow", image: "postgres:16.10", storageSize: "20Gi", resources: cfg.database.inCluster.resources, database: "mlflow", username: "mlflow", passwordSecretName: "pw" });
        validateKubernetesObject(s as unknown as KubernetesObject);
        const spec = s.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test reads plain data
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
        assert.equal(spec.volumeClaimTemplates[0].spec.resources.requests.storage, "20Gi");
        assert.match(spec.template.spec.containers[0].readinessProbe.exec.command.join(" "), /pg_isready/);
        assert.equal(spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "POSTGRES_PASSWORD").valueFrom.secretKeyRef.name, "pw");
    });
    const trainingSpec = {
        namespace: "mlflow",
        image: "trainer:1",
        trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
        experiment: "california_housing_price",
        registeredModel: "CaliforniaHousingRegressor",
        datasetS3Path: "s3://b/datasets/x.csv",
        serviceAccountName: "mlflow-training",
        aws: {},
        resources: cfg.training.resources,
        activeDeadlineSeconds: 600,
        ttlSecondsAfterFinished: 60,
        backoffLimit: 1,
    };
    const profile = { name: "baseline", params: { max_depth: 7, learning_rate: 0.05, max_iter: 300, random_state: 1 } };
    it("trainer env carries the four hyperparameters, experiment and dataset", () => {
        const env = Object.fromEntries(trainingEnv(trainingSpec, profile).map((e) => [e.name, e.value]));
        assert.equal(env.MAX_DEPTH, "7");
        assert.equal(env.LEARNING_RATE, "0.05");
        assert.equal(env.MAX_ITER, "300");
        assert.equal(env.RANDOM_STATE, "1");
        assert.equal(env.MLFLOW_EXPERIMENT_NAME, "california_housing_price");
        assert.equal(env.DATASET_S3_PATH, "s3://b/datasets/x.csv");
        assert.ok(!("AWS_ACCESS_KEY_ID" in env), "no keys without a keys Secret");
    });
    it("cronjob is a suspended template unless scheduled, valid", () => {
        const cj = trainingCronJob(trainingSpec, profile);
        validateKubernetesObject(cj as unknown as KubernetesObject);
        assert.equal((cj.spec as { suspend: boolean }).suspend, true);
        assert.equal((trainingCronJob(trainingSpec, { ...profile, schedule: "@daily" }).spec as { suspend: boolean }).suspend, false);
        assert.equal(launchCommand("mlflow", "baseline").split(" ").slice(0, 5).join(" "), "kubectl create job --namespace mlflow");
    });
    it("static keys become secretKeyRef env vars, never values", () => {
        const env = awsEnv({ keysSecretName: "keys", region: "r" });
        const key = env.find((e) => e.name === "AWS_SECRET_ACCESS_KEY");
        assert.deepEqual(key, { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "keys", key: "AWS_SECRET_ACCESS_KEY" } } });
    });
});
