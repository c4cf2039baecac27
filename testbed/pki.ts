/**
 * The testbed's throw-away certificate authority (openssl): the API server's serving certificate, one client
 * certificate per identity, the service-account signing key, and more certificates on demand (a webhook
 * server's, a kubelet's). Valid for two days; everything lives in one directory the cluster removes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runChecked } from "./process";

/** A client identity of the API server: CN is the user, O the group. */
export interface Identity { name: string; cn: string; org?: string }

export interface CertPair { cert: string; key: string }

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly saKey: string;
  readonly saPub: string;
  /** A certificate signed by the CA for `subject` (e.g. /CN=x/O=y) with the given X.509 extensions. */
  issue(name: string, subject: string, extensions: readonly string[]): Promise<CertPair>;
  /** A client certificate for `id`. */
  client(id: Identity): Promise<CertPair>;
  /** A serving certificate for the given IP addresses and DNS names. */
  server(name: string, ips: readonly string[], dns?: readonly string[]): Promise<CertPair>;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A new CA (and service-account key pair) in `<dir>/pki`. */
export async function makePki(dir: string): Promise<Pki> {
  const pkiDir = path.join(dir, "pki");
  const p = (f: string) => path.join(pkiDir, f);
  fs.mkdirSync(pkiDir, { mode: 0o700 });
  const ssl = (args: string[]) => runChecked("openssl", args, { cwd: dir });
  await ssl(["req", "-x509", ...EC, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=mlflow-platform-testbed-ca"]);
  await ssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("sa.key")]);
  await ssl(["pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
  const issue = async (name: string, subject: string, extensions: readonly string[]): Promise<CertPair> => {
    await ssl(["req", "-new", ...EC, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subject, ...extensions.flatMap((e) => ["-addext", e])]);
    await ssl(["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-copy_extensions", "copyall", "-out", p(`${name}.crt`)]);
    return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
  };
  return {
    dir: pkiDir, caCert: p("ca.crt"), caKey: p("ca.key"), saKey: p("sa.key"), saPub: p("sa.pub"),
    issue,
    client: (id) => issue(id.name, `/CN=${id.cn}${id.org ? `/O=${id.org}` : ""}`, ["extendedKeyUsage=clientAuth"]),
    server: (name, ips, dns = []) =>
      issue(name, `/CN=${name}`, [`subjectAltName=${[...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)].join(",")}`, "extendedKeyUsage=serverAuth"]),
  };
}

/** A kubeconfig file for one client certificate. `tlsServerName` checks the server's certificate against that name. */
export function writeKubeconfig(file: string, opts: { server: string; ca: string; client: CertPair; user: string; tlsServerName?: string }): string {
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "engine-test",
    clusters: [{ name: "engine-test", cluster: { server: opts.server, "certificate-authority": opts.ca, ...(opts.tlsServerName ? { "tls-server-name": opts.tlsServerName } : {}) } }],
    users: [{ name: opts.user, user: { "client-certificate": opts.client.cert, "client-key": opts.client.key } }],
    contexts: [{ name: "engine-test", context: { cluster: "engine-test", user: opts.user } }],
  }, null, 2), { mode: 0o600 });
  return file;
}
