// The mlflow-platform governance rules: ONE implementation of each, as pure functions over normalized
// resources. The CrossGuard pack (policy/pack.ts) and the offline check (cli/policy.ts) both adapt these;
// nothing here imports Pulumi, reads files or the environment.

/** A resource as both adapters see it. `inputs` are the resource's inputs (Kubernetes: the full object). */
export interface NormalizedResource {
    /** Pulumi type token, e.g. "aws:s3/bucket:Bucket", "kubernetes:apps/v1:Deployment". */
    type: string;
    /** Pulumi resource name (not metadata.name). */
    name: string;
    inputs: Record<string, unknown>;
    /** URN when known (the pack), so stack-level violations point at the right resource. */
    urn?: string;
    /** Provider id when known. */
    id?: string;
    /** Input property → keys (`type::name`) of the resources it depends on (the engine's propertyDependencies). */
    refs?: Record<string, string[]>;
    /** The parent resource, in whatever form the source gives (URN, name); only compared for equality. */
    parent?: string;
}

export type ArtifactAuth = "staticKeys" | "irsa";

export interface StackContext {
    stack: string;
    artifactAuth?: ArtifactAuth;
    artifactBucket?: string;
    requireDigestPins?: boolean;
}

export interface Violation {
    policy: string;
    /** `type::name` */
    resource: string;
    reason: string;
}

export type EnforcementLevel = "mandatory" | "advisory";

/**
 * A value that is not known yet (a preview's computed outputs). Rules skip what they cannot see rather than
 * guess; `pulumi up` analyzes the same resource again with known inputs before creating it.
 */
export const UNKNOWN = Symbol("unknown during preview");

interface RuleBase {
    name: string;
    description: string;
    level(ctx: StackContext): EnforcementLevel;
}

/** Checks one resource on its own; returns one reason per problem. */
export interface ResourceRule extends RuleBase {
    scope: "resource";
    check(r: NormalizedResource, ctx: StackContext): string[];
}

/** Checks relationships across the stack (attachments, stack-wide facts). */
export interface StackRule extends RuleBase {
    scope: "stack";
    check(resources: NormalizedResource[], ctx: StackContext): { resource: NormalizedResource; reason: string }[];
}

export type Rule = ResourceRule | StackRule;

// ---------------------------------------------------------------------------------------------------------
// helpers

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export const resourceKey = (r: Pick<NormalizedResource, "type" | "name">): string => `${r.type}::${r.name}`;

export const TYPES = {
    bucket: "aws:s3/bucket:Bucket",
    publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    rdsInstance: "aws:rds/instance:Instance",
    accessKey: "aws:iam/accessKey:AccessKey",
    iamUser: "aws:iam/user:User",
    iamRole: "aws:iam/role:Role",
} as const;

export interface K8sKind {
    /** API group; "" for the core group. */
    group: string;
    version: string;
    kind: string;
}

/** apiVersion/kind of a Kubernetes resource: from the object itself, else from the type token. */
export function k8sKind(r: NormalizedResource): K8sKind | undefined {
    if (!r.type.startsWith("kubernetes:")) return undefined;
    const [, mod = "", tokenKind = ""] = r.type.split(":");
    const apiVersion = str(r.inputs.apiVersion);
    const kind = str(r.inputs.kind) ?? tokenKind;
    let group: string;
    let version: string;
    if (apiVersion) {
        const i = apiVersion.lastIndexOf("/");
        group = i < 0 ? "" : apiVersion.slice(0, i);
        version = i < 0 ? apiVersion : apiVersion.slice(i + 1);
    } else {
        const i = mod.lastIndexOf("/");
        group = i < 0 ? mod : mod.slice(0, i);
        version = i < 0 ? "" : mod.slice(i + 1);
        if (group === "core") group = "";
    }
    return { group, version, kind };
}

const KSERVE = "serving.kserve.io";

