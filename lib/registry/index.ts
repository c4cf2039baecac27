export * from "./errors";
export * from "./uri";
export * from "./client";
export * from "./resolver";
export * from "./artifact-check";
