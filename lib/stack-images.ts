/**
 * Which images a stack builds and which it takes from config: a decision on config alone, shared by the
 * config checks (an image that is neither built nor named is refused) and the program (what it builds).
 */
import { servingRuntimeUsed, trainerImageUsers, type PlatformConfig } from "../config";

/** The images this project builds, one folder each under images/. */
export const PROJECT_IMAGES = ["mlflow", "trainer", "serving", "oauth2-proxy", "storage-initializer"] as const;
export type ProjectImageName = (typeof PROJECT_IMAGES)[number];

/** The config key that names a prebuilt image instead of a build. */
export const IMAGE_OVERRIDE_KEYS: Readonly<Record<ProjectImageName, string>> = {
    mlflow: "image.ref",
    trainer: "training.image",
    serving: "serving.runtimeImage",
    "oauth2-proxy": "access.oidc.proxyImage",
    "storage-initializer": "serving.storageInitializer.image",
};

/** The image config names for `image`, if any. */
export function imageOverride(cfg: PlatformConfig, image: ProjectImageName): string | undefined {
    switch (image) {
        case "mlflow":
            return cfg.image.ref;
        case "trainer":
            return cfg.training.image;
        case "serving":
            return cfg.serving.runtimeImage;
        case "oauth2-proxy":
            return cfg.access.oidc.proxyImage;
        case "storage-initializer":
            return cfg.serving.storageInitializer.image;
    }
}

/** Whether anything in the stack runs `image`. */
export function imageUsed(cfg: PlatformConfig, image: ProjectImageName): boolean {
    switch (image) {
        case "mlflow":
            return true;
        case "trainer":
            return trainerImageUsers(cfg).length > 0;
        case "serving":
            return servingRuntimeUsed(cfg);
        case "oauth2-proxy":
            // The single sign-on sidecar of each tracking-server pod.
            return cfg.access.auth === "oidc";
        case "storage-initializer":
            // KServe runs it in every predictor pod, whatever the model's runtime.
            return cfg.serving.models.length > 0;
    }
}

/** The images the stack builds and pushes: used, not named in config, and image.build on. */
export function imagesToBuild(cfg: PlatformConfig): ProjectImageName[] {
    if (!cfg.image.build) return [];
    return PROJECT_IMAGES.filter((image) => imageUsed(cfg, image) && imageOverride(cfg, image) === undefined);
}