/** "kind namespace/name" of a Kubernetes object, for messages. */
function k8sLabel(r: NormalizedResource): string {
    const k = k8sKind(r);
    const md = obj(r.inputs.metadata);
    const name = str(md.name) ?? r.name;
    const ns = str(md.namespace);
    return `${k?.kind ?? r.type} ${ns ? `${ns}/` : ""}${name}`;
}

interface PodSpecAt {
    path: string;
    spec: Obj;
}

const POD_TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"]);

/** Every pod spec (or container-bearing spec) a Kubernetes object carries, with its path in the object. */
export function podSpecs(r: NormalizedResource): PodSpecAt[] {
    const k = k8sKind(r);
    if (!k) return [];
    const i = r.inputs;
    const at = (path: string, v: unknown): PodSpecAt[] => (isObj(v) ? [{ path, spec: v }] : []);
    if (k.group === KSERVE) {
        if (k.kind === "ServingRuntime" || k.kind === "ClusterServingRuntime") return at("spec", i.spec);
        if (k.kind === "InferenceService") {
            // predictor/transformer/explainer are inlined pod specs; the model itself runs in the runtime's container.
            return ["predictor", "transformer", "explainer"].flatMap((c) => at(`spec.${c}`, obj(i.spec)[c]));
        }
        return [];
    }
    if (k.group === "" && k.kind === "Pod") return at("spec", i.spec);
    if (k.group === "" && k.kind === "PodTemplate") return at("template.spec", obj(i.template).spec);
    if (k.kind === "CronJob") return at("spec.jobTemplate.spec.template.spec", obj(obj(obj(obj(i.spec).jobTemplate).spec).template).spec);
    if (POD_TEMPLATE_KINDS.has(k.kind)) return at("spec.template.spec", obj(obj(i.spec).template).spec);
    return [];
}

interface ContainerAt {
    pod: PodSpecAt;
    container: Obj;
    path: string;
    label: string;
}

/** Containers and init containers of every pod spec of a resource. */
export function containers(r: NormalizedResource): ContainerAt[] {
    return podSpecs(r).flatMap((pod) =>
        (["containers", "initContainers"] as const).flatMap((field) =>
            arr(pod.spec[field]).flatMap((c, idx) =>
                isObj(c)
                    ? [{ pod, container: c, path: `${pod.path}.${field}[${idx}]`, label: `container "${str(c.name) ?? idx}" (${pod.path}.${field}[${idx}])` }]
                    : [],
            ),
        ),
    );
}

/** Names in an S3 bucket resource's identity set: bucket name input, provider id, resource name. */
function bucketIdentities(b: NormalizedResource, ctx: StackContext, onlyBucket: boolean): Set<string> {
    const ids = new Set<string>([b.name]);
    const name = str(b.inputs.bucket);
    if (name) {
        ids.add(name);
        ids.add(`arn:aws:s3:::${name}`);
    }
    if (b.id) ids.add(b.id);
    // A render knows the generated name of an auto-named bucket only from its outputs.
    if (onlyBucket && ctx.artifactBucket) ids.add(ctx.artifactBucket);
    return ids;
}

/**
 * The bucket each attachment (a resource with a `bucket` input) belongs to: by dependency (the engine's
 * propertyDependencies), else by bucket name/id; an attachment that matches neither falls back to the only
 * bucket sharing its parent component (a render's stand-in ids for generated names match nothing).
 */
function attachmentsByBucket(attachments: NormalizedResource[], buckets: NormalizedResource[], ctx: StackContext): Map<NormalizedResource, NormalizedResource[]> {
    const ids = new Map(buckets.map((b) => [b, bucketIdentities(b, ctx, buckets.length === 1)] as const));
    const out = new Map<NormalizedResource, NormalizedResource[]>(buckets.map((b) => [b, []]));
    for (const a of attachments) {
        const v = str(a.inputs.bucket);
        let owner = buckets.find((b) => a.refs?.bucket?.includes(resourceKey(b))) ?? buckets.find((b) => v !== undefined && ids.get(b)!.has(v));
        if (!owner && a.parent !== undefined) {
            const siblings = buckets.filter((b) => b.parent === a.parent);
            if (siblings.length === 1) owner = siblings[0];
        }
        if (owner) out.get(owner)!.push(a);
    }
    return out;
}

