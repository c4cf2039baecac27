// Adapts the rules in ./rules to CrossGuard policies. Kept apart from ./index (which constructs the
// PolicyPack and so starts its gRPC server) so tests can build and call the policies directly.
import {
    Policies,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
    UnknownValueError,
} from "@pulumi/policy";
import { ArtifactAuth, NormalizedResource, RULES, Rule, StackContext, UNKNOWN, resolveContext, resourceKey } from "./rules";

export const PACK_NAME = "mlflow-platform";
/** The Pulumi project whose config the pack reads (`mlflow-platform:artifactAuth`, …). */
export const PROJECT = "mlflow-platform";

function read(o: Record<string | number, unknown>, k: string | number): unknown {
    try {
        return o[k];
    } catch (e) {
        if (e instanceof UnknownValueError) return UNKNOWN;
        throw e;
    }
}

/**
 * Deep copy of properties seen through @pulumi/policy's unknown-checking proxy, which throws on any value
 * that is unknown during preview (and would turn the whole policy into a "can't run" warning). Unknown
 * values become UNKNOWN, which the rules skip.
 */
export function toPlain(v: unknown): unknown {
    if (Array.isArray(v)) {
        const a = v as unknown[];
        return Array.from({ length: a.length }, (_, i) => toPlain(read(a as unknown as Record<number, unknown>, i)));
    }
    if (typeof v === "object" && v !== null) {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return v; // assets, archives: not inspected by any rule
        const o = v as Record<string, unknown>;
        return Object.fromEntries(Object.keys(o).map((k) => [k, toPlain(read(o, k))]));
    }
    return v;
}

const plainInputs = (props: Record<string, unknown>): Record<string, unknown> => toPlain(props) as Record<string, unknown>;

/** A resource as validateResource sees it (its inputs). */
export function fromResourceArgs(args: Pick<ResourceValidationArgs, "type" | "name" | "urn" | "props">): NormalizedResource {
    return { type: args.type, name: args.name, urn: args.urn, inputs: plainInputs(args.props) };
}

/** A resource as validateStack sees it; its property dependencies become refs. */
export function fromPolicyResource(
    r: Pick<PolicyResource, "type" | "name" | "urn" | "props" | "propertyDependencies"> & { parent?: Pick<PolicyResource, "urn"> },
): NormalizedResource {
    const refs: Record<string, string[]> = {};
    for (const [k, deps] of Object.entries(r.propertyDependencies ?? {})) refs[k] = deps.map(resourceKey);
    return { type: r.type, name: r.name, urn: r.urn, inputs: plainInputs(r.props), refs, parent: r.parent?.urn };
}

/**
 * The stack context the pack can know before seeing resources: the stack name, and the stack config the
 * engine hands every policy pack (PULUMI_CONFIG): `mlflow-platform:artifactAuth` and
 * `mlflow-platform:artifactStore.bucketName`. What is missing is derived from the resources (resolveContext).
 */
export function contextFromConfig(stack: string, config: Record<string, string | undefined>): Partial<StackContext> {
    const ctx: Partial<StackContext> = { stack };
    const auth = config[`${PROJECT}:artifactAuth`];
    if (auth === "irsa" || auth === "staticKeys") ctx.artifactAuth = auth satisfies ArtifactAuth;
    const store = config[`${PROJECT}:artifactStore`];
    if (store) {
        try {
            const bucketName: unknown = (JSON.parse(store) as Record<string, unknown>)?.bucketName;
            if (typeof bucketName === "string" && bucketName) ctx.artifactBucket = bucketName;
        } catch {
            // not JSON: the program reports bad config; the bucket is then derived from the stack's resources
        }
    }
    return ctx;
}

/** One CrossGuard policy per rule: resource rules validate each resource's inputs, stack rules the whole stack. */
export function makePolicies(known: Partial<StackContext>, rules: readonly Rule[] = RULES): Policies {
    const levelCtx = resolveContext(known);
    return rules.map((rule) => {
        const base = { name: rule.name, description: rule.description, enforcementLevel: rule.level(levelCtx) };
        if (rule.scope === "resource") {
            return {
                ...base,
                validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
                    for (const reason of rule.check(fromResourceArgs(args), resolveContext(known))) report(reason);
                },
            };
        }
        return {
            ...base,
            validateStack: (args: StackValidationArgs, report: ReportViolation) => {
                const resources = args.resources.map(fromPolicyResource);
                for (const v of rule.check(resources, resolveContext(known, resources))) report(v.reason, v.resource.urn);
            },
        };
    });
}
