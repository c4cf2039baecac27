/**
 * Single sign-on (access.auth `oidc`) as plain data: the oauth2-proxy sidecar of each tracking-server pod,
 * its arguments, its files (the htpasswd line of the machine user, the allowed emails) and the names they
 * live under. MLflow listens on loopback only, so the proxy is the pod's one way in; the Service's `http`
 * port is the proxy's, and the contract URL http://mlflow.<namespace>.svc.cluster.local:5000 is unchanged.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import * as bcrypt from "bcryptjs";
import * as crypto from "node:crypto";
import { containerSecurityContext, telemetryEnv } from "./common";

/** The proxy's port in the pod: the Service's `http` target and the only port the NetworkPolicy admits. */
export const SSO_PORT = 4180;
/** Where MLflow listens behind the proxy: loopback, so nothing outside the pod reaches it. */
export const SSO_UPSTREAM_HOST = "127.0.0.1";
/** Secret with `client-secret`, `cookie-secret` and `htpasswd`. */
export const SSO_SECRET = "mlflow-sso";
/** ConfigMap with `authenticated-emails`: who may sign in is reviewable in a diff, unlike a Secret. */
export const SSO_CONFIG_MAP = "mlflow-sso";
export const SSO_DIR = "/etc/oauth2-proxy";
export const SSO_EMAILS_DIR = "/etc/oauth2-proxy-emails";
/** The user machine clients send basic auth as (Jobs, the deploy-time lookup, Prometheus). */
export const MACHINE_USERNAME = "machine";
/** The proxy's own liveness path (it answers without reaching MLflow). */
export const PING_PATH = "/ping";
/** The OAuth callback on the public host. */
export const CALLBACK_PATH = "/oauth2/callback";
/**
 * bcrypt cost of the machine user's hash: bcrypt's lowest. oauth2-proxy checks it on every machine request (a
 * training run makes hundreds), and the password is 24 to 72 characters, 32 random ones when generated, which no
 * cost factor is needed to protect (the cost slows guessing low-entropy passwords). Measured with `npm run bench --
 * --part tracking`: at cost 6 the check on each request cost the tracking server under single sign-on a tenth of
 * its throughput more than cost 4 (README, Performance).
 */
export const MACHINE_BCRYPT_COST = 4;

export interface SsoSpec {
    /** The provider's issuer URL. */
    readonly issuerUrl: string;
    readonly clientId: string;
    /** Public host: the callback is https://<host>/oauth2/callback. */
    readonly host: string;
    readonly allowedEmailDomains: readonly string[];
    readonly allowedEmails: readonly string[];
    readonly allowedGroups: readonly string[];
    readonly groupsClaim: string;
    readonly scope: string;
    /** The oauth2-proxy image (images/oauth2-proxy as the stack built it, or access.oidc.proxyImage). */
    readonly image: Input<string>;
    /** Port MLflow listens on (loopback). */
    readonly upstreamPort: number;
    readonly secretName: Input<string>;
    readonly configMapName: Input<string>;
}

/**
 * oauth2-proxy's arguments. Secrets come from files of the Secret, never from argv or env values in the
 * manifest. Browser requests without a session go straight to the provider; API requests and scrapes
 * get 401 instead (a client cannot follow a sign-in page); `GET /health` passes unauthenticated so the kubelet
 * can probe MLflow through the proxy.
 */
