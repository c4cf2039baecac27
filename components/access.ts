import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import { suppliedOrGenerated } from "../lib/secret-value";
import { ACCESS_COMPONENT, authDatabaseJob, basicAuthIni, httpsOrigin, trackingHttpRoute, trackingIngress, trackingNetworkPolicy } from "../manifests/access";
import { meta } from "../manifests/common";
import { authenticatedEmails, htpasswdLine, MACHINE_USERNAME, SSO_CONFIG_MAP, SSO_PORT, SSO_SECRET, SsoSpec } from "../manifests/sso";
import type { AccessConfig } from "../config";
import { TRACKING_PORT } from "../manifests/tracking-server";
import type { TrackingAccess } from "./tracking-server";

export const AUTH_SECRET = "mlflow-auth";
export const TRACKING_CREDENTIALS_SECRET = "mlflow-tracking-credentials";
export const AUTH_DATABASE = "mlflow_auth";
export const ADMIN_USERNAME = "admin";

export interface AccessArgs {
    /** Namespace of the tracking server. */
    readonly namespace: string;
    /**
     * The `access` config section: the mode (an Ingress with its host, class, TLS and annotations, or an HTTPRoute
     * on a Gateway), the auth (MLflow's basic-auth app, or single sign-on through the oauth2-proxy sidecar with its
     * provider, client and who may sign in), the default permission, and the supplied secrets (each unset one
     * generated: RandomPassword `<name>-admin-password` (32), `-flask-secret-key` (48), `-cookie-secret` (32),
     * `-machine-password` (32)).
     */
    readonly config: AccessConfig;
    /** Secret whose `uri` is the MLflow database URI (the auth-db Job connects with it). */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** URI of the auth app's own database on the same server (secret). */
    readonly authDatabaseUri: pulumi.Input<string>;
    /** PostgreSQL client image of the auth-db Job. Defaults to `postgres:16.10`. */
    readonly postgresImage?: string;
    /** Namespace of the ingress controller (cluster.ingressControllerNamespace). Defaults to `ingress-nginx`. */
    readonly ingressControllerNamespace?: string;
    /** Namespace of a Prometheus that scrapes the tracking server's /metrics. Defaults to none. */
    readonly prometheusNamespace?: string;
    /** The oauth2-proxy image: built from images/oauth2-proxy, or access.oidc.proxyImage. Required with auth `oidc`. */
    readonly proxyImage?: pulumi.Input<string>;
}

/**
 * External access + authentication (the future state's access): the Ingress with TLS or an HTTPRoute on a
 * Gateway; either MLflow's basic-auth app (Flask secret key, admin credentials (supplied or generated,
 * secrets either way) and the auth database) or single sign-on (the oauth2-proxy sidecar's Secret and
 * allowed emails, and the machine user); the credentials Secret that in-cluster clients use; and
 * the NetworkPolicy of the tracking server (PostgreSQL's own is the database component's).
 */
export class Access extends pulumi.ComponentResource {
    /** Secret with `flask-secret-key` and `basic_auth.ini`, mounted by the tracking server (basic auth only). */
    public readonly authSecretName?: pulumi.Output<string>;
    /** The sidecar's settings for the tracking server (single sign-on only). */
    public readonly sso?: Omit<SsoSpec, "upstreamPort">;
    /** Secret with `username`/`password` for in-cluster clients (training jobs, Prometheus). */
    public readonly trackingCredentialsSecretName: pulumi.Output<string>;
    /** The user of that Secret: the basic-auth admin, or the single sign-on machine user. */
    public readonly clientUsername: string;
    public readonly clientPassword: pulumi.Output<string>;
    /** https://<host> */
    public readonly externalUrl: string;
    /** Host headers the tracking server must accept. */
    public readonly allowedHosts: string[];
    /** CORS origins of the tracking server. */
    public readonly corsOrigins: string[];
    /** What the tracking server waits for: the Job creating the auth database (basic auth). */
    public readonly ready: pulumi.Resource[];
    /** Changes when the auth config changes, to roll the tracking server's pods. */
    public readonly configChecksum: pulumi.Output<string>;
    /** What the tracking server takes from here: hosts, CORS, auth or SSO, the config checksum, credentials. */
    public readonly forTrackingServer: TrackingAccess;

