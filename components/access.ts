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
import { TRACKING_PORT } from "../manifests/tracking-server";

export const AUTH_SECRET = "mlflow-auth";
export const TRACKING_CREDENTIALS_SECRET = "mlflow-tracking-credentials";
export const AUTH_DATABASE = "mlflow_auth";
export const ADMIN_USERNAME = "admin";

export interface AccessArgs {
    /** Namespace of the tracking server. */
    readonly namespace: string;
    /** Public host of the UI/API. */
    readonly host: string;
    /** Route through this Gateway (an HTTPRoute) instead of an Ingress. Defaults to none: an Ingress. */
    readonly gateway?: {
        /** Name of the Gateway. */
        readonly name: string;
        /** Namespace of the Gateway. */
        readonly namespace: string;
        /** Its listener. Defaults to every listener that accepts the host. */
        readonly sectionName?: string;
        /** Namespace of the Gateway's proxy pods (admitted by the NetworkPolicy). Defaults to the Gateway's namespace. */
        readonly proxyNamespace?: string;
    };
    /** IngressClass (Ingress only). Defaults to `nginx`. */
    readonly className?: string;
    /** Existing TLS Secret. Defaults to `mlflow-tls` (issued by cert-manager when clusterIssuer is set). */
    readonly tlsSecretName?: string;
    /** cert-manager ClusterIssuer. Defaults to none. */
    readonly clusterIssuer?: string;
    /** Extra Ingress annotations. Defaults to none. */
    readonly annotations?: Readonly<Record<string, string>>;
    /** Permission of users on resources they did not create. Defaults to `READ`. */
    readonly defaultPermission?: string;
    /** Secret whose `uri` is the MLflow database URI (the auth-db Job connects with it). */
    readonly backendStoreSecretName: pulumi.Input<string>;
    /** URI of the auth app's own database on the same server (secret). */
    readonly authDatabaseUri: pulumi.Input<string>;
    /** PostgreSQL client image of the auth-db Job. Defaults to `postgres:16.10`. */
    readonly postgresImage?: string;
    /** Namespace of the ingress controller. Defaults to `ingress-nginx`. */
    readonly ingressControllerNamespace?: string;
    /** Namespace of a Prometheus that scrapes the tracking server's /metrics. Defaults to none. */
    readonly prometheusNamespace?: string;
    /** Fence the in-cluster PostgreSQL too (it exists). Defaults to true. */
    /** Password of the basic-auth admin (at least 12 characters). Defaults to a generated one (RandomPassword `<name>-admin-password`, 32 characters). */
    readonly adminPassword?: pulumi.Input<string>;
    /** Flask secret key of the auth app. Defaults to a generated one (RandomPassword `<name>-flask-secret-key`, 48 characters). */
    readonly flaskSecretKey?: pulumi.Input<string>;
    /** Single sign-on through the oauth2-proxy sidecar instead of MLflow's basic-auth app. Defaults to none: basic auth. */
    readonly oidc?: AccessOidcArgs;
}

/** access.auth `oidc`: the provider, the client and who may sign in. */
export interface AccessOidcArgs {
    /** The provider's issuer URL. */
    readonly issuerUrl: string;
    /** The client registered at the provider. */
    readonly clientId: string;
    /** The client's secret (issued by the provider). */
    readonly clientSecret: pulumi.Input<string>;
    /** Session-cookie key (32 characters). Defaults to a generated one (RandomPassword `<name>-cookie-secret`, 32 characters). */
    readonly cookieSecret?: pulumi.Input<string>;
    /** Password of the machine user. Defaults to a generated one (RandomPassword `<name>-machine-password`, 32 characters). */
    readonly machinePassword?: pulumi.Input<string>;
    /** Email domains that may sign in. Defaults to none. */
    readonly allowedEmailDomains?: readonly string[];
    /** Emails that may sign in. Defaults to none. */
    readonly allowedEmails?: readonly string[];
    /** Groups one of which a user must be in. Defaults to none (no group check). */
    readonly allowedGroups?: readonly string[];
    /** The ID-token claim with the groups. Defaults to `groups`. */
    readonly groupsClaim?: string;
    /** Scopes requested at sign-in. Defaults to `openid email profile`. */
    readonly scope?: string;
    /** The oauth2-proxy image: the one the stack builds from images/oauth2-proxy, or access.oidc.proxyImage. Required. */
    readonly proxyImage: pulumi.Input<string>;
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

