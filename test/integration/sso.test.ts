/**
 * Single sign-on (access.auth oidc) on real programs: an OpenID provider with static users (zitadel/oidc's
 * example server), oauth2-proxy and the MLflow tracking server, the last two started from the RENDERED
 * tracking-server Deployment of the dev stack switched to ingress + oidc. Both binaries are built from the
 * Go module proxy (toolchain/binaries.tsv, the same oauth2-proxy release as the sidecar's image).
 *
 * Substituted, and nothing else: the listen address (--http-address, MLflow's --port), the upstream's
 * port (MLflow's), the directory the Secret and ConfigMap are mounted at (their files are written from
 * the same builders the component uses, the emails from the rendered ConfigMap), the backend store URI
 * and the AWS keys (Secrets). The ingress controller is stood in for by its X-Forwarded-Proto/Host headers,
 * and the provider's redirects to https://<host>/oauth2/callback are delivered to the proxy's port.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { MlflowRegistryClient, resolveModel } from "../../lib/registry";
import type { RenderResult } from "../../lib/render";
import { authenticatedEmails, CALLBACK_PATH, htpasswdLine, MACHINE_USERNAME, SSO_DIR, SSO_EMAILS_DIR, SSO_PORT } from "../../manifests/sso";
import { toolchainBinaries } from "../../testbed/toolchain";
import { render } from "../support/render";
import { freePort } from "../../testbed/ports";
import { stepLog, tail, type ManagedProcess } from "../../testbed/process";
import { PROVIDER_CLIENT, startOidcProvider } from "../../testbed/oidc-provider";
import { runPython } from "../../testbed/python";
import { dockerEntrypoint, findRendered, flagValue, localCommand, localEnv, renderedContainer, startLocal, withFlagValue, type LocalService } from "../../testbed/rendered";
import { tempDir } from "./support/services";
import { ensureVenv, REPO_ROOT } from "../../testbed/venv";

const HOST = "mlflow.example.com";
const CLIENT_ID = PROVIDER_CLIENT.id;
const CLIENT_SECRET = PROVIDER_CLIENT.secret;
const ALLOWED = { username: "alice", password: "alice-pass-1", email: "alice@example.com" };
const REFUSED = { username: "mallory", password: "mallory-pass-1", email: "mallory@example.org" };
const MACHINE_PASSWORD = `machine-${randomBytes(12).toString("hex")}`;
const MODEL = "CaliforniaHousingRegressor";
const STORAGE = "s3://sso-test-bucket/models/m-0123456789abcdef/artifacts";

const { log, timed } = stepLog("sso");

/** A browser: cookies by name (the proxy's are host-only), manual redirects. */
class Browser {
  private readonly cookies = new Map<string, string>();
  /** The ingress controller's headers: the proxy builds its redirects for the public https host. */
  private readonly forwarded = { "X-Forwarded-Proto": "https", "X-Forwarded-Host": HOST };

  constructor(private readonly proxyUrl: string) {}

  /** A request; a URL on the public host goes to the proxy with the ingress controller's headers. */
  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(url);
    const viaIngress = u.host === HOST;
    const target = viaIngress ? `${this.proxyUrl}${u.pathname}${u.search}` : url;
    const headers: Record<string, string> = { ...(viaIngress ? this.forwarded : {}), ...init.headers };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    }
    const res = await fetch(target, { method: init.method ?? (body ? "POST" : "GET"), headers, body, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects from `url` until a non-redirect answer; returns it and the URLs visited. */
  async follow(url: string, init: { form?: Record<string, string> } = {}): Promise<{ res: Response; url: string; visited: string[] }> {
    const visited = [url];
    let res = await this.request(url, init);
    let current = url;
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      assert.ok(hops < 12, `more than 12 redirects: ${visited.join(" -> ")}`);
      const location = res.headers.get("location");
      assert.ok(location, `${res.status} without Location at ${current}`);
      current = new URL(location, current).toString();
      visited.push(current);
      res = await this.request(current);
    }
    return { res, url: current, visited };
  }

  /** Signs in at the provider from its login page (the form the example server renders). */
  async signIn(user: { username: string; password: string }): Promise<{ res: Response; url: string; visited: string[] }> {
    const start = await this.follow(`https://${HOST}/`);
    assert.equal(start.res.status, 200, `the sign-in page: ${start.res.status} at ${start.url}`);
    assert.match(start.url, /\/login\/username\?authRequestID=/, `not the provider's login page: ${start.visited.join(" -> ")}`);
    const page = await start.res.text();
    const id = /name="id" value="([^"]+)"/.exec(page)?.[1];
    assert.ok(id, `no auth request id in the login form:\n${page.slice(0, 800)}`);
    const after = await this.follow(new URL("/login/username", start.url).toString(), { form: { id, username: user.username, password: user.password } });
    return { ...after, visited: [...start.visited, ...after.visited] };
  }
}

