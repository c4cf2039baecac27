/**
 * A credential that is either supplied (config secret) or generated (a RandomPassword). Either way the
 * components get a Pulumi secret. @pulumi/random is loaded on first use, so a stack whose credentials are
 * all supplied neither loads the module nor declares a `random:` resource.
 */
import * as pulumi from "@pulumi/pulumi";

type RandomModule = typeof import("@pulumi/random");
let randomModule: RandomModule | undefined;

function random(): RandomModule {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a value is generated
    randomModule ??= require("@pulumi/random") as RandomModule;
    return randomModule;
}

/** How a credential is generated when it is not supplied. */
export interface Generated {
    /** Resource name of the RandomPassword (unchanged from the stack's first deploy: renaming replaces it). */
    readonly name: string;
    /** Characters. */
    readonly length: number;
    /** The component the RandomPassword belongs to. */
    readonly parent: pulumi.Resource;
}

/**
 * The supplied value as a Pulumi secret, or a new RandomPassword (letters and digits only, safe in URIs
 * and shell) whose result is a secret.
 */
export function suppliedOrGenerated(supplied: pulumi.Input<string> | undefined, generated: Generated): pulumi.Output<string> {
    if (supplied !== undefined) return pulumi.secret(supplied);
    const password = new (random().RandomPassword)(generated.name, { length: generated.length, special: false }, { parent: generated.parent, additionalSecretOutputs: ["result"] });
    return pulumi.secret(password.result);
}

/** Whether @pulumi/random has been loaded by this module (for tests). */
export function randomLoaded(): boolean {
    return randomModule !== undefined;
}
