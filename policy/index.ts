// The CrossGuard policy pack: `pulumi preview --policy-pack policy` (see policy/README.md).
// The engine runs this file with ts-node and passes the stack name and config in the environment.
import * as pulumi from "@pulumi/pulumi";
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, contextFromConfig, makePolicies } from "./pack";

new PolicyPack(PACK_NAME, {
    description: "Governance for the mlflow-platform stacks: S3, RDS, static keys, containers, KServe storage, image pins.",
    policies: makePolicies(contextFromConfig(pulumi.getStack(), pulumi.runtime.allConfig())),
});