function bucketLabel(b: NormalizedResource): string {
    const prefix = str(b.inputs.bucketPrefix);
    return `bucket "${str(b.inputs.bucket) ?? (prefix ? `${prefix}*` : b.name)}"`;
}

/** Whether a stack name denotes production ("prod", "production", "org/project/prod"). */
export function isProdStack(stack: string): boolean {
    const last = stack.split("/").pop()!.toLowerCase();
    return last === "prod" || last === "production";
}

/**
 * Completes a stack context. Explicit values (stack config, or the render's outputs.json) win; otherwise
 * - artifactAuth is "irsa" when the stack carries IRSA markers (a ServiceAccount annotated
 *   eks.amazonaws.com/role-arn, or an IAM role trusting sts:AssumeRoleWithWebIdentity), else left unknown;
 * - artifactBucket is the name of the stack's only S3 bucket (left unset when there are several or none);
 * - requireDigestPins is true for prod stacks.
 */
export function resolveContext(partial: Partial<StackContext>, resources: NormalizedResource[] = []): StackContext {
    const ctx: StackContext = { ...partial, stack: partial.stack ?? "" };
    if (ctx.artifactAuth === undefined && resources.some(isIrsaMarker)) ctx.artifactAuth = "irsa";
    if (ctx.artifactBucket === undefined) {
        const names = resources.filter((r) => r.type === TYPES.bucket).map((b) => str(b.inputs.bucket));
        if (names.length === 1 && names[0]) ctx.artifactBucket = names[0];
    }
    if (ctx.requireDigestPins === undefined) ctx.requireDigestPins = isProdStack(ctx.stack);
    return ctx;
}

function isIrsaMarker(r: NormalizedResource): boolean {
    const k = k8sKind(r);
    if (k?.group === "" && k.kind === "ServiceAccount") {
        const ann = obj(obj(r.inputs.metadata).annotations);
        return typeof ann["eks.amazonaws.com/role-arn"] === "string";
    }
    if (r.type === TYPES.iamRole) {
        const p = r.inputs.assumeRolePolicy;
        const text = typeof p === "string" ? p : isObj(p) ? JSON.stringify(p) : "";
        return text.includes("AssumeRoleWithWebIdentity");
    }
    return false;
}

const mandatory = (): EnforcementLevel => "mandatory";

// ---------------------------------------------------------------------------------------------------------
// S3

function bucketAttachmentRule(
    name: string,
    description: string,
    attachmentType: string,
    what: string,
    problems: (att: NormalizedResource) => string[],
): StackRule {
    return {
        name,
        description,
        scope: "stack",
        level: mandatory,
        check(resources, ctx) {
            const out: { resource: NormalizedResource; reason: string }[] = [];
            const buckets = resources.filter((r) => r.type === TYPES.bucket);
            const owned = attachmentsByBucket(resources.filter((r) => r.type === attachmentType), buckets, ctx);
            for (const b of buckets) {
                const mine = owned.get(b)!;
                if (mine.length === 0) {
                    out.push({ resource: b, reason: `${bucketLabel(b)} has no ${what} attached (${attachmentType} with bucket = this bucket)` });
                    continue;
                }
                for (const a of mine) {
                    const p = problems(a);
                    if (p.length > 0) out.push({ resource: b, reason: `${bucketLabel(b)}: ${what} ${a.name}: ${p.join("; ")}` });
                }
            }
            return out;
        },
    };
}

const PUBLIC_ACCESS_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

