/**
 * A small client of the test cluster's API server (client-certificate auth over HTTPS): raw requests,
 * discovery (kind → resource), get/list/apply of objects, and server-side dry runs. Enough for the
 * engine tests to look at what the engine left in the cluster without kubectl.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as YAML from "yaml";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface KubeResponse { status: number; body: string; json<T = unknown>(): T }

export interface KubeCredentials { server: string; ca: string; cert: string; key: string }

interface ResourceInfo { name: string; namespaced: boolean }

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(readonly creds: KubeCredentials) {
    this.agent = new https.Agent({ ca: fs.readFileSync(creds.ca), cert: fs.readFileSync(creds.cert), key: fs.readFileSync(creds.key), keepAlive: true });
  }

  /** One request; never throws on an HTTP error status (the caller decides). */
  request(method: string, urlPath: string, body?: string, contentType = "application/json"): Promise<KubeResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.creds.server}${urlPath}`, {
        method, agent: this.agent, timeout: 60_000,
        headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) }) },
      }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => { text += d; }).on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Like request, but throws naming the call and the server's message unless the status is 2xx. */
  async ok(method: string, urlPath: string, body?: string, contentType?: string): Promise<KubeResponse> {
    const r = await this.request(method, urlPath, body, contentType);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${urlPath}: HTTP ${r.status}: ${statusMessage(r)}`);
    return r;
  }

  /** The REST path of an object (or of its collection when name is omitted), from discovery. */
  async pathOf(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const info = (await this.resources(apiVersion)).get(kind);
    if (!info) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "default")}` : "";
    return `${base}${ns}/${info.name}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
  }

  /** The object, or undefined when the server has none of that name (404). */
  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const r = await this.request("GET", await this.pathOf(apiVersion, kind, namespace, name));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${kind} ${namespace ?? ""}/${name}: HTTP ${r.status}: ${statusMessage(r)}`);
    return r.json<KubeObject>();
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeObject[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
    const r = await this.ok("GET", `${await this.pathOf(apiVersion, kind, namespace)}${q}`);
    // List items carry no apiVersion/kind of their own.
    return r.json<{ items: KubeObject[] }>().items.map((o) => ({ ...o, apiVersion, kind }));
  }

  /** Server-side apply of one object (field manager "engine-test-harness"); dryRun only validates. */
  async apply(obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<KubeResponse> {
    const q = `?fieldManager=engine-test-harness&force=true${opts.dryRun ? "&dryRun=All" : ""}`;
    const p = await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.request("PATCH", `${p}${q}`, JSON.stringify(obj), "application/apply-patch+yaml");
  }

  /** Applies every document of a YAML file (throws on the first refusal). */
  async applyFile(file: string): Promise<KubeObject[]> {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS() as KubeObject | null).filter((d): d is KubeObject => d !== null);
    for (const d of docs) {
      const r = await this.apply(d);
      if (r.status < 200 || r.status > 299) throw new Error(`apply ${d.kind} ${d.metadata.name} from ${file}: HTTP ${r.status}: ${statusMessage(r)}`);
    }
    return docs;
  }

  /** Polls until `check` returns a value (not undefined), or throws after timeoutMs with `what`. */
  waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
    return pollUntil(what, timeoutMs, check);
  }

  /** Forget discovery (after CRDs are installed). */
  forgetDiscovery(): void { this.discovery.clear(); }

  close(): void { this.agent.destroy(); }

  private resources(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    let p = this.discovery.get(apiVersion);
    if (!p) {
      const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.ok("GET", base).then((r) => {
        const m = new Map<string, ResourceInfo>();
        for (const res of r.json<{ resources: { name: string; kind: string; namespaced: boolean }[] }>().resources) {
          if (!res.name.includes("/")) m.set(res.kind, { name: res.name, namespaced: res.namespaced });
        }
        return m;
      });
      p.catch(() => this.discovery.delete(apiVersion));
      this.discovery.set(apiVersion, p);
    }
    return p;
  }
}

/**
 * Polls `check` every 250 ms until it returns a value (not undefined); throws after timeoutMs naming
 * `what` and the last error, or at once when `stopped()` says why waiting is pointless (a process exited).
 */
export async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, stopped: () => string | undefined = () => undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    const why = stopped();
    if (why) throw new Error(`${what}: ${why}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The message of a Kubernetes Status body, or the raw body. */
export function statusMessage(r: { body: string }): string {
  try {
    const s = JSON.parse(r.body) as { message?: string };
    return s.message ?? r.body.slice(0, 500);
  } catch {
    return r.body.slice(0, 500);
  }
}
