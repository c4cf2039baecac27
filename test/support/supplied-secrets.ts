/**
 * Every component that generates a credential, built with all of them supplied: shared by the unit test and
 * the child process that checks @pulumi/random is never loaded (test/unit/supplied-secrets.test.ts).
 */
import { Access } from "../../components/access";
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

/** InClusterDatabase, RdsDatabase, MinioStore and Access with every credential supplied; returns outputs. */
export function allComponentsSupplied(): Record<string, unknown> {
    const db = new InClusterDatabase("postgres", { namespace: "mlflow", resources: RESOURCES, password: SUPPLIED.postgres });
    const rds = new RdsDatabase("rds", { namespace: "mlflow", identifier: "mlflow-test", vpcId: RDS_READY.vpcId, subnetIds: RDS_READY.subnetIds, allowedCidrBlocks: RDS_READY.allowedCidrBlocks, password: SUPPLIED.rds });
    const minio = new MinioStore("minio", {
        namespace: "mlflow",
        image: "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z",
        rootUser: SUPPLIED.rootUser,
        rootPassword: SUPPLIED.rootPassword,
        accessKeyId: SUPPLIED.accessKeyId,
        secretAccessKey: SUPPLIED.secretAccessKey,
    });
    const access = new Access("access", {
        namespace: "mlflow",
        host: "mlflow.example.com",
        clusterIssuer: "letsencrypt-prod",
        backendStoreSecretName: db.backendStoreSecretName,
        authDatabaseUri: db.uri("mlflow_auth"),
        adminPassword: SUPPLIED.adminPassword,
        flaskSecretKey: SUPPLIED.flaskSecretKey,
    });
    return { postgresPassword: db.password, rdsUri: rds.uri("mlflow_auth"), minioKeys: minio.keysSecretName, adminPassword: access.clientPassword };
}

/** The same components with nothing supplied (everything generated). */
export function allComponentsGenerated(): Record<string, unknown> {
    const db = new InClusterDatabase("postgres", { namespace: "mlflow", resources: RESOURCES });
    new RdsDatabase("rds", { namespace: "mlflow", identifier: "mlflow-test", vpcId: RDS_READY.vpcId, subnetIds: RDS_READY.subnetIds });
    new MinioStore("minio", { namespace: "mlflow", image: "minio" });
    new Access("access", { namespace: "mlflow", host: "mlflow.example.com", backendStoreSecretName: db.backendStoreSecretName, authDatabaseUri: db.uri("mlflow_auth") });
    return {};
}