    constructor(name: string, args: AccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:access:Access", name, {}, opts);
        const child = { parent: this };
        const c = args.config;
        // config.ts requires the host (and the Gateway's name and namespace) for the mode, and the provider's
        // issuer, client and secret with auth oidc.
        const host = c.mode === "gateway" ? c.gateway.host : c.ingress.host;
        if (c.mode === "clusterLocal" || host === undefined) throw new Error(`Access: access.mode ${c.mode} needs no Access component, or its host is missing`);
        const gateway = c.mode === "gateway" ? { ...c.gateway, name: c.gateway.name as string, namespace: c.gateway.namespace as string } : undefined;
        this.externalUrl = httpsOrigin(host);
        this.allowedHosts = [host, `${host}:443`];
        this.corsOrigins = [this.externalUrl];
        // A digest is not the secret: unsecret it, or Pulumi would hide the Deployment's whole spec in diffs.
        const digest = (text: pulumi.Output<string>) => pulumi.unsecret(text.apply((t) => crypto.createHash("sha256").update(t).digest("hex").slice(0, 16)));

        if (c.auth === "oidc") {
            const o = c.oidc;
            if (args.proxyImage === undefined) throw new Error("Access: proxyImage is required with access.auth oidc (access.oidc.proxyImage or image.build)");
            this.clientUsername = MACHINE_USERNAME;
            this.clientPassword = suppliedOrGenerated(o.machinePassword, { name: `${name}-machine-password`, length: 32, parent: this });
            const cookieSecret = suppliedOrGenerated(o.cookieSecret, { name: `${name}-cookie-secret`, length: 32, parent: this });
            const htpasswd = pulumi.secret(this.clientPassword.apply((pw) => htpasswdLine(MACHINE_USERNAME, pw)));
            const clientSecret = pulumi.secret(o.clientSecret as string);
            const emails = authenticatedEmails(o.allowedEmails);
            const ssoSecret = new corev1.Secret(
                `${name}-sso`,
                { metadata: meta(SSO_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { "client-secret": clientSecret, "cookie-secret": cookieSecret, htpasswd } },
                child,
            );
            const emailsConfig = new corev1.ConfigMap(`${name}-sso`, { metadata: meta(SSO_CONFIG_MAP, args.namespace, ACCESS_COMPONENT), data: { "authenticated-emails": emails } }, child);
            this.sso = {
                issuerUrl: o.issuerUrl as string,
                clientId: o.clientId as string,
                host,
                allowedEmailDomains: o.allowedEmailDomains,
                allowedEmails: o.allowedEmails,
                allowedGroups: o.allowedGroups,
                groupsClaim: o.groupsClaim,
                scope: o.scope,
                image: args.proxyImage,
                secretName: ssoSecret.metadata.name,
                configMapName: emailsConfig.metadata.name,
            };
            this.configChecksum = digest(pulumi.all([clientSecret, cookieSecret, htpasswd]).apply((parts) => [...parts, emails].join("\n")));
            this.ready = [];
        } else {
            this.clientUsername = ADMIN_USERNAME;
            const flaskKey = suppliedOrGenerated(c.flaskSecretKey, { name: `${name}-flask-secret-key`, length: 48, parent: this });
            this.clientPassword = suppliedOrGenerated(c.adminPassword, { name: `${name}-admin-password`, length: 32, parent: this });
            const ini = pulumi.secret(
                pulumi.all([args.authDatabaseUri, this.clientPassword]).apply(([databaseUri, adminPassword]) =>
                    basicAuthIni({ databaseUri, adminUsername: ADMIN_USERNAME, adminPassword, defaultPermission: c.defaultPermission, credentialCacheSeconds: c.credentialCacheSeconds }),
                ),
            );
            this.configChecksum = digest(ini);
            const authSecret = new corev1.Secret(
                `${name}-auth`,
                { metadata: meta(AUTH_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { "flask-secret-key": flaskKey, "basic_auth.ini": ini } },
                child,
            );
            this.authSecretName = authSecret.metadata.name;
            this.ready = [
                new batchv1.Job(
                    `${name}-auth-db`,
                    authDatabaseJob({ namespace: args.namespace, image: args.postgresImage ?? "postgres:16.10", backendStoreSecretName: args.backendStoreSecretName, authDatabase: AUTH_DATABASE }),
                    child,
                ),
            ];
        }
        const credentials = new corev1.Secret(
            `${name}-tracking-credentials`,
            { metadata: meta(TRACKING_CREDENTIALS_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { username: this.clientUsername, password: this.clientPassword } },
            child,
        );
        if (gateway) {
            const gw = gateway;
            new apiextensions.CustomResource(
                name,
                trackingHttpRoute({ namespace: args.namespace, host, gatewayName: gw.name, gatewayNamespace: gw.namespace, sectionName: gw.sectionName }),
                child,
            );
        } else {
            new networkingv1.Ingress(
                name,
                trackingIngress({
                    namespace: args.namespace,
                    host,
                    className: c.ingress.className,
                    tlsSecretName: c.ingress.tlsSecretName,
                    clusterIssuer: c.ingress.clusterIssuer,
                    annotations: c.ingress.annotations,
                }),
                child,
            );
        }
        // The proxy in front: the ingress controller's pods, or the Gateway's. With single sign-on the pod's
        // one open port is the sign-in proxy's.
        const proxyNamespace = gateway ? (gateway.proxyNamespace ?? gateway.namespace) : (args.ingressControllerNamespace ?? "ingress-nginx");
        new networkingv1.NetworkPolicy(
            `${name}-tracking`,
            trackingNetworkPolicy(args.namespace, proxyNamespace, args.prometheusNamespace ? [args.prometheusNamespace] : [], c.auth === "oidc" ? SSO_PORT : TRACKING_PORT),
            child,
        );

        this.trackingCredentialsSecretName = credentials.metadata.name;
        this.forTrackingServer = {
            allowedHosts: this.allowedHosts,
            corsOrigins: this.corsOrigins,
            auth: this.authSecretName ? { secretName: this.authSecretName } : undefined,
            sso: this.sso,
            configChecksum: this.configChecksum,
            credentialsSecretName: this.trackingCredentialsSecretName,
            ready: this.ready,
        };
        this.registerOutputs({ externalUrl: this.externalUrl, authSecretName: this.authSecretName, trackingCredentialsSecretName: this.trackingCredentialsSecretName });
    }
}