export const s3PublicAccessBlock = bucketAttachmentRule(
    "s3-public-access-block",
    "Every S3 bucket has a public access block with all four settings true.",
    TYPES.publicAccessBlock,
    "public access block",
    (a) => {
        const off = PUBLIC_ACCESS_FLAGS.filter((f) => a.inputs[f] !== true && a.inputs[f] !== UNKNOWN);
        return off.length ? [`${off.join(", ")} must be true`] : [];
    },
);

const SSE_ALGORITHMS = new Set(["AES256", "aws:kms", "aws:kms:dsse"]);

export const s3Encryption = bucketAttachmentRule(
    "s3-encryption",
    "Every S3 bucket has a default server-side encryption configuration.",
    TYPES.encryption,
    "server-side encryption configuration",
    (a) => {
        const rules = a.inputs.rules;
        if (rules === UNKNOWN) return [];
        const algs = arr(rules).map((r) => obj(obj(r).applyServerSideEncryptionByDefault).sseAlgorithm);
        if (algs.some((x) => x === UNKNOWN || (typeof x === "string" && SSE_ALGORITHMS.has(x)))) return [];
        return [`rules[].applyServerSideEncryptionByDefault.sseAlgorithm must be one of ${[...SSE_ALGORITHMS].join(", ")}`];
    },
);

export const s3Versioning = bucketAttachmentRule(
    "s3-versioning",
    "Every S3 bucket has versioning enabled.",
    TYPES.versioning,
    "versioning configuration",
    (a) => {
        const status = obj(a.inputs.versioningConfiguration).status;
        if (status === "Enabled" || status === UNKNOWN) return [];
        return [`versioningConfiguration.status is ${JSON.stringify(status ?? null)}, must be "Enabled"`];
    },
);

// ---------------------------------------------------------------------------------------------------------
// RDS

function rdsRule(name: string, description: string, problems: (i: Obj) => string[]): ResourceRule {
    return {
        name,
        description,
        scope: "resource",
        level: mandatory,
        check: (r) => (r.type === TYPES.rdsInstance ? problems(r.inputs) : []),
    };
}

export const rdsEncrypted = rdsRule("rds-encrypted", "RDS instances encrypt their storage.", (i) =>
    i.storageEncrypted === true || i.storageEncrypted === UNKNOWN ? [] : [`storageEncrypted is ${String(i.storageEncrypted ?? "unset")}, must be true`],
);

export const rdsPrivate = rdsRule("rds-private", "RDS instances are not publicly accessible.", (i) =>
    i.publiclyAccessible === true ? ["publiclyAccessible is true, must be false"] : [],
);

export const rdsDeletionProtection = rdsRule("rds-deletion-protection", "RDS instances have deletion protection on.", (i) =>
    i.deletionProtection === true || i.deletionProtection === UNKNOWN
        ? []
        : [`deletionProtection is ${String(i.deletionProtection ?? "unset")}, must be true`],
);

export const MIN_BACKUP_RETENTION_DAYS = 7;

export const rdsBackups = rdsRule(
    "rds-backups",
    `RDS instances keep automated backups for at least ${MIN_BACKUP_RETENTION_DAYS} days and take a final snapshot on deletion.`,
    (i) => {
        const out: string[] = [];
        const days = i.backupRetentionPeriod;
        if (days !== UNKNOWN && !(typeof days === "number" && days >= MIN_BACKUP_RETENTION_DAYS)) {
            out.push(`backupRetentionPeriod is ${String(days ?? "unset")}, must be >= ${MIN_BACKUP_RETENTION_DAYS}`);
        }
        if (i.skipFinalSnapshot === true) out.push("skipFinalSnapshot is true, must be false");
        return out;
    },
);

// ---------------------------------------------------------------------------------------------------------
// static AWS keys

const AWS_KEY_NAMES = new Set(["aws_access_key_id", "aws_secret_access_key"]);
const isAwsKeyName = (k: string): boolean => AWS_KEY_NAMES.has(k.toLowerCase());

