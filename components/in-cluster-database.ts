import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseConfig } from "../config";
import { suppliedOrGenerated } from "../lib/secret-value";
import { meta } from "../manifests/common";
import { statefulStore } from "./stateful-store";
import { postgresHost, postgresNetworkPolicy, postgresService, postgresStatefulSet, postgresUri, POSTGRES_COMPONENT, POSTGRES_NAME } from "../manifests/postgres";
import { BACKEND_URI_KEY } from "../manifests/tracking-server";

export interface InClusterDatabaseArgs {
    /** Namespace of the StatefulSet. */
    readonly namespace: string;
    /**
     * The `database` config section: `name`, `username` and `inCluster` (image, storage, resources; the password,
     * any characters, the URI percent-encodes it; unset: generated, RandomPassword `<name>-password`, 32 letters and digits).
     */
    readonly config: Pick<DatabaseConfig, "name" | "username" | "inCluster">;
}

/**
 * PostgreSQL 16 in the cluster (the current state's backend store): a StatefulSet whose volume claim
 * outlives the StatefulSet, a Service, a password (supplied or generated) held as a Pulumi secret, and a Secret with the
 * backend-store URI for the tracking server.
 */
export class InClusterDatabase extends pulumi.ComponentResource {
    /** Secret holding `uri`: the SQLAlchemy URI of the MLflow database. */
    public readonly backendStoreSecretName: pulumi.Output<string>;
    /** Secret holding `password`. */
    public readonly passwordSecretName: pulumi.Output<string>;
    /** The password (secret). */
    public readonly password: pulumi.Output<string>;
    /** The in-cluster host name. */
    public readonly host: string;
    /** MLflow's database on the server. */
    public readonly database: string;
    /** The user MLflow connects as. */
    public readonly username: string;
    /** The PostgreSQL image of the StatefulSet (its clients, e.g. pg_dump, run the same major version). */
    public readonly image: string;

    constructor(name: string, args: InClusterDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:database:InClusterDatabase", name, {}, opts);
        const child = { parent: this };
        const { name: database, username, inCluster } = args.config;
        this.host = postgresHost(args.namespace);
        this.database = database;
        this.username = username;
        this.image = inCluster.image;

        // Supplied (a config secret) or generated; a Pulumi secret either way.
        this.password = suppliedOrGenerated(inCluster.password, { name: `${name}-password`, length: 32, parent: this });

        const passwordSecret = new corev1.Secret(
            `${name}-password`,
            { metadata: meta(`${POSTGRES_NAME}-credentials`, args.namespace, POSTGRES_COMPONENT), type: "Opaque", stringData: { password: this.password } },
            child,
        );
        const backendSecret = new corev1.Secret(
            `${name}-backend-store`,
            {
                metadata: meta("mlflow-backend-store", args.namespace, POSTGRES_COMPONENT),
                type: "Opaque",
                stringData: {
                    [BACKEND_URI_KEY]: pulumi.secret(this.password.apply((p) => postgresUri({ username, password: p, host: this.host, database }))),
                },
            },
            child,
        );
        new corev1.Service(`${name}`, postgresService(args.namespace), child);
        // Only the database's clients reach it, whatever the access mode. Stacks with an Ingress or a Gateway had
        // this policy as the Access component's child `access-postgres`: the alias keeps that object.
        new networkingv1.NetworkPolicy(`${name}-fence`, postgresNetworkPolicy(args.namespace), {
            ...child,
            aliases: [{ name: "access-postgres", parent: pulumi.createUrn("access", "mlflow-platform:access:Access") }],
        });
        const storageSize = inCluster.storageSize;
        statefulStore(
            name,
            postgresStatefulSet({
                namespace: args.namespace,
                image: inCluster.image,
                storageSize,
                storageClassName: inCluster.storageClassName,
                resources: inCluster.resources,
                database,
                username,
                passwordSecretName: passwordSecret.metadata.name,
            }),
            // The volume claim survives the StatefulSet (retention policy Retain); the StatefulSet itself is
            // kept too when the stack moves to RDS, until database.retireInCluster removes it.
            { statefulSetName: POSTGRES_NAME, namespace: args.namespace, storageSize },
            child,
        );

        this.passwordSecretName = passwordSecret.metadata.name;
        this.backendStoreSecretName = backendSecret.metadata.name;
        this.registerOutputs({ backendStoreSecretName: this.backendStoreSecretName, host: this.host });
    }

    /** Secret URI of another database on this server with the same user (e.g. the auth app's). */
    public uri(database: string): pulumi.Output<string> {
        return pulumi.secret(this.password.apply((p) => postgresUri({ username: this.username, password: p, host: this.host, database })));
    }
}
