// Pulumi entry point (compiled to bin/index.js; see Pulumi.yaml). The exported function's result is the
// stack's outputs.
import { main } from "./program";

export = main;