describe("single sign-on (access.auth oidc): oauth2-proxy from the render, a real OpenID provider, MLflow behind it", function () {
  let tmp: string;
  let r: RenderResult;
  let provider: ManagedProcess;
  let issuer: string;
  let mlflow: LocalService;
  let proxy: LocalService;

  before(async function () {
    this.timeout(30 * 60_000); // a cold machine builds the binaries and the mlflow venv first
    tmp = tempDir("sso");
    const [bins, venv] = await timed("oauth2-proxy, the OpenID provider and the mlflow venv", () =>
      Promise.all([toolchainBinaries(["oauth2-proxy", "oidc-provider"]), ensureVenv("mlflow")]));

    // The provider: issuer http://localhost:<port>/, client "web" redirecting to the public callback.
    const started = await startOidcProvider(tmp, [ALLOWED, REFUSED], `https://${HOST}${CALLBACK_PATH}`, bins["oidc-provider"]);
    provider = started.proc;
    issuer = started.issuer;

    r = await timed("render dev with ingress + oidc", () =>
      render("dev", [
        "access.mode=ingress",
        `access.ingress.host=${HOST}`,
        "access.ingress.clusterIssuer=letsencrypt-prod",
        "access.auth=oidc",
        `access.oidc.issuerUrl=${issuer}`,
        `access.oidc.clientId=${CLIENT_ID}`,
        `access.oidc.clientSecret=${CLIENT_SECRET}`,
        `access.oidc.allowedEmails=${JSON.stringify([ALLOWED.email])}`,
        `access.oidc.machinePassword=${MACHINE_PASSWORD}`,
      ]));
    const deployment = findRendered(r, "Deployment", "mlflow");

    // MLflow as rendered (loopback), on a free port; SQLite stands in for the backend-store Secret.
    const server = renderedContainer(deployment, "mlflow");
    const mlflowPort = await freePort();
    assert.equal(flagValue(server.args ?? [], "--host"), "127.0.0.1", "behind the proxy MLflow listens on loopback only");
    const serverArgs = withFlagValue(withFlagValue(server.args ?? [], ["--port"], String(mlflowPort)), ["--expose-prometheus"], path.join(tmp, "metrics"));
    fs.mkdirSync(path.join(tmp, "metrics"));
    const serverEnv = localEnv(server, {
      secrets: { MLFLOW_BACKEND_STORE_URI: `sqlite:///${path.join(tmp, "mlflow.db")}`, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" },
    });
    const serverCmd = localCommand(server, { entrypoint: dockerEntrypoint(path.join(REPO_ROOT, "images", "mlflow", "Dockerfile")), args: serverArgs, binDir: path.dirname(venv.python), env: serverEnv });

    // The proxy as rendered, its mounted files in a directory of this test.
    const sidecar = renderedContainer(deployment, "oauth2-proxy");
    const proxyPort = await freePort();
    const mount = path.join(tmp, "sso");
    fs.mkdirSync(mount);
    fs.writeFileSync(path.join(mount, "client-secret"), CLIENT_SECRET);
    fs.writeFileSync(path.join(mount, "cookie-secret"), randomBytes(16).toString("hex"));
    fs.writeFileSync(path.join(mount, "htpasswd"), htpasswdLine(MACHINE_USERNAME, MACHINE_PASSWORD));
    const emails = findRendered(r, "ConfigMap", "mlflow-sso").data as Record<string, string>;
    assert.equal(emails["authenticated-emails"], authenticatedEmails([ALLOWED.email]), "the rendered ConfigMap lists the allowed email");
    fs.writeFileSync(path.join(mount, "authenticated-emails"), emails["authenticated-emails"]);
    let proxyArgs = withFlagValue(sidecar.args ?? [], ["--http-address"], `127.0.0.1:${proxyPort}`);
    assert.equal(flagValue(proxyArgs, "--upstream"), "http://127.0.0.1:5000/");
    proxyArgs = withFlagValue(proxyArgs, ["--upstream"], `http://127.0.0.1:${mlflowPort}/`);
    proxyArgs = proxyArgs.map((a) => a.replace(`=${SSO_DIR}/`, `=${mount}/`).replace(`=${SSO_EMAILS_DIR}/`, `=${mount}/`));
    const proxyCmd = localCommand(sidecar, { entrypoint: [bins["oauth2-proxy"]], args: proxyArgs, binDir: tmp, env: localEnv(sidecar) });

    [mlflow, proxy] = await timed("MLflow and oauth2-proxy up", async () => {
      const m = await startLocal(serverCmd, { cwd: tmp, url: `http://127.0.0.1:${mlflowPort}`, readyPath: "/health", timeoutMs: 300_000, label: "tracking server (loopback)" });
      const p = await startLocal(proxyCmd, { cwd: tmp, url: `http://127.0.0.1:${proxyPort}`, readyPath: "/ping", timeoutMs: 60_000, label: "oauth2-proxy" });
      return [m, p];
    });
    log(`provider ${issuer}, proxy ${proxy.url}, MLflow ${mlflow.url}`);
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    for (const [label, p] of [["oauth2-proxy", proxy?.proc], ["OpenID provider", provider], ["tracking server", mlflow?.proc]] as const)
      if (p) process.stderr.write(`--- ${label} (last 30 lines) ---\n${tail(p.output(), 30)}\n`);
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all([proxy?.stop(), mlflow?.stop(), provider?.stop()]);
  });

  it("the rendered Service's http port is the proxy's, and the probe path /health passes the proxy unauthenticated", async function () {
    const service = findRendered(r, "Service", "mlflow");
    const port = (service.spec as { ports: { port: number; targetPort: string }[] }).ports[0];
    assert.deepEqual([port.port, port.targetPort], [5000, "http"]);
    const sidecar = renderedContainer(findRendered(r, "Deployment", "mlflow"), "oauth2-proxy") as { ports?: { name: string; containerPort: number }[] };
    assert.deepEqual(sidecar.ports?.map((p) => [p.name, p.containerPort]), [["http", SSO_PORT]]);
    const health = await fetch(`${proxy.url}/health`);
    assert.equal(health.status, 200, "GET /health through the proxy (the kubelet's probe)");
    const post = await fetch(`${proxy.url}/health`, { method: "POST", redirect: "manual" });
    assert.equal(post.status, 302, "only GET /health skips auth: a POST is sent to sign in");
    assert.ok(post.headers.get("location")?.startsWith(issuer), `to the provider: ${post.headers.get("location")}`);
  });

  it("an anonymous browser is redirected to the provider; an anonymous API call gets 401", async function () {
    const b = new Browser(proxy.url);
    const first = await b.request(`https://${HOST}/`);
    assert.equal(first.status, 302, `GET / without a session: ${first.status}`);
    const location = new URL(first.headers.get("location") ?? "");
    assert.equal(`${location.origin}/`, issuer, `redirected to the provider: ${location}`);
    assert.equal(location.searchParams.get("client_id"), CLIENT_ID);
    assert.equal(location.searchParams.get("redirect_uri"), `https://${HOST}${CALLBACK_PATH}`);
    assert.equal(location.searchParams.get("code_challenge_method"), "S256");
    const api = await b.request(`https://${HOST}/api/2.0/mlflow/experiments/search?max_results=1`);
    assert.equal(api.status, 401, "an API call without a session or credentials");
  });

  it("an allowed user signs in at the provider and the session reaches MLflow's UI and API", async function () {
    const b = new Browser(proxy.url);
    const signedIn = await b.signIn(ALLOWED);
    assert.ok(signedIn.visited.some((u) => u.startsWith(`https://${HOST}${CALLBACK_PATH}?`)), `the provider redirected to the callback: ${signedIn.visited.join(" -> ")}`);
    assert.equal(signedIn.res.status, 200, `after sign-in: ${signedIn.res.status} at ${signedIn.url}`);
    assert.match(await signedIn.res.text(), /<title>MLflow<\/title>|mlflow/i, "MLflow's UI");
    const created = await b.request(`https://${HOST}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: { "Content-Type": "application/json" }, form: undefined });
    assert.equal(created.status, 400, "a POST without a body reaches MLflow (its own 400), not the proxy's 401");
    const api = await b.request(`https://${HOST}/api/2.0/mlflow/experiments/search?max_results=5`);
    assert.equal(api.status, 200, `API with the session cookie: ${api.status}`);
    assert.ok(Array.isArray(((await api.json()) as { experiments?: unknown[] }).experiments), "experiments listed");
  });

  it("a user the provider knows but access.oidc does not allow is refused after sign-in", async function () {
    const b = new Browser(proxy.url);
    const refused = await b.signIn(REFUSED);
    assert.equal(refused.res.status, 403, `${REFUSED.email} after sign-in: ${refused.res.status} at ${refused.url}`);
    const api = await b.request(`https://${HOST}/api/2.0/mlflow/experiments/search?max_results=1`);
    assert.equal(api.status, 401, "and holds no session");
  });

  it("machine clients authenticate without a browser: the MLflow client as `machine`, and the deploy-time lookup", async function () {
    this.timeout(180_000);
    const script = path.join(tmp, "machine_client.py");
    fs.writeFileSync(
      script,
      [
        "import mlflow",
        "from mlflow import MlflowClient",
        "mlflow.set_experiment('california_housing_price')",
        "with mlflow.start_run() as run:",
        "    mlflow.log_param('max_depth', 6)",
        "    mlflow.log_metric('rmse_test', 0.5)",
        "c = MlflowClient()",
        `c.create_registered_model('${MODEL}')`,
        `v = c.create_model_version('${MODEL}', '${STORAGE}', run_id=run.info.run_id)`,
        `c.set_registered_model_alias('${MODEL}', 'production', v.version)`,
        "print(run.info.run_id, v.version)",
      ].join("\n"),
    );
    const env = { MLFLOW_TRACKING_URI: proxy.url, MLFLOW_TRACKING_USERNAME: MACHINE_USERNAME, MLFLOW_TRACKING_PASSWORD: MACHINE_PASSWORD, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" };
    const ok = await runPython("mlflow", script, { env, timeoutMs: 120_000 });
    assert.equal(ok.code, 0, `the MLflow client through the proxy as ${MACHINE_USERNAME}:\n${tail(ok.stderr, 20)}`);

    const client = (password: string) => new MlflowRegistryClient({ trackingUri: proxy.url, auth: { username: MACHINE_USERNAME, password }, retries: 0 });
    const resolved = await resolveModel(client(MACHINE_PASSWORD), { servedName: "ch", registeredModel: MODEL, alias: "production" }, { allowedPrefixes: ["s3://sso-test-bucket"] });
    assert.deepEqual([resolved.version, resolved.storageUri], ["1", STORAGE], "models:/…@production through the proxy");

    await assert.rejects(
      resolveModel(client("wrong-password-0123456789"), { servedName: "ch", registeredModel: MODEL, alias: "production" }, { allowedPrefixes: [] }),
      /401/,
      "a wrong machine password is refused by the proxy",
    );
    const bad = await runPython("mlflow", script, { env: { ...env, MLFLOW_TRACKING_PASSWORD: "wrong-password-0123456789" }, timeoutMs: 120_000 });
    assert.notEqual(bad.code, 0, "the MLflow client with a wrong password fails");
    assert.match(bad.stderr, /RestException/, tail(bad.stderr, 10));
  });

  it("Prometheus scrapes /metrics through the proxy with the machine credentials; without them it gets 401", async function () {
    const auth = `Basic ${Buffer.from(`${MACHINE_USERNAME}:${MACHINE_PASSWORD}`).toString("base64")}`;
    const scrape = await fetch(`${proxy.url}/metrics`, { headers: { Authorization: auth } });
    assert.equal(scrape.status, 200, `GET /metrics through the proxy: ${scrape.status}`);
    assert.match(await scrape.text(), /^mlflow_http_request_total\{/m, "MLflow's request counter");
    assert.equal((await fetch(`${proxy.url}/metrics`, { redirect: "manual" })).status, 401, "a scrape without credentials: 401, not a sign-in redirect");
  });
});
