// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as ec2 from "@pulumi/aws/ec2";
import * as rds from "@pulumi/aws/rds";
import * as vpc from "@pulumi/aws/vpc";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseConfig } from "../config";
import { suppliedOrGenerated } from "../lib/secret-value";
import { meta } from "../manifests/common";
import { postgresUri } from "../manifests/postgres";
import { BACKEND_URI_KEY } from "../manifests/tracking-server";

export const RDS_BACKEND_SECRET = "mlflow-backend-store-rds";

export interface RdsDatabaseArgs {
    /** Namespace of the backend-store Secret. */
    readonly namespace: string;
    /** Instance identifier. */
    readonly identifier: string;
    /**
     * The `database` config section: `name`, `username` (the master user) and `rds`: the cluster's VPC and two or
     * more private subnets, who is admitted on 5432, instance class, storage, engine version (16 or 16.x),
     * Multi-AZ, backup days, deletion protection, and the master password (RDS rule: 8-128 printable ASCII, no
     * '/', '"', '@', space; unset: generated, RandomPassword `<name>-password`, 32 letters and digits).
     */
    readonly config: Pick<DatabaseConfig, "name" | "username" | "rds">;
}

/** The parameter group family of an engine version: 16.4 → postgres16. */
export function parameterGroupFamily(engineVersion: string): string {
    return `postgres${engineVersion.split(".")[0]}`;
}

/**
 * Amazon RDS for PostgreSQL 16 (the future state's backend store): private, encrypted, TLS forced by its
 * parameter group, deletion-protected, backed up, with a final snapshot, in a subnet group of the given
 * subnets, behind a security group that admits 5432 only from the given CIDRs and security groups. The
 * instance is `protect`ed. Its backend-store URI (sslmode=require) is in the Secret mlflow-backend-store-rds.
 */
export class RdsDatabase extends pulumi.ComponentResource {
    public readonly backendStoreSecretName: pulumi.Output<string>;
    public readonly address: pulumi.Output<string>;
    public readonly instance: rds.Instance;
    private readonly connection: pulumi.Output<{ username: string; password: string; host: string }>;

    constructor(name: string, args: RdsDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:database:RdsDatabase", name, {}, opts);
        const child = { parent: this };
        const { name: database, username, rds: c } = args.config;
        const engineVersion = c.engineVersion;
        // config.ts requires the VPC with database.mode rds (or keepRds).
        if (c.vpcId === undefined) throw new Error("RdsDatabase: database.rds.vpcId is required");
        const vpcId = c.vpcId;

        const subnets = new rds.SubnetGroup(name, { subnetIds: [...c.subnetIds], description: "mlflow-platform backend store" }, child);
        const sg = new ec2.SecurityGroup(name, { vpcId, description: "mlflow-platform backend store: PostgreSQL from the cluster only" }, child);
        c.allowedCidrBlocks.forEach((cidr, i) =>
            new vpc.SecurityGroupIngressRule(`${name}-cidr-${i}`, { securityGroupId: sg.id, ipProtocol: "tcp", fromPort: 5432, toPort: 5432, cidrIpv4: cidr, description: "PostgreSQL" }, child),
        );
        c.allowedSecurityGroupIds.forEach((source, i) =>
            new vpc.SecurityGroupIngressRule(`${name}-sg-${i}`, { securityGroupId: sg.id, ipProtocol: "tcp", fromPort: 5432, toPort: 5432, referencedSecurityGroupId: source, description: "PostgreSQL" }, child),
        );
        const params = new rds.ParameterGroup(
            name,
            {
                family: parameterGroupFamily(engineVersion),
                description: "mlflow-platform: TLS required",
                parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" }],
            },
            child,
        );
        const password = suppliedOrGenerated(c.password, { name: `${name}-password`, length: 32, parent: this });
        this.instance = new rds.Instance(
            name,
            {
                identifier: args.identifier,
                engine: "postgres",
                engineVersion,
                instanceClass: c.instanceClass,
                allocatedStorage: c.allocatedStorage,
                maxAllocatedStorage: c.maxAllocatedStorage,
                storageType: "gp3",
                storageEncrypted: true,
                dbName: database,
                username,
                password,
                dbSubnetGroupName: subnets.name,
                vpcSecurityGroupIds: [sg.id],
                parameterGroupName: params.name,
                publiclyAccessible: false,
                multiAz: c.multiAz,
                backupRetentionPeriod: c.backupRetentionDays,
                deletionProtection: c.deletionProtection,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: `${args.identifier}-final`,
                copyTagsToSnapshot: true,
                autoMinorVersionUpgrade: true,
                performanceInsightsEnabled: true,
                tags: { "mlflow-platform/purpose": "mlflow-backend-store" },
            },
            { ...child, protect: true },
        );
        const secret = new corev1.Secret(
            name,
            {
                metadata: meta(RDS_BACKEND_SECRET, args.namespace, "database"),
                type: "Opaque",
                stringData: {
                    [BACKEND_URI_KEY]: pulumi.secret(
                        pulumi.all([password, this.instance.address]).apply(([p, host]) => postgresUri({ username, password: p, host, database, sslmode: "require" })),
                    ),
                },
            },
            child,
        );
        this.connection = pulumi.all([password, this.instance.address]).apply(([p, host]) => ({ username, password: p, host }));
        this.address = this.instance.address;
        this.backendStoreSecretName = secret.metadata.name;
        this.registerOutputs({ backendStoreSecretName: this.backendStoreSecretName, address: this.address });
    }

    /** Secret URI (sslmode=require) of another database on this instance (e.g. the auth app's). */
    public uri(database: string): pulumi.Output<string> {
        return pulumi.secret(this.connection.apply((c) => postgresUri({ ...c, database, sslmode: "require" })));
    }
}