export function oauth2ProxyArgs(spec: Omit<SsoSpec, "image" | "secretName" | "configMapName">): string[] {
    const args = [
        `--http-address=0.0.0.0:${SSO_PORT}`,
        `--upstream=http://${SSO_UPSTREAM_HOST}:${spec.upstreamPort}/`,
        "--provider=oidc",
        `--oidc-issuer-url=${spec.issuerUrl}`,
        `--client-id=${spec.clientId}`,
        `--client-secret-file=${SSO_DIR}/client-secret`,
        `--cookie-secret-file=${SSO_DIR}/cookie-secret`,
        `--redirect-url=https://${spec.host}${CALLBACK_PATH}`,
        `--scope=${spec.scope}`,
        "--code-challenge-method=S256",
        "--cookie-name=_mlflow_sso",
        "--cookie-secure=true",
        "--cookie-samesite=lax",
        "--skip-provider-button=true",
        // Behind the ingress controller or the Gateway: X-Forwarded-Proto/Host are theirs.
        "--reverse-proxy=true",
        // MLflow sees Host 127.0.0.1:<port>, which its allowed hosts accept: its DNS-rebinding check is for
        // requests that reach it directly, and none can.
        "--pass-host-header=false",
        "--api-route=^/api/",
        "--api-route=^/ajax-api/",
        "--api-route=^/metrics$",
        "--skip-auth-route=GET=^/health$",
        `--ping-path=${PING_PATH}`,
        "--silence-ping-logging=true",
        `--htpasswd-file=${SSO_DIR}/htpasswd`,
        "--display-htpasswd-form=false",
    ];
    // Who may sign in: an email domain or a listed email, and with groups also a group. oauth2-proxy admits
    // an email if its domain is listed or the emails file has it; with groups only, every email passes
    // that step and the group decides.
    const domains = spec.allowedEmailDomains.length > 0 || spec.allowedEmails.length > 0 ? spec.allowedEmailDomains : ["*"];
    for (const d of domains) args.push(`--email-domain=${d}`);
    if (spec.allowedEmails.length > 0) args.push(`--authenticated-emails-file=${SSO_EMAILS_DIR}/authenticated-emails`);
    if (spec.allowedGroups.length > 0) {
        args.push(`--oidc-groups-claim=${spec.groupsClaim}`);
        for (const g of spec.allowedGroups) args.push(`--allowed-group=${g}`);
        // The machine user has no ID token: its session gets the first allowed group, or the group check
        // would refuse every machine request.
        args.push(`--htpasswd-user-group=${spec.allowedGroups[0]}`);
    }
    return args;
}

/** The emails file: one address a line. */
export function authenticatedEmails(emails: readonly string[]): string {
    return emails.map((e) => `${e}\n`).join("");
}

/**
 * The machine user's htpasswd line (bcrypt). The salt is derived from the password, so the same password
 * gives the same line and `pulumi preview` shows no change while it is unchanged (a random salt would
 * rewrite the Secret and roll every pod on each run).
 */
export function htpasswdLine(username: string, password: string): string {
    if (username.includes(":")) throw new Error(`htpasswd user "${username}" must not contain ':'`);
    const saltBytes = crypto.createHmac("sha256", "mlflow-platform/htpasswd-salt").update(password).digest().subarray(0, 16);
    const salt = `$2b$${String(MACHINE_BCRYPT_COST).padStart(2, "0")}$${bcrypt.encodeBase64(saltBytes, 16)}`;
    return `${username}:${bcrypt.hashSync(password, salt)}\n`;
}

/** The sidecar container. */
export function oauth2ProxyContainer(spec: SsoSpec): k8s.types.input.core.v1.Container {
    const probe = (periodSeconds: number) => ({ httpGet: { path: PING_PATH, port: "http" }, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 });
    return {
        name: "oauth2-proxy",
        image: spec.image,
        imagePullPolicy: "IfNotPresent",
        args: oauth2ProxyArgs(spec),
        env: telemetryEnv(),
        ports: [{ name: "http", containerPort: SSO_PORT, protocol: "TCP" }],
        readinessProbe: probe(10),
        livenessProbe: probe(20),
        resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
        securityContext: containerSecurityContext(),
        volumeMounts: [
            { name: "sso", mountPath: SSO_DIR, readOnly: true },
            ...(spec.allowedEmails.length > 0 ? [{ name: "sso-emails", mountPath: SSO_EMAILS_DIR, readOnly: true }] : []),
        ],
    };
}

/** The sidecar's volumes: the Secret, and the emails ConfigMap when emails are listed. */
export function ssoVolumes(spec: Pick<SsoSpec, "secretName" | "configMapName" | "allowedEmails">): k8s.types.input.core.v1.Volume[] {
    const volumes: k8s.types.input.core.v1.Volume[] = [{ name: "sso", secret: { secretName: spec.secretName, defaultMode: 0o440 } }];
    if (spec.allowedEmails.length > 0) volumes.push({ name: "sso-emails", configMap: { name: spec.configMapName } });
    return volumes;
}
