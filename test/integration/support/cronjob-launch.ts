/**
 * A CronJob template's launch command, without a cluster: the Job `kubectl create job --from=cronjob/<name>`
 * would render (its jobTemplate, named), piped through the command's local stages (`kubectl set env --local …`)
 * exactly as its annotation writes them. The result is the Job the cluster would be asked to create.
 */
import { parse as parseYaml, stringify as toYaml } from "yaml";
import type { KubernetesObject } from "../../../lib/render";
import { runCommand } from "../../../testbed/process";

/** The Job `kubectl create job --from=cronjob/<cron> <name> --dry-run=client -o yaml` writes: the jobTemplate, named. */
export function jobFromCronJob(cronJob: KubernetesObject, name: string): KubernetesObject {
    if (cronJob.kind !== "CronJob") throw new Error(`jobFromCronJob: expected a CronJob, got ${cronJob.kind}`);
    // Reading the CronJob's plain data: jobTemplate is checked below.
    const template = (cronJob.spec as { jobTemplate?: { metadata?: { labels?: Record<string, string> }; spec?: unknown } } | undefined)?.jobTemplate;
    if (!template?.spec) throw new Error(`CronJob ${cronJob.metadata.name} has no jobTemplate.spec`);
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
            name,
            namespace: cronJob.metadata.namespace,
            annotations: { "cronjob.kubernetes.io/instantiate": "manual" },
            ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
        },
        spec: template.spec as Record<string, unknown>,
    } as KubernetesObject;
}

/**
 * Splits a launch command `kubectl create job … --from=cronjob/<cron> … | <local stages> | kubectl create -f -`
 * into its local middle stages; throws when the command does not have that shape.
 */
export function localLaunchStages(launch: string): string {
    const stages = launch.split(" | ");
    if (stages.length < 3 || !/^kubectl create job .*--from=cronjob\/\S+ .*--dry-run=client -o yaml$/.test(stages[0]!) || stages.at(-1) !== "kubectl create -f -") {
        throw new Error(`launch command is not "kubectl create job --from … --dry-run=client -o yaml | … | kubectl create -f -": ${launch}`);
    }
    const middle = stages.slice(1, -1);
    for (const s of middle) if (!/^kubectl [\w-]+ .*--local\b/.test(s)) throw new Error(`launch stage "${s}" is not a local kubectl stage`);
    return middle.join(" | ");
}

/** Whether kubectl is on PATH (its local stages need no cluster, but the binary). */
export async function haveKubectl(): Promise<boolean> {
    try {
        return (await runCommand("kubectl", ["version", "--client"], { timeoutMs: 30_000 })).code === 0;
    } catch {
        return false;
    }
}

/** Runs the launch command's local stages on `job` (bash, no kubeconfig) and returns the Job it would create. */
export async function launchLocally(launch: string, job: KubernetesObject): Promise<KubernetesObject> {
    const stages = localLaunchStages(launch);
    const r = await runCommand("bash", ["-c", stages], {
        input: toYaml(job),
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", KUBECONFIG: "/dev/null" },
        timeoutMs: 60_000,
    });
    if (r.code !== 0) throw new Error(`launch stages "${stages}" exited ${r.code}: ${r.stderr.trim()}`);
    return parseYaml(r.stdout) as KubernetesObject;
}
