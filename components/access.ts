import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import { suppliedOrGenerated } from "../lib/secret-value";
import { ACCESS_COMPONENT, authDatabaseJob, basicAuthIni, httpsOrigin, postgresNetworkPolicy, trackingHttpRoute, trackingIngress, trackingNetworkPolicy } from "../manifests/access";
import { meta } from "../manifests/common";

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
    readonly fenceInClusterPostgres?: boolean;
    /** Password of the basic-auth admin (at least 12 characters). Defaults to a generated one (RandomPassword `<name>-admin-password`, 32 characters). */
    readonly adminPassword?: pulumi.Input<string>;
    /** Flask secret key of the auth app. Defaults to a generated one (RandomPassword `<name>-flask-secret-key`, 48 characters). */
    readonly flaskSecretKey?: pulumi.Input<string>;
}

/**
 * External access + authentication (the future state's access): the Ingress with TLS or an HTTPRoute on a
 * Gateway, MLflow's basic-auth app
 * (Flask secret key, admin credentials (supplied or generated, secrets either way) and the auth database), the credentials
 * Secret that training jobs use, and NetworkPolicies that fence PostgreSQL and the tracking server.
 */
export class Access extends pulumi.ComponentResource {
    /** Secret with `flask-secret-key` and `basic_auth.ini`, mounted by the tracking server. */
    public readonly authSecretName: pulumi.Output<string>;
    /** Secret with `username`/`password` for in-cluster clients (training jobs). */
    public readonly trackingCredentialsSecretName: pulumi.Output<string>;
    public readonly adminUsername: string;
    public readonly adminPassword: pulumi.Output<string>;
    /** https://<host> */
    public readonly externalUrl: string;
    /** Host headers the tracking server must accept. */
    public readonly allowedHosts: string[];
    /** CORS origins of the tracking server. */
    public readonly corsOrigins: string[];
    /** The Job creating the auth database: the tracking server waits for it. */
    public readonly authDatabaseReady: batchv1.Job;
    /** Changes when the auth config changes, to roll the tracking server's pods. */
    public readonly configChecksum: pulumi.Output<string>;

    constructor(name: string, args: AccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:access:Access", name, {}, opts);
        const child = { parent: this };
        this.adminUsername = ADMIN_USERNAME;
        this.externalUrl = httpsOrigin(args.host);
        this.allowedHosts = [args.host, `${args.host}:443`];
        this.corsOrigins = [this.externalUrl];

        const flaskKey = suppliedOrGenerated(args.flaskSecretKey, { name: `${name}-flask-secret-key`, length: 48, parent: this });
        this.adminPassword = suppliedOrGenerated(args.adminPassword, { name: `${name}-admin-password`, length: 32, parent: this });
        const ini = pulumi.secret(
            pulumi.all([args.authDatabaseUri, this.adminPassword]).apply(([databaseUri, adminPassword]) =>
                basicAuthIni({ databaseUri, adminUsername: ADMIN_USERNAME, adminPassword, defaultPermission: args.defaultPermission ?? "READ" }),
            ),
        );
        // A digest is not the secret: unsecret it, or Pulumi would hide the Deployment's whole spec in diffs.
        this.configChecksum = pulumi.unsecret(ini.apply((text) => crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)));
        const authSecret = new corev1.Secret(
            `${name}-auth`,
            { metadata: meta(AUTH_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { "flask-secret-key": flaskKey, "basic_auth.ini": ini } },
            child,
        );
        const credentials = new corev1.Secret(
            `${name}-tracking-credentials`,
            { metadata: meta(TRACKING_CREDENTIALS_SECRET, args.namespace, ACCESS_COMPONENT), type: "Opaque", stringData: { username: ADMIN_USERNAME, password: this.adminPassword } },
            child,
        );
        this.authDatabaseReady = new batchv1.Job(
            `${name}-auth-db`,
            authDatabaseJob({ namespace: args.namespace, image: args.postgresImage ?? "postgres:16.10", backendStoreSecretName: args.backendStoreSecretName, authDatabase: AUTH_DATABASE }),
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
        // The proxy in front: the ingress controller's pods, or the Gateway's.
        const proxyNamespace = args.gateway ? (args.gateway.proxyNamespace ?? args.gateway.namespace) : (args.ingressControllerNamespace ?? "ingress-nginx");
        new networkingv1.NetworkPolicy(`${name}-tracking`, trackingNetworkPolicy(args.namespace, proxyNamespace, args.prometheusNamespace ? [args.prometheusNamespace] : []), child);
        if (args.fenceInClusterPostgres ?? true) new networkingv1.NetworkPolicy(`${name}-postgres`, postgresNetworkPolicy(args.namespace), child);

        this.authSecretName = authSecret.metadata.name;
        this.trackingCredentialsSecretName = credentials.metadata.name;
        this.registerOutputs({ externalUrl: this.externalUrl, authSecretName: this.authSecretName, trackingCredentialsSecretName: this.trackingCredentialsSecretName });
    }
}