    constructor(name: string, args: AccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:access:Access", name, {}, opts);
        const child = { parent: this };
        this.externalUrl = httpsOrigin(args.host);
        this.allowedHosts = [args.host, `${args.host}:443`];
        this.corsOrigins = [this.externalUrl];
        // A digest is not the secret: unsecret it, or Pulumi would hide the Deployment's whole spec in diffs.
        const digest = (text: pulumi.Output<string>) => pulumi.unsecret(text.apply((t) => crypto.createHash("sha256").update(t).digest("hex").slice(0, 16)));

        if (args.oidc) {
            const o = args.oidc;
            this.clientUsername = MACHINE_USERNAME;
            this.clientPassword = suppliedOrGenerated(o.machinePassword, { name: `${name}-machine-password`, length: 32, parent: this });
            const cookieSecret = suppliedOrGenerated(o.cookieSecret, { name: `${name}-cookie-secret`, length: 32, parent: this });
            const htpasswd = pulumi.secret(this.clientPassword.apply((pw) => htpasswdLine(MACHINE_USERNAME, pw)));
            const clientSecret = pulumi.secret(o.clientSecret);
            const emails = authenticatedEmails(o.allowedEmails ?? []);
            const ssoSecret = new corev1.Secret(
                `${name}-sso`,
                { metadata: meta(SSO_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { "client-secret": clientSecret, "cookie-secret": cookieSecret, htpasswd } },
                child,
            );
            const emailsConfig = new corev1.ConfigMap(`${name}-sso`, { metadata: meta(SSO_CONFIG_MAP, args.namespace, ACCESS_COMPONENT), data: { "authenticated-emails": emails } }, child);
            this.sso = {
                issuerUrl: o.issuerUrl,
                clientId: o.clientId,
                host: args.host,
                allowedEmailDomains: o.allowedEmailDomains ?? [],
                allowedEmails: o.allowedEmails ?? [],
                allowedGroups: o.allowedGroups ?? [],
                groupsClaim: o.groupsClaim ?? "groups",
                scope: o.scope ?? "openid email profile",
                image: o.proxyImage,
                secretName: ssoSecret.metadata.name,
                configMapName: emailsConfig.metadata.name,
            };
            this.configChecksum = digest(pulumi.all([clientSecret, cookieSecret, htpasswd]).apply((parts) => [...parts, emails].join("\n")));
            this.ready = [];
        } else {
            this.clientUsername = ADMIN_USERNAME;
            const flaskKey = suppliedOrGenerated(args.flaskSecretKey, { name: `${name}-flask-secret-key`, length: 48, parent: this });
            this.clientPassword = suppliedOrGenerated(args.adminPassword, { name: `${name}-admin-password`, length: 32, parent: this });
            const ini = pulumi.secret(
                pulumi.all([args.authDatabaseUri, this.clientPassword]).apply(([databaseUri, adminPassword]) =>
                    basicAuthIni({ databaseUri, adminUsername: ADMIN_USERNAME, adminPassword, defaultPermission: args.defaultPermission ?? "READ" }),
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
        if (args.gateway) {
            const gw = args.gateway;
            new apiextensions.CustomResource(
                name,
                trackingHttpRoute({ namespace: args.namespace, host: args.host, gatewayName: gw.name, gatewayNamespace: gw.namespace, sectionName: gw.sectionName }),
                child,
            );
        } else {
            new networkingv1.Ingress(
                name,
                trackingIngress({
                    namespace: args.namespace,
                    host: args.host,
                    className: args.className ?? "nginx",
                    tlsSecretName: args.tlsSecretName,
                    clusterIssuer: args.clusterIssuer,
                    annotations: args.annotations,
                }),
                child,
            );
        }
        // The proxy in front: the ingress controller's pods, or the Gateway's. With single sign-on the pod's
        // one open port is the sign-in proxy's.
        const proxyNamespace = args.gateway ? (args.gateway.proxyNamespace ?? args.gateway.namespace) : (args.ingressControllerNamespace ?? "ingress-nginx");
        new networkingv1.NetworkPolicy(
            `${name}-tracking`,
            trackingNetworkPolicy(args.namespace, proxyNamespace, args.prometheusNamespace ? [args.prometheusNamespace] : [], args.oidc ? SSO_PORT : TRACKING_PORT),
            child,
        );

        this.trackingCredentialsSecretName = credentials.metadata.name;
        this.registerOutputs({ externalUrl: this.externalUrl, authSecretName: this.authSecretName, trackingCredentialsSecretName: this.trackingCredentialsSecretName });
    }
}
