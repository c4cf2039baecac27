import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../../config";
import { KubeconfigError, resolveKubeConnection } from "../../lib/kube-api";
import { clusterChecks, clusterKindsNeeded, kserveKindsNeeded, missingKindsMessage, missingKserveMessage, requireClusterApis } from "../../lib/cluster-apis";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-api-test-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, opts: { server?: string; user?: Record<string, unknown>; current?: string; contexts?: string[] } = {}): Record<string, unknown> {
    const contexts = opts.contexts ?? [name];
    return {
        apiVersion: "v1",
        kind: "Config",
        ...(opts.current === "" ? {} : { "current-context": opts.current ?? contexts[0] }),
        clusters: contexts.map((c) => ({ name: c, cluster: { server: opts.server ?? `https://${c}.example:6443`, "certificate-authority-data": Buffer.from("CA-" + c).toString("base64") } })),
        users: contexts.map((c) => ({ name: c, user: opts.user ?? { token: `token-${c}` } })),
        contexts: contexts.map((c) => ({ name: c, context: { cluster: c, user: c } })),
    };
}
function write(name: string, doc: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
    return file;
}

describe("kube-api: the kubeconfig the provider would use", () => {
    it("kubernetes:kubeconfig as a path, as JSON content and as YAML content", () => {
        const file = write("a.json", kubeconfig("a"));
        const byPath = resolveKubeConnection({ kubeconfig: file, env: {} });
        assert.deepEqual([byPath.server, byPath.label, byPath.authorization, byPath.ca?.toString()], ["https://a.example:6443", 'context "a"', "Bearer token-a", "CA-a"]);
        assert.equal(resolveKubeConnection({ kubeconfig: fs.readFileSync(file, "utf8"), env: {} }).server, "https://a.example:6443");
        const yaml = "apiVersion: v1\nkind: Config\ncurrent-context: y\nclusters:\n- name: y\n  cluster: {server: 'https://y:443'}\nusers:\n- name: y\n  user: {username: u, password: p}\ncontexts:\n- name: y\n  context: {cluster: y, user: y}\n";
        assert.equal(resolveKubeConnection({ kubeconfig: yaml, env: {} }).authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
    });
    it("KUBECONFIG lists files: the first current-context and the first entry of a name win; kubernetes:context picks another", () => {
        const one = write("one.json", kubeconfig("one", { contexts: ["one", "shared"] }));
        const two = write("two.json", kubeconfig("two", { contexts: ["two", "shared"], server: "https://second:6443" }));
        const env = { KUBECONFIG: [path.join(dir, "missing"), one, two].join(path.delimiter) };
        assert.equal(resolveKubeConnection({ env }).server, "https://one.example:6443");
        assert.equal(resolveKubeConnection({ env, context: "two" }).server, "https://second:6443");
        assert.equal(resolveKubeConnection({ env, context: "shared" }).server, "https://shared.example:6443");
        assert.equal(resolveKubeConnection({ env, context: "one", cluster: "two" }).server, "https://second:6443");
    });
    it("client certificates from files relative to the kubeconfig, and a token file", () => {
        write("client.crt", "CERT");
        write("client.key", "KEY");
        write("token", "file-token\n");
        const c = resolveKubeConnection({ kubeconfig: write("certs.json", kubeconfig("c", { user: { "client-certificate": "client.crt", "client-key": "client.key" } })), env: {} });
        assert.deepEqual([c.cert?.toString(), c.key?.toString(), c.authorization], ["CERT", "KEY", undefined]);
        assert.equal(resolveKubeConnection({ kubeconfig: write("tf.json", kubeconfig("t", { user: { tokenFile: "token" } })), env: {} }).authorization, "Bearer file-token");
    });
    it("runs an exec credential plugin with KUBERNETES_EXEC_INFO and its env, and takes its token", () => {
        const plugin = write("plugin.js", `const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO); process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: "ExecCredential", status: { token: process.env.PLUGIN_TOKEN + "-" + process.argv[2] } }));`);
        const exec = { apiVersion: "client.authentication.k8s.io/v1beta1", command: process.execPath, args: [plugin, "arg"], env: [{ name: "PLUGIN_TOKEN", value: "exec" }] };
        const c = resolveKubeConnection({ kubeconfig: write("exec.json", kubeconfig("e", { user: { exec } })), env: { PATH: process.env.PATH } });
        assert.equal(c.authorization, "Bearer exec-arg");
        const failing = { ...exec, args: ["-e", "process.stderr.write('token expired'); process.exit(3)"] };
        assert.throws(() => resolveKubeConnection({ kubeconfig: write("exec2.json", kubeconfig("f", { user: { exec: failing } })), env: {} }), (e: Error) => e instanceof KubeconfigError && /exec credential plugin of context "f" .* failed: token expired/.test(e.message));
    });
    it("names what is missing: no kubeconfig, no file, no current context, an unknown context", () => {
        const fails = (src: Parameters<typeof resolveKubeConnection>[0], re: RegExp) => assert.throws(() => resolveKubeConnection(src), (e: Error) => e instanceof KubeconfigError && re.test(e.message));
        fails({ env: { HOME: dir } }, /no kubeconfig: set kubernetes:kubeconfig, KUBECONFIG, or write ~\/\.kube\/config/);
        fails({ kubeconfig: path.join(dir, "nope.yaml"), env: {} }, /kubernetes:kubeconfig names .*nope\.yaml, which does not exist/);
        fails({ kubeconfig: write("nocur.json", kubeconfig("n", { current: "" })), env: {} }, /has no current-context; set kubernetes:context/);
        fails({ kubeconfig: write("ctx.json", kubeconfig("k")), context: "other", env: {} }, /context "other" is not in the kubeconfig/);
    });
});

describe("cluster-apis: the custom kinds a stack needs (KServe, the Prometheus Operator)", () => {
    const served = { artifactStore: { bucketName: "mlflow-artifacts-t" }, serving: { models: [{ name: "m", alias: "production" }] } };
    it("nothing for a stack serving no model; InferenceService and ClusterStorageContainer, plus ClusterServingRuntime for the project's runtime", () => {
        assert.deepEqual(kserveKindsNeeded(parseConfig({}, "t")), []);
        assert.deepEqual(kserveKindsNeeded(parseConfig(served, "t")).map((k) => k.kind), ["InferenceService", "ClusterStorageContainer", "ClusterServingRuntime"]);
        assert.deepEqual(kserveKindsNeeded(parseConfig({ ...served, serving: { ...served.serving, runtime: "kserve-mlserver" } }, "t")).map((k) => k.kind), ["InferenceService", "ClusterStorageContainer"]);
    });
    it("the message names the cluster, the missing kinds, how to install KServe, and that nothing changed", () => {
        const m = missingKserveMessage(kserveKindsNeeded(parseConfig(served, "t")), { server: "https://c:6443", label: 'context "c"' });
        for (const part of ["https://c:6443", 'context "c"', "InferenceService (serving.kserve.io/v1beta1, for serving.models)", "ClusterServingRuntime", "kubectl apply --server-side -f", "v0.20.0", "serving.models to []", "Nothing was changed"])
            assert.ok(m.includes(part), `${m}\nshould include ${part}`);
    });
    it("a stack serving models with no kubeconfig to check with fails, naming why", async () => {
        assert.equal(clusterChecks.enabled, true);
        await assert.rejects(requireClusterApis(parseConfig(served, "t"), () => ({ env: { HOME: dir } })), /^Error: cannot check that KServe is installed \(serving\.models is set\): no kubeconfig/);
        await requireClusterApis(parseConfig({}, "t"), () => assert.fail("a stack serving nothing reads no kubeconfig"));
    });
    it("a ServiceMonitor asks for the Prometheus Operator; both missing make one message per product, KServe first", async () => {
        const monitored = { observability: { serviceMonitor: true } };
        assert.deepEqual(clusterKindsNeeded(parseConfig(monitored, "t")).map((k) => `${k.group}/${k.version} ${k.kind}`), ["monitoring.coreos.com/v1 ServiceMonitor"]);
        const both = clusterKindsNeeded(parseConfig({ ...served, ...monitored }, "t"));
        assert.deepEqual(both.map((k) => k.kind), ["InferenceService", "ClusterStorageContainer", "ClusterServingRuntime", "ServiceMonitor"]);
        const m = missingKindsMessage(both, { server: "https://c:6443", label: 'context "c"' });
        assert.match(m, /^KServe is not installed on the cluster https:\/\/c:6443 .* Nothing was changed\. The Prometheus Operator is not installed on the cluster https:\/\/c:6443 \(context "c"\): the API server does not serve ServiceMonitor \(monitoring\.coreos\.com\/v1, for observability\.serviceMonitor\)\. .*or set observability\.serviceMonitor to false .*Nothing was changed\.$/);
        const gateway = { access: { mode: "gateway", auth: "basic", gateway: { host: "m.example.com", name: "g", namespace: "gw" } } };
        const routed = clusterKindsNeeded(parseConfig(gateway, "t"));
        assert.deepEqual(routed.map((k) => `${k.group}/${k.version} ${k.kind}`), ["gateway.networking.k8s.io/v1 HTTPRoute"]);
        assert.match(missingKindsMessage(routed, { server: "https://c:6443", label: 'context "c"' }), /^The Gateway API is not installed on the cluster https:\/\/c:6443 .*HTTPRoute \(gateway\.networking\.k8s\.io\/v1, for access\.mode\)\. .*or set access\.mode to "ingress"\. Nothing was changed\.$/);
        await assert.rejects(
            requireClusterApis(parseConfig({ ...served, ...monitored }, "t"), () => ({ env: { HOME: dir } })),
            /^Error: cannot check that KServe and the Prometheus Operator are installed \(serving\.models and observability\.serviceMonitor are set\): no kubeconfig/,
        );
    });
});
