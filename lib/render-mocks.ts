/**
 * Pulumi mocks that record every resource and answer with deterministic stand-ins for values that only
 * exist after deployment (ARNs, endpoints, digests, generated names). One module for the offline render,
 * the diff and every unit test that runs the program or a component.
 */
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "us-east-1";

/** A resource as the program registered it. */
export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    /** `type::name` of the parent; undefined for the stack itself. */
    parent?: string;
    readonly inputs: Record<string, unknown>;
    readonly custom: boolean;
}

function hex(seed: string, length: number): string {
    return crypto.createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/** Deterministic stand-ins for a resource's deploy-time outputs. */
export function standIns(type: string, name: string, inputs: Record<string, unknown>, region = MOCK_REGION): { id: string; state: Record<string, unknown> } {
    const str = (k: string): string | undefined => (typeof inputs[k] === "string" ? (inputs[k] as string) : undefined);
    const arn = (service: string, resource: string, regional = true) => `arn:aws:${service}:${regional ? region : ""}:${MOCK_ACCOUNT}:${resource}`;
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = str("bucket") ?? (str("bucketPrefix") ?? `${name}-`).replace(/-$/, "");
            return { id: bucket, state: { bucket, arn: `arn:aws:s3:::${bucket}`, region, bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com` } };
        }
        case "aws:iam/user:User": {
            const userName = str("name") ?? name;
            return { id: userName, state: { name: userName, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user${str("path") ?? "/"}${userName}`, uniqueId: `AIDA${hex(name, 16).toUpperCase()}` } };
        }
        case "aws:iam/accessKey:AccessKey":
            return { id: `AKIA${hex(name, 16).toUpperCase()}`, state: { secret: `mock-secret-${hex(name, 24)}`, status: "Active" } };
        case "aws:iam/role:Role": {
            const roleName = str("name") ?? name;
            return { id: roleName, state: { name: roleName, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${roleName}`, uniqueId: `AROA${hex(name, 16).toUpperCase()}` } };
        }
        case "aws:iam/policy:Policy":
            return { id: arn("iam", `policy/${str("name") ?? name}`, false), state: { arn: arn("iam", `policy/${str("name") ?? name}`, false) } };
        case "aws:ecr/repository:Repository": {
            const repo = str("name") ?? name;
            return { id: repo, state: { name: repo, arn: arn("ecr", `repository/${repo}`), registryId: MOCK_ACCOUNT, repositoryUrl: `${MOCK_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${repo}` } };
        }
        case "docker-build:index:Image": {
            const digest = `sha256:${hex(`image:${name}:${JSON.stringify(inputs.tags ?? [])}`, 64)}`;
            return { id: digest, state: { digest, ref: `${String((inputs.tags as string[] | undefined)?.[0] ?? name).replace(/:[^:/]+$/, "")}@${digest}`, contextHash: hex(`ctx:${name}`, 64) } };
        }
        case "aws:rds/instance:Instance": {
            const identifier = str("identifier") ?? `${name}-${hex(name, 7)}`;
            const address = `${identifier}.${hex("rds", 12)}.${region}.rds.amazonaws.com`;
            return { id: identifier, state: { identifier, address, endpoint: `${address}:5432`, port: 5432, arn: arn("rds", `db:${identifier}`), resourceId: `db-${hex(name, 26).toUpperCase()}` } };
        }
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${hex(name, 17)}`, state: { arn: arn("ec2", `security-group/sg-${hex(name, 17)}`) } };
        case "random:index/randomPassword:RandomPassword":
            return { id: "none", state: { result: `mockpw${hex(name, 26)}`, bcryptHash: "mock" } };
        case "random:index/randomBytes:RandomBytes":
            return { id: "none", state: { hex: hex(`bytes:${name}`, 64), base64: Buffer.from(hex(`bytes:${name}`, 32)).toString("base64") } };
        case "random:index/randomId:RandomId":
            return { id: hex(name, 8), state: { hex: hex(name, 8), b64Url: hex(name, 8), dec: String(parseInt(hex(name, 8), 16)) } };
        default:
            break;
    }
    if (type.startsWith("kubernetes:")) {
        const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
        return { id: `${metadata.namespace ? `${String(metadata.namespace)}/` : ""}${String(metadata.name ?? name)}`, state: {} };
    }
    if (type.startsWith("aws:")) {
        const service = type.split(":")[1].split("/")[0];
        const resourceName = str("name") ?? name;
        return { id: resourceName, state: { arn: arn(service, resourceName), name: resourceName } };
    }
    return { id: `${name}-id`, state: {} };
}

/** Mocks that record registrations and return inputs plus stand-ins as outputs. */
export class RecordingMocks implements pulumi.runtime.Mocks {
    readonly resources: RecordedResource[] = [];
    readonly calls: { token: string; inputs: Record<string, unknown> }[] = [];

    constructor(private readonly region = MOCK_REGION) {}

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
        this.resources.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown>, custom: args.custom ?? true });
        const s = standIns(args.type, args.name, args.inputs as Record<string, unknown>, this.region);
        return { id: s.id, state: { ...(args.inputs as Record<string, unknown>), ...s.state } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        this.calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
        switch (args.token) {
            case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                return { userName: "AWS", password: "mock-ecr-token", authorizationToken: "bW9jaw==", proxyEndpoint: `https://${MOCK_ACCOUNT}.dkr.ecr.${this.region}.amazonaws.com` };
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/mock`, userId: "AIDAMOCK" };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com" };
            case "aws:index/getRegion:getRegion":
                return { name: this.region, region: this.region };
            default:
                return args.inputs as Record<string, unknown>;
        }
    }
}
