import * as assert from "node:assert/strict";
import { awaitServedModels, predictorReadiness, SOURCE_URI_ANNOTATION, type PredictorObservation, type ServedPredictor } from "../../lib/serving-readiness";

const V7 = "s3://mlflow-artifacts/1/models/m-7/artifacts/";
const V8 = "s3://mlflow-artifacts/1/models/m-8/artifacts/";
const want = { storageUri: V8, mode: "Standard" as const };

const isvc = (over: { ready?: string; failure?: string } = {}) => ({
    metadata: { name: "ch" },
    status: {
        conditions: [{ type: "Ready", status: over.ready ?? "True" }],
        ...(over.failure ? { modelStatus: { states: { targetModelState: "FailedToLoad" }, transitionStatus: "BlockedByFailedLoad", lastFailureInfo: { reason: "ModelLoadFailed", message: over.failure } } } : {}),
    },
});
const deployment = (uri: string, s: { replicas?: number; updated?: number; available?: number; total?: number; observed?: number } = {}) => ({
    metadata: { generation: 3 },
    spec: { replicas: s.replicas ?? 1, template: { metadata: { annotations: { [SOURCE_URI_ANNOTATION]: uri } } } },
    status: { observedGeneration: s.observed ?? 3, updatedReplicas: s.updated ?? 1, availableReplicas: s.available ?? 1, replicas: s.total ?? 1 },
});
const pod = (uri: string, init?: object, main?: object) => ({
    metadata: { name: `ch-predictor-${uri.length}`, annotations: { [SOURCE_URI_ANNOTATION]: uri } },
    status: { initContainerStatuses: init ? [{ name: "storage-initializer", ...init }] : [], containerStatuses: main ? [{ name: "kserve-container", ...main }] : [] },
});
const obs = (o: Partial<PredictorObservation>): PredictorObservation => ({ pods: [], ...o });