/** Every place a resource carries static AWS keys, as reasons. */
function staticKeyFindings(r: NormalizedResource): string[] {
    if (r.type === TYPES.accessKey) return ["IAM access key (static credentials)"];
    if (r.type === TYPES.iamUser) return ["IAM user (exists only to hold static access keys)"];
    const k = k8sKind(r);
    if (!k) return [];
    const out: string[] = [];
    if (k.group === "" && k.kind === "Secret") {
        for (const field of ["data", "stringData"]) {
            const keys = Object.keys(obj(r.inputs[field])).filter(isAwsKeyName);
            if (keys.length) out.push(`${k8sLabel(r)} ${field} holds ${keys.join(", ")}`);
        }
    }
    for (const c of containers(r)) {
        const names = arr(c.container.env).map((e) => str(obj(e).name) ?? "").filter(isAwsKeyName);
        if (names.length) out.push(`${k8sLabel(r)} ${c.label} sets env ${names.join(", ")}`);
    }
    return out;
}

export const noStaticAwsKeys: StackRule = {
    name: "no-static-aws-keys-with-irsa",
    description: "A stack whose artifactAuth is irsa carries no static AWS keys (IAM users, access keys, Secrets or env).",
    scope: "stack",
    level: mandatory,
    check(resources, ctx) {
        if (ctx.artifactAuth !== "irsa") return [];
        return resources.flatMap((r) =>
            staticKeyFindings(r).map((f) => ({ resource: r, reason: `${f} in a stack whose artifactAuth is irsa` })),
        );
    },
};

// ---------------------------------------------------------------------------------------------------------
// containers

/** true/false, or undefined when a relevant field is unknown. */
function runsNonRoot(pod: Obj, c: Obj): boolean | undefined {
    const cs = obj(c.securityContext);
    const ps = obj(pod.securityContext);
    const uid = cs.runAsUser ?? ps.runAsUser;
    const nonRoot = cs.runAsNonRoot ?? ps.runAsNonRoot;
    if (uid === UNKNOWN || nonRoot === UNKNOWN) return undefined;
    // An explicit UID decides (UID 0 is root even with runAsNonRoot, which the kubelet would then refuse to start).
    if (typeof uid === "number") return uid > 0;
    return nonRoot === true;
}

export const containersNonRoot: ResourceRule = {
    name: "containers-non-root",
    description: "Every container runs as non-root: runAsNonRoot true or runAsUser > 0, at pod or container level.",
    scope: "resource",
    level: mandatory,
    check: (r) =>
        containers(r)
            .filter((c) => runsNonRoot(c.pod.spec, c.container) === false)
            .map((c) => `${k8sLabel(r)} ${c.label} may run as root: set securityContext.runAsNonRoot: true or runAsUser > 0`),
};

const RESOURCE_FIELDS = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"] as const;

export const containersResources: ResourceRule = {
    name: "containers-resources",
    description: "Every container sets cpu and memory requests and limits.",
    scope: "resource",
    level: mandatory,
    check: (r) =>
        containers(r).flatMap((c) => {
            const res = c.container.resources;
            if (res === UNKNOWN) return [];
            const missing = RESOURCE_FIELDS.filter((f) => {
                const [section, name] = f.split(".");
                const v = obj(obj(res)[section])[name];
                return v !== UNKNOWN && (v === undefined || v === null || v === "");
            });
            return missing.length ? [`${k8sLabel(r)} ${c.label} has no resources.${missing.join(", resources.")}`] : [];
        }),
};

const DIGEST = /@sha256:[0-9a-f]{64}$/;

export const imagesPinnedByDigest: ResourceRule = {
    name: "images-pinned-by-digest",
    description: "Every container image is pinned by digest (@sha256:…); mandatory in prod, advisory elsewhere.",
    scope: "resource",
    level: (ctx) => (ctx.requireDigestPins ? "mandatory" : "advisory"),
    check: (r) =>
        containers(r).flatMap((c) => {
            const image = c.container.image;
            if (typeof image !== "string" || DIGEST.test(image)) return [];
            return [`${k8sLabel(r)} ${c.label} image "${image}" is not pinned by digest (<image>@sha256:<64 hex>)`];
        }),
};

