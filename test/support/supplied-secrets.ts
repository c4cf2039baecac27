/**
 * Every component that generates a credential, built with all of them supplied: shared by the unit test and
 * the child process that checks @pulumi/random is never loaded (test/unit/supplied-secrets.test.ts).
 */
import { Access } from "../../components/access";
import { parseConfig } from "../../config";
import { InClusterDatabase } from "../../components/in-cluster-database";
import { MinioStore } from "../../components/minio-store";
import { RdsDatabase } from "../../components/rds-database";

export const SUPPLIED = {
    postgres: "pg p@ss/w:rd%",
    rds: "Rds-p:ss%w#rd!",
    rootUser: "vault-root-user",
    rootPassword: "minio root p@ss",
    accessKeyId: "mlflow-user",
    secretAccessKey: "mlflow s3cr3t/key",
    adminPassword: "admin p@ss w0rd",
    flaskSecretKey: "flask-secret-key-".padEnd(40, "k"),
} as const;
export const RESOURCES = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } };
export const RDS_READY = { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], allowedCidrBlocks: ["10.0.0.0/16"] };

const DEFAULTS = parseConfig({}, "test");

/** The config sections of the four components, with the given credentials (undefined: generated). */
function sections(credentials: Partial<Record<keyof typeof SUPPLIED, string>>) {
    const d = DEFAULTS;
    return {
        database: {
            ...d.database,
            inCluster: { ...d.database.inCluster, resources: RESOURCES, password: credentials.postgres },
            rds: { ...d.database.rds, ...RDS_READY, password: credentials.rds },
        },
        minio: { ...d.artifactStore.minio, rootUser: credentials.rootUser, rootPassword: credentials.rootPassword, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
        access: {
            ...d.access,
            mode: "ingress" as const,
            auth: "basic" as const,
            ingress: { ...d.access.ingress, host: "mlflow.example.com", clusterIssuer: "letsencrypt-prod" },
            adminPassword: credentials.adminPassword,
            flaskSecretKey: credentials.flaskSecretKey,
        },
    };
}

/** InClusterDatabase, RdsDatabase, MinioStore and Access with every credential supplied; returns outputs. */
export function allComponentsSupplied(): Record<string, unknown> {
    const c = sections(SUPPLIED);
    const db = new InClusterDatabase("postgres", { namespace: "mlflow", config: c.database });
    const rds = new RdsDatabase("rds", { namespace: "mlflow", identifier: "mlflow-test", config: c.database });
    const minio = new MinioStore("minio", { namespace: "mlflow", config: c.minio });
    const access = new Access("access", { namespace: "mlflow", config: c.access, backendStoreSecretName: db.backendStoreSecretName, authDatabaseUri: db.uri("mlflow_auth") });
    return { postgresPassword: db.password, rdsUri: rds.uri("mlflow_auth"), minioKeys: minio.keysSecretName, adminPassword: access.clientPassword };
}

/** The same components with nothing supplied (everything generated). */
export function allComponentsGenerated(): Record<string, unknown> {
    const c = sections({});
    const db = new InClusterDatabase("postgres", { namespace: "mlflow", config: c.database });
    new RdsDatabase("rds", { namespace: "mlflow", identifier: "mlflow-test", config: c.database });
    new MinioStore("minio", { namespace: "mlflow", config: c.minio });
    new Access("access", { namespace: "mlflow", config: c.access, backendStoreSecretName: db.backendStoreSecretName, authDatabaseUri: db.uri("mlflow_auth") });
    return {};
}