describe("serving readiness: when `pulumi up` calls a served model version loaded", () => {
    it("ready: the Deployment runs the new URI's template, rolled out and available, and KServe says Ready", () => {
        assert.deepEqual(predictorReadiness(obs({ isvc: isvc(), deployment: deployment(V8), pods: [pod(V8, { state: { terminated: { exitCode: 0 } } })] }), want), { state: "ready" });
    });

    it("pending while KServe has not rolled the predictor to the new URI, even though the old version is Ready", () => {
        const r = predictorReadiness(obs({ isvc: isvc(), deployment: deployment(V7) }), want);
        assert.equal(r.state, "pending");
        assert.match((r as { waitingFor: string }).waitingFor, /to roll the predictor to s3:\/\/.*m-8.* \(it runs s3:\/\/.*m-7/);
    });

    it("pending during the rollout: an old pod still counted, or the new one not yet available", () => {
        assert.equal(predictorReadiness(obs({ isvc: isvc(), deployment: deployment(V8, { total: 2 }) }), want).state, "pending");
        assert.equal(predictorReadiness(obs({ isvc: isvc(), deployment: deployment(V8, { available: 0 }) }), want).state, "pending");
        assert.equal(predictorReadiness(obs({ isvc: isvc(), deployment: deployment(V8, { observed: 2 }) }), want).state, "pending");
        assert.equal(predictorReadiness(obs({ isvc: isvc({ ready: "False" }), deployment: deployment(V8) }), want).state, "pending");
        assert.equal(predictorReadiness(obs({}), want).state, "pending");
    });

    it("failed at once when the new version's storage initializer fails, quoting KServe's failure", () => {
        const failing = pod(V8, { state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, message: "Failed to fetch model. No model found in 1/models/m-8/artifacts/." } } });
        const r = predictorReadiness(obs({ isvc: isvc({ failure: "No model found" }), deployment: deployment(V8, { available: 1, updated: 0, total: 2 }), pods: [failing, pod(V7, {}, {})] }), want);
        assert.equal(r.state, "failed");
        assert.match((r as { reason: string }).reason, /the storage initializer of pod ch-predictor-\d+ is in CrashLoopBackOff \(last exit 1: Failed to fetch model\. No model found in 1\/models\/m-8\/artifacts\/\.\); KServe: No model found/);
        const exited = predictorReadiness(obs({ isvc: isvc(), pods: [pod(V8, { state: { terminated: { exitCode: 1, message: "Access Denied" } } })] }), want);
        assert.match((exited as { reason: string }).reason, /the storage initializer of pod .* exited with 1: Access Denied/);
    });

    it("failed when the serving runtime crashes on the new version, or its image cannot be pulled", () => {
        const crash = predictorReadiness(obs({ isvc: isvc(), pods: [pod(V8, { state: { terminated: { exitCode: 0 } } }, { state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, message: "ModuleNotFoundError: sklearn" } } })] }), want);
        assert.match((crash as { reason: string }).reason, /the serving runtime of pod .* CrashLoopBackOff \(last exit 1: ModuleNotFoundError: sklearn\)/);
        const pull = predictorReadiness(obs({ isvc: isvc(), pods: [pod(V8, { state: { waiting: { reason: "ErrImagePull", message: "not found" } } })] }), want);
        assert.match((pull as { reason: string }).reason, /is in ErrImagePull \(not found\)/);
    });

    it("a failing pod of the old version does not fail the new one; KServe's stale FailedToLoad alone neither", () => {
        const oldFailing = pod(V7, { state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1 } } });
        assert.equal(predictorReadiness(obs({ isvc: isvc({ failure: "old" }), deployment: deployment(V8, { available: 0 }), pods: [oldFailing] }), want).state, "pending");
    });

    it("Knative: Ready with the latest revision ready; FailedToLoad fails", () => {
        const kn = { storageUri: V8, mode: "Knative" as const };
        const withRevs = (created: string, ready: string) => ({ ...isvc(), status: { ...isvc().status, components: { predictor: { latestCreatedRevision: created, latestReadyRevision: ready } } } });
        assert.deepEqual(predictorReadiness(obs({ isvc: withRevs("r2", "r2") }), kn), { state: "ready" });
        assert.equal(predictorReadiness(obs({ isvc: withRevs("r2", "r1") }), kn).state, "pending");
        assert.equal(predictorReadiness(obs({ isvc: isvc({ failure: "boom" }) }), kn).state, "failed");
    });

    const model: ServedPredictor = { name: "ch", namespace: "mlflow", storageUri: V8, mode: "Standard", label: 'served model "ch" (CaliforniaHousingRegressor alias "production" → version 8)' };

    it("the wait returns once ready, fails at the first failure naming model, URI, reason and the way back", async () => {
        let calls = 0;
        await awaitServedModels({} as never, [model], { timeoutMs: 5000, pollMs: 1, observe: async () => (++calls < 3 ? obs({ isvc: isvc(), deployment: deployment(V7) }) : obs({ isvc: isvc(), deployment: deployment(V8) })) });
        assert.equal(calls, 3);
        const failing = obs({ isvc: isvc(), pods: [pod(V8, { state: { terminated: { exitCode: 1, message: "No model found" } } })] });
        await assert.rejects(awaitServedModels({} as never, [model], { timeoutMs: 5000, pollMs: 1, observe: async () => failing }), (e: Error) => {
            for (const part of ['served model "ch"', 'alias "production" → version 8', V8, "exited with 1: No model found", "mlflow/ch", "move the alias back"]) assert.ok(e.message.includes(part), `${e.message}\nshould name ${part}`);
            return true;
        });
    });

    it("the wait times out naming what each model still waits for", async () => {
        await assert.rejects(
            awaitServedModels({} as never, [model], { timeoutMs: 20, pollMs: 5, observe: async () => obs({ isvc: isvc(), deployment: deployment(V7) }) }),
            /served models not loaded after 0 s \(serving\.readyTimeoutSeconds\): served model "ch" .*still waiting for KServe to roll the predictor/,
        );
    });
});
