/**
 * The GitHub workflows: valid YAML, previews on pull requests with a PR comment and the policy pack, `up` on
 * main with prod behind an environment, AWS access through OIDC only. GitHub does not run here: this checks
 * the files' structure, not that a run succeeds. Each check is a function returning its problems, run on the
 * real files (no problems) and on broken copies (the problem is found).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

const DIR = path.resolve(__dirname, "..", "..", ".github", "workflows");

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    [k: string]: unknown;
}
interface Job {
    environment?: string | { name: string };
    needs?: string | string[];
    permissions?: Record<string, string>;
    strategy?: { matrix?: Record<string, unknown> };
    steps?: Step[];
    [k: string]: unknown;
}
interface Workflow {
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    jobs: Record<string, Job>;
}

/** Parses a workflow; YAML errors and warnings (duplicate keys included) are problems. */
function parse(text: string): { wf?: Workflow; problems: string[] } {
    const doc = YAML.parseDocument(text, { uniqueKeys: true });
    const problems = [...doc.errors, ...doc.warnings].map((e) => `YAML: ${e.message.split("\n")[0]}`);
    if (problems.length > 0) return { problems };
    const wf = doc.toJS() as Workflow;
    if (!wf || typeof wf !== "object" || !wf.on || !wf.jobs || typeof wf.jobs !== "object") return { problems: ["not a workflow: no on/jobs"] };
    return { wf, problems };
}

const pulumiSteps = (job: Job) => (job.steps ?? []).filter((s) => typeof s.uses === "string" && /^pulumi\/actions@/.test(s.uses));
const commandStep = (job: Job, command: string) => pulumiSteps(job).find((s) => s.with?.command === command);
const envName = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);
const permsOf = (wf: Workflow, job: Job) => job.permissions ?? wf.permissions ?? {};

