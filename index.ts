// Pulumi entry point (compiled to bin/index.js; see Pulumi.yaml). The exported function's result is the
// stack's outputs.
import { main } from "./program";
// The AWS SDK (artifact check) warns on every start that Node 20 support ends: keep `pulumi up` output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";


export = main;
