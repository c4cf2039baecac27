/**
 * Just enough of a Kubernetes client for the program's pre-flight checks: the kubeconfig the provider
 * would use (stack config `kubernetes:kubeconfig` as a path or as content, else $KUBECONFIG, else
 * ~/.kube/config; `kubernetes:context` and `kubernetes:cluster` pick inside it), and one discovery GET.
 * Auth: client certificates, bearer tokens (inline or file), basic auth and exec plugins (e.g. `aws eks
 * get-token`), as kubectl reads them.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

/** Where the kubeconfig comes from: the same inputs the Kubernetes provider reads. */
export interface KubeconfigSource {
    /** `kubernetes:kubeconfig`: a path or the kubeconfig itself. */
    readonly kubeconfig?: string;
    /** `kubernetes:context`. */
    readonly context?: string;
    /** `kubernetes:cluster`. */
    readonly cluster?: string;
    readonly env?: NodeJS.ProcessEnv;
}

/** A resolved connection: where and how to talk to the API server. */
export interface KubeConnection {
    readonly server: string;
    /** `context <name>` (or the cluster name) for messages. */
    readonly label: string;
    readonly ca?: Buffer;
    readonly insecure: boolean;
    readonly cert?: Buffer;
    readonly key?: Buffer;
    readonly authorization?: string;
}

export class KubeconfigError extends Error {}

interface NamedEntry<T> {
    name: string;
    [key: string]: unknown;
    cluster?: T;
    user?: T;
    context?: T;
}
type Dict = Record<string, unknown>;

interface Kubeconfig {
    "current-context"?: string;
    clusters?: NamedEntry<Dict>[];
    users?: NamedEntry<Dict>[];
    contexts?: NamedEntry<Dict>[];
}

