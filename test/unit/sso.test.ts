import * as assert from "node:assert/strict";
import * as bcrypt from "bcryptjs";
import { diffRenders } from "../../lib/diff";
import { htpasswdLine, oauth2ProxyArgs, SSO_PORT } from "../../manifests/sso";
import { errorsOf } from "../support/config-errors";
import { validateKubernetesObject } from "../support/k8s-validate";
import { policyOn } from "../support/policy";
import { findObject, render } from "../support/render";

const INGRESS = ["access.mode=ingress", "access.ingress.host=mlflow.example.com", "access.ingress.clusterIssuer=letsencrypt-prod"];
const BASIC = [...INGRESS, "access.auth=basic"];
const OIDC = [
    ...INGRESS,
    "access.auth=oidc",
    "access.oidc.issuerUrl=https://login.example.com/realms/ml",
    "access.oidc.clientId=mlflow",
    "access.oidc.clientSecret=client-secret-value",
    'access.oidc.allowedEmailDomains=["example.com"]',
];
const ARGS = {
    issuerUrl: "https://login.example.com/",
    clientId: "mlflow",
    host: "mlflow.example.com",
    allowedEmailDomains: [] as string[],
    allowedEmails: [] as string[],
    allowedGroups: [] as string[],
    groupsClaim: "groups",
    scope: "openid email profile",
    upstreamPort: 5000,
};
type Spec = Record<string, unknown>;
const podSpec = (o: object) => ((o as { spec: { template: { spec: Spec } } }).spec.template.spec);

