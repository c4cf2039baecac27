// Submodule imports: the @pulumi/aws root loads every service module (~10x the load time).
import * as ecr from "@pulumi/aws/ecr";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { directoryDigest, projectRoot } from "../lib/paths";
import type { ProjectImageName } from "../lib/stack-images";

/** The type token the tracking-server image had before the trainer and serving images were built too. */
export const MLFLOW_IMAGE_LEGACY_TYPE = "mlflow-platform:image:MlflowImage";

export interface ProjectImageArgs {
    /** Which of the project's images: the folder images/<image> is the build context. */
    readonly image: ProjectImageName;
    /** ECR repository name. Defaults to `mlflow-platform/<image>`. */
    readonly repositoryName?: pulumi.Input<string>;
    /** Build context with the Dockerfile. Defaults to images/<image> of this project. */
    readonly contextPath?: string;
    /** Target platform. Defaults to `linux/amd64`. */
    readonly platform?: string;
}

/** Pins a pushed image by digest: <repository>@sha256:... (the tag is dropped). */
export function pinnedRef(repositoryUrl: string, digest: string): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`expected an image digest sha256:<64 hex> (got ${JSON.stringify(digest)})`);
    return `${repositoryUrl}@${digest}`;
}

/** The ECR repository of a stack's image: stacks sharing an account do not collide. */
export function imageRepositoryName(stack: string, image: ProjectImageName): string {
    return `mlflow-platform/${stack}/${image}`;
}

/**
 * One of the project's images (images/mlflow, images/trainer, images/serving, images/oauth2-proxy) built and pushed to a private
 * ECR repository with immutable tags. `ref` is pinned by digest, so a rebuild with new content rolls the
 * workloads that use it and an unchanged build does not.
 */
export class ProjectImage extends pulumi.ComponentResource {
    /** <repository>@sha256:<digest> */
    public readonly ref: pulumi.Output<string>;
    public readonly repositoryUrl: pulumi.Output<string>;
    /** sha256 of the build context: changes exactly when the image's inputs change. */
    public readonly contextDigest: string;

    constructor(name: string, args: ProjectImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlflow-platform:image:ProjectImage", name, {}, opts);
        const child = { parent: this };
        const repository = new ecr.Repository(
            name,
            {
                name: args.repositoryName ?? `mlflow-platform/${args.image}`,
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                forceDelete: false,
            },
            child,
        );
        new ecr.LifecyclePolicy(
            name,
            {
                repository: repository.name,
                policy: JSON.stringify({
                    rules: [{ rulePriority: 1, description: "keep the 30 newest images", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 30 }, action: { type: "expire" } }],
                }),
            },
            child,
        );
        const auth = ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, child);
        const contextPath = args.contextPath ?? path.join(projectRoot(), "images", args.image);
        this.contextDigest = directoryDigest(contextPath);
        const image = new dockerBuild.Image(
            name,
            {
                context: { location: contextPath },
                dockerfile: { location: path.join(contextPath, "Dockerfile") },
                platforms: [(args.platform ?? "linux/amd64") as dockerBuild.Platform],
                push: true,
                // Content-addressed tag: the repository's tags are immutable, and the same content is the same tag.
                tags: [pulumi.interpolate`${repository.repositoryUrl}:${this.contextDigest.slice(0, 16)}`],
                registries: [{ address: repository.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) }],
                buildOnPreview: false,
            },
            child,
        );
        this.repositoryUrl = repository.repositoryUrl;
        this.ref = pulumi.all([repository.repositoryUrl, image.digest]).apply(([url, digest]) => pinnedRef(url, digest));
        this.registerOutputs({ ref: this.ref, repositoryUrl: this.repositoryUrl });
    }
}