/** The kubeconfig documents to merge, first wins, each with the directory its relative paths start from. */
function kubeconfigDocuments(src: KubeconfigSource): { doc: Kubeconfig; dir: string; origin: string }[] {
    const env = src.env ?? process.env;
    const read = (file: string) => ({ doc: parseDoc(fs.readFileSync(file, "utf8"), file), dir: path.dirname(file), origin: file });
    if (src.kubeconfig !== undefined && src.kubeconfig.trim() !== "") {
        const value = src.kubeconfig;
        // The provider's rule: a value that parses as a kubeconfig is content, anything else a path.
        if (/^\s*[{]|(^|\n)\s*(apiVersion|clusters|kind)\s*:/.test(value)) return [{ doc: parseDoc(value, "kubernetes:kubeconfig"), dir: process.cwd(), origin: "kubernetes:kubeconfig" }];
        const file = value.startsWith("~/") ? path.join(os.homedir(), value.slice(2)) : value;
        if (!fs.existsSync(file)) throw new KubeconfigError(`kubernetes:kubeconfig names ${file}, which does not exist`);
        return [read(file)];
    }
    const list = (env.KUBECONFIG ?? "").split(path.delimiter).filter((f) => f !== "");
    const files = list.length > 0 ? list.filter((f) => fs.existsSync(f)) : [path.join(env.HOME ?? os.homedir(), ".kube", "config")].filter((f) => fs.existsSync(f));
    if (files.length === 0)
        throw new KubeconfigError(list.length > 0 ? `none of the KUBECONFIG files exists (${list.join(", ")})` : "no kubeconfig: set kubernetes:kubeconfig, KUBECONFIG, or write ~/.kube/config");
    return files.map(read);
}

function parseDoc(text: string, origin: string): Kubeconfig {
    let doc: unknown;
    try {
        doc = parseYaml(text);
    } catch (e) {
        throw new KubeconfigError(`${origin} is not a kubeconfig: ${(e as Error).message.split("\n")[0]}`);
    }
    if (doc === null || typeof doc !== "object") throw new KubeconfigError(`${origin} is not a kubeconfig (expected a mapping)`);
    return doc as Kubeconfig;
}

/** Resolves the connection the provider would use. Throws KubeconfigError naming what is missing. */
export function resolveKubeConnection(src: KubeconfigSource): KubeConnection {
    const docs = kubeconfigDocuments(src);
    const find = (kind: "clusters" | "users" | "contexts", name: string) => {
        for (const d of docs) {
            const hit = d.doc[kind]?.find((e) => e.name === name);
            if (hit) return { entry: hit, dir: d.dir };
        }
        return undefined;
    };
    const contextName = src.context ?? docs.map((d) => d.doc["current-context"]).find((c) => c !== undefined && c !== "");
    if (!contextName) throw new KubeconfigError(`the kubeconfig (${docs.map((d) => d.origin).join(", ")}) has no current-context; set kubernetes:context`);
    const context = find("contexts", contextName)?.entry.context;
    if (!context) throw new KubeconfigError(`context "${contextName}" is not in the kubeconfig (${docs.map((d) => d.origin).join(", ")})`);
    const clusterName = src.cluster ?? String(context.cluster ?? "");
    const cluster = find("clusters", clusterName);
    if (!cluster?.entry.cluster) throw new KubeconfigError(`cluster "${clusterName}" of context "${contextName}" is not in the kubeconfig`);
    const c = cluster.entry.cluster;
    const userName = context.user === undefined ? undefined : String(context.user);
    const user = userName === undefined ? undefined : find("users", userName);
    const u = user?.entry.user ?? {};
    const userDir = user?.dir ?? cluster.dir;

    const file = (dir: string, p: unknown) => fs.readFileSync(path.isAbsolute(String(p)) ? String(p) : path.join(dir, String(p)));
    const data = (inline: unknown, ref: unknown, dir: string) => (typeof inline === "string" ? Buffer.from(inline, "base64") : ref !== undefined ? file(dir, ref) : undefined);
    const server = String(c.server ?? "");
    if (!/^https?:\/\//.test(server)) throw new KubeconfigError(`cluster "${clusterName}" has no http(s) server (got ${JSON.stringify(c.server)})`);

    let cert = data(u["client-certificate-data"], u["client-certificate"], userDir);
    let key = data(u["client-key-data"], u["client-key"], userDir);
    let token = typeof u.token === "string" ? u.token : u.tokenFile !== undefined ? file(userDir, u.tokenFile).toString("utf8").trim() : undefined;
    if (u.exec && typeof u.exec === "object") {
        const creds = runExecPlugin(u.exec as Dict, contextName, src.env ?? process.env);
        token = creds.token ?? token;
        if (creds.clientCertificateData) cert = Buffer.from(creds.clientCertificateData);
        if (creds.clientKeyData) key = Buffer.from(creds.clientKeyData);
    }
    const basic = typeof u.username === "string" && typeof u.password === "string" ? `Basic ${Buffer.from(`${u.username}:${u.password}`).toString("base64")}` : undefined;
    return {
        server: server.replace(/\/+$/, ""),
        label: `context "${contextName}"`,
        ca: data(c["certificate-authority-data"], c["certificate-authority"], cluster.dir),
        insecure: c["insecure-skip-tls-verify"] === true,
        cert,
        key,
        authorization: token ? `Bearer ${token}` : basic,
    };
}

/** Runs a client-go exec credential plugin and returns its status. */
function runExecPlugin(exec: Dict, contextName: string, env: NodeJS.ProcessEnv): { token?: string; clientCertificateData?: string; clientKeyData?: string } {
    const command = String(exec.command ?? "");
    const apiVersion = String(exec.apiVersion ?? "client.authentication.k8s.io/v1");
    const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
    const extra = Array.isArray(exec.env) ? Object.fromEntries((exec.env as Dict[]).map((e) => [String(e.name), String(e.value)])) : {};
    const info = JSON.stringify({ apiVersion, kind: "ExecCredential", spec: { interactive: false } });
    let out: string;
    try {
        out = execFileSync(command, args, { env: { ...env, ...extra, KUBERNETES_EXEC_INFO: info }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    } catch (e) {
        const stderr = String((e as { stderr?: unknown }).stderr ?? "").trim().split("\n").pop() ?? "";
        throw new KubeconfigError(`the exec credential plugin of context "${contextName}" (${command}) failed: ${stderr || (e as Error).message}`);
    }
    let status: Dict | undefined;
    try {
        status = (JSON.parse(out) as { status?: Dict }).status;
    } catch {
        throw new KubeconfigError(`the exec credential plugin of context "${contextName}" (${command}) printed no ExecCredential JSON`);
    }
    if (!status) throw new KubeconfigError(`the exec credential plugin of context "${contextName}" (${command}) returned no status`);
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
    return { token: str(status.token), clientCertificateData: str(status.clientCertificateData), clientKeyData: str(status.clientKeyData) };
}

export interface ApiResponse {
    readonly status: number;
    readonly body: string;
}

/** One GET against the API server. Network and TLS failures are thrown with the server named. */
export function kubeGet(conn: KubeConnection, apiPath: string, timeoutMs = 15_000): Promise<ApiResponse> {
    const url = new URL(conn.server + apiPath);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (conn.authorization) headers.Authorization = conn.authorization;
    return new Promise((resolve, reject) => {
        const onResponse = (res: http.IncomingMessage) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        };
        const req =
            url.protocol === "https:"
                ? https.request(url, { method: "GET", headers, ca: conn.ca, cert: conn.cert, key: conn.key, rejectUnauthorized: !conn.insecure, timeout: timeoutMs }, onResponse)
                : http.request(url, { method: "GET", headers, timeout: timeoutMs }, onResponse);
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (e) => reject(new Error(`cannot reach the Kubernetes API server ${conn.server} (${conn.label}): ${e.message}`)));
        req.end();
    });
}