/** Every key anywhere in a parsed value, with its path. */
function walk(value: unknown, at: string, out: { at: string; key: string; value: unknown }[] = []): typeof out {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${at}[${i}]`, out));
    else if (value && typeof value === "object")
        for (const [k, v] of Object.entries(value)) {
            out.push({ at: `${at}.${k}`, key: k, value: v });
            walk(v, `${at}.${k}`, out);
        }
    return out;
}

/** Problems when the job's steps do not contain `names` in that order. */
function order(job: Job, names: (string | RegExp)[], label: string): string[] {
    const lines = (job.steps ?? []).map((s) => s.uses ?? s.run ?? "");
    let from = 0;
    for (const n of names) {
        const i = lines.findIndex((l, j) => j >= from && (typeof n === "string" ? l.includes(n) : n.test(l)));
        if (i < 0) return [`${label}: no step with ${String(n)} after step ${from}`];
        from = i + 1;
    }
    return [];
}

/** Rules for every workflow: OIDC only, no stored AWS keys, actions pinned by a major tag. */
function checkCommon(text: string, wf: Workflow): string[] {
    const p: string[] = [];
    if (/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/i.test(text)) p.push("static AWS keys");
    for (const [name, job] of Object.entries(wf.jobs)) {
        const aws = (job.steps ?? []).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
        for (const s of aws) if (typeof s.with?.["role-to-assume"] !== "string" || s.with["role-to-assume"] === "") p.push(`${name}: configure-aws-credentials without role-to-assume`);
        if (aws.length > 0 && permsOf(wf, job)["id-token"] !== "write") p.push(`${name}: assumes a role without permissions id-token: write`);
    }
    for (const { at, key, value } of walk(wf.jobs, "jobs"))
        if (key === "uses" && !(typeof value === "string" && /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@(v\d+|[0-9a-f]{40})$/.test(value))) p.push(`${at}: "${String(value)}" is not pinned by @vN or a commit sha`);
    return p;
}

function checkPreview(wf: Workflow): string[] {
    const p: string[] = [];
    if (JSON.stringify(Object.keys(wf.on)) !== JSON.stringify(["pull_request"])) p.push(`on: expected pull_request only, got ${Object.keys(wf.on).join(", ")}`);
    const jobs = Object.entries(wf.jobs);
    for (const [name, job] of jobs) if (commandStep(job, "up")) p.push(`${name}: runs up on a pull request`);
    const previews = jobs.filter(([, j]) => commandStep(j, "preview"));
    if (previews.length !== 1) return [...p, `expected one (matrix) job running pulumi preview, got ${previews.length}`];
    const [name, job] = previews[0]!;
    const matrix = job.strategy?.matrix ?? {};
    const stacks = ((matrix.include as { stack?: string }[] | undefined)?.map((e) => e.stack) ?? (matrix.stack as string[] | undefined) ?? []).sort();
    if (JSON.stringify(stacks) !== JSON.stringify(["dev", "prod"])) p.push(`${name}: matrix stacks ${JSON.stringify(stacks)}, expected dev and prod`);
    const step = commandStep(job, "preview")!;
    if (step.with?.["comment-on-pr"] !== true) p.push(`${name}: comment-on-pr is not true`);
    if (!/\$\{\{\s*matrix\.stack\s*\}\}/.test(String(step.with?.["stack-name"]))) p.push(`${name}: stack-name does not come from matrix.stack`);
    if (step.with?.policyPacks !== "policy") p.push(`${name}: policyPacks is not "policy"`);
    if (!step.with?.["github-token"]) p.push(`${name}: no github-token`);
    if (permsOf(wf, job)["pull-requests"] !== "write") p.push(`${name}: no pull-requests: write (the comment)`);
    if (envName(job) !== undefined) p.push(`${name}: has an environment (the preview role trusts the pull_request subject)`);
    p.push(
        ...order(
            job,
            [
                "actions/checkout@",
                "actions/setup-node@",
                "npm ci",
                "npm test",
                /npm run render -- --stack \$\{\{ matrix\.stack \}\}/,
                /npm run policy -- --dir rendered\/\$\{\{ matrix\.stack \}\}/,
                "npm run build",
                "aws-actions/configure-aws-credentials@",
                "KUBECONFIG",
                "pulumi/actions@",
            ],
            name,
        ),
    );
    const node = (job.steps ?? []).find((s) => s.uses?.startsWith("actions/setup-node@"));
    if (String(node?.with?.["node-version"]) !== "20" || node?.with?.cache !== "npm") p.push(`${name}: setup-node without node-version 20 and cache npm`);
    return p;
}

function checkDeploy(wf: Workflow): string[] {
    const p: string[] = [];
    if (JSON.stringify(Object.keys(wf.on)) !== JSON.stringify(["push"]) || JSON.stringify((wf.on.push as { branches?: string[] } | null)?.branches) !== JSON.stringify(["main"]))
        p.push("on: expected push to main only");
    const ups = Object.entries(wf.jobs).filter(([, j]) => commandStep(j, "up"));
    const stackOf = (job: Job) => String(commandStep(job, "up")?.with?.["stack-name"] ?? "");
    const dev = ups.find(([, j]) => /(^|[/}])dev$/.test(stackOf(j)));
    const prod = ups.find(([, j]) => /(^|[/}])prod$/.test(stackOf(j)));
    if (!dev) p.push("no up job for dev");
    if (!prod) p.push("no up job for prod");
    for (const [name, job] of ups) {
        if (commandStep(job, "up")?.with?.policyPacks !== "policy") p.push(`${name}: policyPacks is not "policy"`);
        p.push(...order(job, ["npm ci", "npm test", /npm run render -- --stack/, /npm run policy -- --dir/, "npm run build", "aws-actions/configure-aws-credentials@", "pulumi/actions@"], name));
    }
    if (prod) {
        const [name, job] = prod;
        if (envName(job) !== "production") p.push(`${name}: prod up is not in the production environment`);
        if (dev && !([] as string[]).concat(job.needs ?? []).includes(dev[0])) p.push(`${name}: does not need ${dev[0]}`);
    }
    return p;
}

function read(file: string): string {
    return fs.readFileSync(path.join(DIR, file), "utf8");
}

/** Problems of one workflow text, by kind. */
function problems(text: string, kind: "preview" | "deploy"): string[] {
    const { wf, problems: yaml } = parse(text);
    if (!wf) return yaml;
    return [...checkCommon(text, wf), ...(kind === "preview" ? checkPreview(wf) : checkDeploy(wf))];
}

/** Edits a workflow's parsed form and serializes it back. */
function edit(text: string, fn: (wf: Workflow) => void): string {
    const wf = YAML.parse(text) as Workflow;
    fn(wf);
    return YAML.stringify(wf);
}

describe("GitHub workflows", () => {
    it("preview.yml and deploy.yml exist", () => {
        const files = fs.existsSync(DIR) ? fs.readdirSync(DIR) : [];
        assert.ok(files.includes("preview.yml") && files.includes("deploy.yml"), `found ${files.join(", ") || "no workflows"}`);
    });

    it("preview.yml: pulumi preview per stack with comment-on-pr, the policy pack, OIDC and the offline checks first", () => {
        assert.deepEqual(problems(read("preview.yml"), "preview"), []);
    });

    it("deploy.yml: pulumi up on main for dev, then prod in the production environment, OIDC only", () => {
        assert.deepEqual(problems(read("deploy.yml"), "deploy"), []);
    });

    describe("the checks find broken copies", () => {
        const preview = () => read("preview.yml");
        const deploy = () => read("deploy.yml");
        const previewJob = (wf: Workflow) => Object.values(wf.jobs).find((j) => commandStep(j, "preview"))!;
        const upJob = (wf: Workflow, stack: string) => Object.values(wf.jobs).find((j) => String(commandStep(j, "up")?.with?.["stack-name"]).endsWith(stack))!;
        const expectProblem = (text: string, kind: "preview" | "deploy", re: RegExp) => {
            const found = problems(text, kind);
            assert.ok(found.some((x) => re.test(x)), `expected a problem matching ${re}, got ${JSON.stringify(found)}`);
        };

        it("invalid YAML", () => expectProblem(`${preview()}\n  bad: [unclosed\n`, "preview", /^YAML/));
        it("a duplicate key", () => expectProblem(preview().replace("on:\n", "on:\n  push: {}\n  push: {}\n"), "preview", /^YAML/));
        it("comment-on-pr false", () => expectProblem(edit(preview(), (wf) => (commandStep(previewJob(wf), "preview")!.with!["comment-on-pr"] = false)), "preview", /comment-on-pr/));
        it("no policy pack", () => expectProblem(edit(preview(), (wf) => delete commandStep(previewJob(wf), "preview")!.with!.policyPacks), "preview", /policyPacks/));
        it("up on a pull request", () => expectProblem(edit(preview(), (wf) => (commandStep(previewJob(wf), "preview")!.with!.command = "up")), "preview", /runs up on a pull request/));
        it("a stored AWS key", () => expectProblem(preview().replace("role-to-assume:", "aws-access-key-id: ${{ secrets.KEY }}\n          role-to-assume:"), "preview", /static AWS keys/));
        it("no id-token: write", () => expectProblem(edit(preview(), (wf) => delete wf.permissions!["id-token"]), "preview", /id-token/));
        it("an unpinned action", () => expectProblem(preview().replace("actions/checkout@v4", "actions/checkout@main"), "preview", /not pinned/));
        it("the policy check after the preview", () =>
            expectProblem(
                edit(preview(), (wf) => {
                    const steps = previewJob(wf).steps!;
                    const i = steps.findIndex((s) => s.run?.includes("npm run policy"));
                    steps.push(...steps.splice(i, 1));
                }),
                "preview",
                /no step with/,
            ));
        it("a main push that previews only", () => expectProblem(edit(deploy(), (wf) => (commandStep(upJob(wf, "prod"), "up")!.with!.command = "preview")), "deploy", /no up job for prod/));
        it("prod without the production environment", () => expectProblem(edit(deploy(), (wf) => delete upJob(wf, "prod").environment), "deploy", /production environment/));
        it("prod not waiting for dev", () => expectProblem(edit(deploy(), (wf) => delete upJob(wf, "prod").needs), "deploy", /does not need/));
        it("deploy on pull requests", () => expectProblem(edit(deploy(), (wf) => (wf.on = { pull_request: null })), "deploy", /push to main/));
    });
});