describe("single sign-on (access.auth oidc)", function () {
    this.timeout(120_000);

    it("config: the provider, the client, its secret and an allow-list are required, each by name", () => {
        assert.deepEqual(errorsOf({ access: { mode: "ingress", auth: "oidc", ingress: { host: "mlflow.example.com", clusterIssuer: "x" } } }), [
            'mlflow-platform:access.oidc.issuerUrl is required when access.auth is "oidc": the provider\'s issuer URL, such as https://login.example.com/realms/ml (got undefined)',
            'mlflow-platform:access.oidc.clientId is required when access.auth is "oidc": the client registered at the provider, with redirect URI https://<host>/oauth2/callback (got undefined)',
            'mlflow-platform:access.oidc.clientSecret is required when access.auth is "oidc": the secret the provider issued for access.oidc.clientId, set with pulumi config set --secret --path access.oidc.clientSecret (got undefined)',
            'mlflow-platform:access.oidc.allowedEmailDomains or access.oidc.allowedEmails or access.oidc.allowedGroups is required when access.auth is "oidc": without one, every account of the provider could sign in (got none)',
        ]);
    });

    it("config: bad values are refused by name, and oidc keys without auth oidc", () => {
        const base = { mode: "ingress", auth: "oidc", ingress: { host: "mlflow.example.com", clusterIssuer: "x" }, oidc: { clientId: "c", allowedEmails: ["a@example.com"] } };
        const withOidc = (o: Spec) => errorsOf({ access: { ...base, oidc: { ...base.oidc, ...o } } }).join("\n");
        assert.match(withOidc({ issuerUrl: "http://login.example.com/" }), /access\.oidc\.issuerUrl .*https URL .*http only for localhost or 127\.0\.0\.1/);
        assert.doesNotMatch(withOidc({ issuerUrl: "http://localhost:9998/" }), /issuerUrl/);
        assert.match(withOidc({ allowedEmails: ["not-an-email"] }), /access\.oidc\.allowedEmails\[0\]/);
        assert.match(withOidc({ allowedEmailDomains: ["Example"] }), /access\.oidc\.allowedEmailDomains\[0\]/);
        assert.match(withOidc({ scope: "email profile" }), /access\.oidc\.scope .*starting with openid/);
        assert.match(errorsOf({ access: { mode: "clusterLocal", auth: "oidc" } })[0], /^mlflow-platform:access\.auth "oidc" is set up together with access\.mode "ingress" or "gateway"/);
        assert.deepEqual(errorsOf({ access: { oidc: { issuerUrl: "https://login.example.com/", allowedGroups: ["ml"] } } }), [
            'mlflow-platform:access.oidc.issuerUrl only applies when access.auth is "oidc": unset it (got "https://login.example.com/" with access.auth "none")',
            'mlflow-platform:access.oidc.allowedGroups only applies when access.auth is "oidc": unset it (got 1 entries with access.auth "none")',
        ]);
    });

    it("who may sign in: domains and emails, groups (the machine user gets the first group), or groups alone", () => {
        const flags = (a: string[], prefix: string) => a.filter((x) => x.startsWith(prefix));
        const domains = oauth2ProxyArgs({ ...ARGS, allowedEmailDomains: ["example.com"], allowedEmails: ["bob@partner.org"] });
        assert.deepEqual(flags(domains, "--email-domain="), ["--email-domain=example.com"]);
        assert.deepEqual(flags(domains, "--authenticated-emails-file="), ["--authenticated-emails-file=/etc/oauth2-proxy-emails/authenticated-emails"]);
        const emailsOnly = oauth2ProxyArgs({ ...ARGS, allowedEmails: ["bob@partner.org"] });
        assert.deepEqual(flags(emailsOnly, "--email-domain="), [], "listed emails only: no domain admits anyone else");
        const groups = oauth2ProxyArgs({ ...ARGS, allowedGroups: ["ml-platform", "data-science"], groupsClaim: "roles" });
        assert.deepEqual(flags(groups, "--email-domain="), ["--email-domain=*"], "groups alone: the group decides");
        assert.deepEqual(flags(groups, "--allowed-group="), ["--allowed-group=ml-platform", "--allowed-group=data-science"]);
        assert.deepEqual(flags(groups, "--htpasswd-user-group="), ["--htpasswd-user-group=ml-platform"]);
        assert.ok(groups.includes("--oidc-groups-claim=roles"));
        for (const a of [domains, groups]) {
            assert.ok(a.includes("--pass-host-header=false") && a.includes("--skip-auth-route=GET=^/health$") && a.includes("--api-route=^/api/"));
            assert.ok(!a.some((x) => /secret=|password/i.test(x)), "no secret value in argv");
        }
    });

    it("the machine user's htpasswd line is bcrypt, verifies, and is the same for the same password", () => {
        const line = htpasswdLine("machine", "a-machine-password-0123456789");
        assert.match(line, /^machine:\$2b\$04\$[./A-Za-z0-9]{53}\n$/);
        assert.ok(bcrypt.compareSync("a-machine-password-0123456789", line.trim().split(":")[1]));
        assert.ok(!bcrypt.compareSync("another-password-0123456789", line.trim().split(":")[1]));
        assert.equal(htpasswdLine("machine", "a-machine-password-0123456789"), line, "no diff while the password is unchanged");
        assert.notEqual(htpasswdLine("machine", "another-password-0123456789"), line);
        assert.throws(() => htpasswdLine("a:b", "x".repeat(24)), /must not contain ':'/);
    });

    it("renders in the dev stack: the sidecar in front, MLflow on loopback without its auth app, the fence on the proxy's port", async () => {
        const r = await render("dev", OIDC);
        const pod = podSpec(findObject(r, "Deployment", "mlflow"));
        const [mlflow, proxy] = pod.containers as { name: string; args: string[]; image: string; ports?: unknown[] }[];
        assert.deepEqual([mlflow.name, proxy.name], ["mlflow", "oauth2-proxy"]);
        assert.equal(mlflow.args[mlflow.args.indexOf("--host") + 1], "127.0.0.1");
        assert.ok(!mlflow.args.includes("--app-name"), "no basic-auth app behind the proxy");
        assert.equal(mlflow.ports, undefined, "the http port is the proxy's");
        assert.match(proxy.image, /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/mlflow-platform\/dev\/oauth2-proxy@sha256:[0-9a-f]{64}$/, "the sidecar runs the image the stack builds, pinned by digest");
        assert.equal(proxy.image, r.outputs.ssoProxyImage);
        assert.ok(proxy.args.includes("--oidc-issuer-url=https://login.example.com/realms/ml") && proxy.args.includes("--redirect-url=https://mlflow.example.com/oauth2/callback"));
        for (const kind of ["Secret", "Job"]) assert.ok(!r.kubernetes.some((o) => o.kind === kind && /^mlflow-auth/.test(o.metadata.name ?? "")), `no basic-auth ${kind}`);
        const fence = findObject(r, "NetworkPolicy", "mlflow-ingress") as unknown as { spec: { ingress: { ports: { port: number }[] }[] } };
        assert.deepEqual(fence.spec.ingress[0].ports, [{ protocol: "TCP", port: SSO_PORT }]);
        const sso = findObject(r, "Secret", "mlflow-sso") as unknown as { stringData: Record<string, string> };
        assert.deepEqual(Object.keys(sso.stringData).sort(), ["client-secret", "cookie-secret", "htpasswd"]);
        for (const v of Object.values(sso.stringData)) assert.equal(v, "[secret]");
        assert.ok(!JSON.stringify(r.kubernetes).includes("client-secret-value"), "the client secret is in no manifest");
        assert.equal(r.outputs.machineUsername, "machine");
        assert.equal(r.outputs.machinePassword, "[secret]");
        assert.equal(r.outputs.adminPassword, undefined);
        for (const o of r.kubernetes) validateKubernetesObject(o);
        const built = r.resources.filter((x) => x.type === "docker-build:index:Image").map((x) => x.name).sort();
        assert.deepEqual(built, ["mlflow-image", "oauth2-proxy-image", "trainer-image"]);
        const repo = r.resources.find((x) => x.type === "aws:ecr/repository:Repository" && x.name === "oauth2-proxy-image");
        assert.equal(repo?.inputs.name, "mlflow-platform/dev/oauth2-proxy");
    });

    it("the oidc render passes the policy pack in dev and in prod, where every image must be pinned by digest", async () => {
        const PROD_OIDC = [...OIDC.filter((s) => !s.startsWith("access.ingress.")), "serving.registry.username=machine"];
        for (const [stack, sets] of [["dev", OIDC], ["prod", PROD_OIDC]] as const) {
            const { code, lines } = await policyOn(stack, { sets });
            assert.equal(code, 0, `${stack}: ${lines.join("\n")}`);
        }
    });

    it("image.build false: access.oidc.proxyImage is required by name, and is then what the sidecar runs", async () => {
        const named = { image: { build: false, ref: "r/mlflow:1", mlflowVersion: "3.17.2" }, training: { image: "r/trainer:1" } };
        const access = { mode: "ingress", auth: "oidc", ingress: { host: "mlflow.example.com", clusterIssuer: "x" }, oidc: { issuerUrl: "https://login.example.com/", clientId: "c", clientSecret: "s", allowedEmails: ["a@example.com"] } };
        assert.deepEqual(errorsOf({ ...named, access }), [
            'mlflow-platform:access.oidc.proxyImage is required when image.build is false and access.auth is "oidc" (the sign-in sidecar runs it): an oauth2-proxy image the cluster can pull, such as registry.example.com/oauth2-proxy@sha256:... (got undefined)',
        ]);
        const image = "registry.example.com/oauth2-proxy@sha256:" + "b".repeat(64);
        const r = await render("dev", [...OIDC, `access.oidc.proxyImage=${image}`]);
        assert.equal(r.resources.some((x) => x.name === "oauth2-proxy-image"), false, "a named image is not built");
        const [, proxy] = podSpec(findObject(r, "Deployment", "mlflow")).containers as { image: string }[];
        assert.equal(proxy.image, image);
    });

    it("basic → oidc in npm run diff: the sign-in objects come, the basic-auth ones go, the route and the Service stay", async () => {
        const d = diffRenders((await render("dev", BASIC)).resources, (await render("dev", OIDC)).resources);
        const names = (xs: { type: string; name: string }[]) => xs.map((x) => `${x.type} ${x.name}`).filter((x) => !x.startsWith("random:")).sort();
        assert.deepEqual(names(d.added), [
            // The sidecar's image, built and pushed like the others.
            "aws:ecr/lifecyclePolicy:LifecyclePolicy oauth2-proxy-image",
            "aws:ecr/repository:Repository oauth2-proxy-image",
            "docker-build:index:Image oauth2-proxy-image",
            "kubernetes:core/v1:ConfigMap access-sso",
            "kubernetes:core/v1:Secret access-sso",
            "mlflow-platform:image:ProjectImage oauth2-proxy-image",
        ]);
        assert.deepEqual(names(d.removed), ["kubernetes:batch/v1:Job access-auth-db", "kubernetes:core/v1:Secret access-auth"]);
        const changed = names(d.changed);
        assert.ok(changed.includes("kubernetes:apps/v1:Deployment tracking-server") && changed.includes("kubernetes:networking.k8s.io/v1:NetworkPolicy access-tracking"), changed.join("\n"));
        for (const kept of ["kubernetes:networking.k8s.io/v1:Ingress access", "kubernetes:core/v1:Service tracking-server"]) assert.ok(!changed.includes(kept), `${kept} changed`);
    });
});