// ---------------------------------------------------------------------------------------------------------
// KServe

/** Whether a bucket name is the artifact bucket: true, false, or undefined when the stack's bucket name is not known yet. */
function artifactBucketMatcher(resources: NormalizedResource[], ctx: StackContext): { accepts(bucket: string): boolean | undefined; what: string } {
    if (ctx.artifactBucket) return { accepts: (b) => b === ctx.artifactBucket, what: ctx.artifactBucket };
    const matchers = resources
        .filter((r) => r.type === TYPES.bucket)
        .map((b): { what: string; test(x: string): boolean | undefined } => {
            const name = str(b.inputs.bucket);
            if (name) return { what: name, test: (x) => x === name };
            const prefix = str(b.inputs.bucketPrefix);
            if (prefix) return { what: `${prefix}*`, test: (x) => x.startsWith(prefix) };
            return { what: `${b.name} (name not known yet)`, test: () => undefined };
        });
    return {
        accepts: (x) => (matchers.some((m) => m.test(x) === true) ? true : matchers.some((m) => m.test(x) === undefined) ? undefined : false),
        what: matchers.map((m) => m.what).join(", "),
    };
}

export const inferenceStorageInArtifactBucket: StackRule = {
    name: "inference-storage-in-artifact-bucket",
    description: "Every InferenceService's spec.predictor.model.storageUri is an s3:// URI inside the artifact bucket.",
    scope: "stack",
    level: mandatory,
    check(resources, ctx) {
        const bucket = artifactBucketMatcher(resources, ctx);
        const out: { resource: NormalizedResource; reason: string }[] = [];
        for (const r of resources) {
            const k = k8sKind(r);
            if (k?.group !== KSERVE || k.kind !== "InferenceService") continue;
            const uri = obj(obj(obj(r.inputs.spec).predictor).model).storageUri;
            if (uri === UNKNOWN) continue;
            const where = `${k8sLabel(r)} spec.predictor.model.storageUri`;
            const m = typeof uri === "string" ? /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) : null;
            if (!m) {
                out.push({ resource: r, reason: `${where} ${JSON.stringify(uri ?? null)} is not an s3://<bucket>/<path> URI` });
            } else if (!bucket.what) {
                out.push({ resource: r, reason: `${where} "${uri}": the stack has no artifact bucket to check it against` });
            } else if (bucket.accepts(m[1]) === false) {
                out.push({ resource: r, reason: `${where} "${uri}" is outside the artifact bucket (${bucket.what})` });
            }
        }
        return out;
    },
};

// ---------------------------------------------------------------------------------------------------------

export const RULES: readonly Rule[] = [
    s3PublicAccessBlock,
    s3Encryption,
    s3Versioning,
    rdsEncrypted,
    rdsPrivate,
    rdsDeletionProtection,
    rdsBackups,
    noStaticAwsKeys,
    containersNonRoot,
    containersResources,
    imagesPinnedByDigest,
    inferenceStorageInArtifactBucket,
];

export interface Finding extends Violation {
    level: EnforcementLevel;
}

/** Runs every rule over a whole stack. `partial` is completed with resolveContext. */
export function evaluate(resources: NormalizedResource[], partial: Partial<StackContext>, rules: readonly Rule[] = RULES): Finding[] {
    const ctx = resolveContext(partial, resources);
    const out: Finding[] = [];
    for (const rule of rules) {
        const level = rule.level(ctx);
        if (rule.scope === "resource") {
            for (const r of resources) {
                for (const reason of rule.check(r, ctx)) out.push({ policy: rule.name, resource: resourceKey(r), reason, level });
            }
        } else {
            for (const v of rule.check(resources, ctx)) out.push({ policy: rule.name, resource: resourceKey(v.resource), reason: v.reason, level });
        }
    }
    return out;
}
