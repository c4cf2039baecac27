/**
 * Issue 22, item 5: no package registry's host name in the repository. Mirrors and proxies are the
 * machine's own configuration (images/build.sh and images/base/build-base.sh read them at run time), so a
 * registry host written into a file is a second, stale copy of that configuration.
 *
 * The hosts are read from THIS machine's configuration when the test runs, never written here: the Debian
 * mirrors of the apt sources, pip's configured indexes and pip's own default index and file host (asked from
 * pip), `npm config get registry`, `go env GOPROXY` and the checksum database of `go env GOSUMDB`, Maven's
 * settings.xml mirrors/repositories and Cargo's configured registries when they exist. Every file git tracks
 * (and every untracked file it does not ignore: about to be committed) is scanned for them.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "..", "..");

interface RegistryHost { host: string; source: string }
interface Hit { file: string; line: number; host: string; source: string }

/** stdout of a command, or undefined when the tool is missing or fails (that source then has no hosts). */
async function output(cmd: string, args: readonly string[]): Promise<string | undefined> {
    try {
        const r = await run(cmd, [...args], { cwd: ROOT, timeout: 10_000, maxBuffer: 16 << 20, env: { ...process.env, NO_UPDATE_NOTIFIER: "1" } });
        return r.stdout;
    } catch {
        return undefined;
    }
}

/** The host of a URL ("https://h:8080/x" → "h"), or of a bare "host[:port][/path]"; undefined for anything else. */
export function hostOf(value: string): string | undefined {
    const v = value.trim().replace(/^['"]|['"]$/g, "");
    if (v === "") return undefined;
    try {
        const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `scheme://${v}`);
        const h = u.hostname.toLowerCase().replace(/^\[|\]$/g, "");
        // A registry is named by a DNS name: "localhost" or an address would match far too much text.
        return h.includes(".") && !/^[0-9.]+$/.test(h) && !h.includes(":") ? h : undefined;
    } catch {
        return undefined;
    }
}

function readIfExists(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}

function listDir(dir: string, suffix: string): string[] {
    try {
        return fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).map((f) => path.join(dir, f));
    } catch {
        return [];
    }
}

/** apt: the URIs of deb822 sources (*.sources) and of one-line sources (sources.list, *.list). */
function aptHosts(): RegistryHost[] {
    const out: RegistryHost[] = [];
    for (const f of listDir("/etc/apt/sources.list.d", ".sources")) {
        for (const line of (readIfExists(f) ?? "").split("\n")) {
            const m = /^\s*URIs:\s*(.*)$/i.exec(line);
            if (m) for (const uri of m[1].split(/\s+/)) { const h = hostOf(uri); if (h) out.push({ host: h, source: `apt ${f}` }); }
        }
    }
    for (const f of ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d", ".list")]) {
        for (const raw of (readIfExists(f) ?? "").split("\n")) {
            const line = raw.replace(/#.*/, "").replace(/\[[^\]]*\]/, "").trim();
            const m = /^deb(-src)?\s+(\S+)/.exec(line);
            const h = m ? hostOf(m[2]) : undefined;
            if (h) out.push({ host: h, source: `apt ${f}` });
        }
    }
    return out;
}

/** pip: index-url/extra-index-url/trusted-host from `pip config list` (files and PIP_* env), and pip's own default index and file host. */
async function pipHosts(): Promise<RegistryHost[]> {
    const out: RegistryHost[] = [];
    const [config, defaults] = await Promise.all([
        output("python3", ["-m", "pip", "config", "list"]),
        output("python3", ["-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url); print(PyPI.file_storage_domain)"]),
    ]);
    for (const line of (config ?? "").split("\n")) {
        const m = /^(\S+)\.(index-url|extra-index-url|trusted-host)='?(.*?)'?$/.exec(line.trim());
        if (m) for (const v of m[3].split(/\s+/)) { const h = hostOf(v); if (h) out.push({ host: h, source: `pip ${m[1]}.${m[2]}` }); }
    }
    for (const v of (defaults ?? "").split("\n")) { const h = hostOf(v); if (h) out.push({ host: h, source: "pip's default index" }); }
    return out;
}

async function npmHosts(): Promise<RegistryHost[]> {
    const h = hostOf((await output("npm", ["config", "get", "registry"])) ?? "");
    return h ? [{ host: h, source: "npm config get registry" }] : [];
}

/** Go: each proxy URL of GOPROXY (not direct/off), and GOSUMDB's checksum database ("name[+key] [url]"). */
async function goHosts(): Promise<RegistryHost[]> {
    const out: RegistryHost[] = [];
    const env = await output("go", ["env", "GOPROXY", "GOSUMDB"]);
    if (env === undefined) return out;
    const [proxy = "", sumdb = ""] = env.split("\n");
    for (const p of proxy.split(/[,|]/)) {
        if (p === "direct" || p === "off") continue;
        const h = hostOf(p);
        if (h) out.push({ host: h, source: "go env GOPROXY" });
    }
    if (sumdb.trim() !== "" && sumdb.trim() !== "off") {
        const [name, url] = sumdb.trim().split(/\s+/);
        for (const v of [name.split("+")[0], url ?? ""]) { const h = hostOf(v); if (h) out.push({ host: h, source: "go env GOSUMDB" }); }
    }
    return out;
}

/** Maven's settings.xml (user, global) and Cargo's configuration, when this machine has them. */
function maybeHosts(): RegistryHost[] {
    const out: RegistryHost[] = [];
    const home = os.homedir();
    const maven = [path.join(home, ".m2", "settings.xml"), "/etc/maven/settings.xml", ...(process.env.MAVEN_HOME ? [path.join(process.env.MAVEN_HOME, "conf", "settings.xml")] : [])];
    for (const f of maven) {
        for (const m of (readIfExists(f) ?? "").matchAll(/<url>\s*([^<\s]+)\s*<\/url>/g)) { const h = hostOf(m[1]); if (h) out.push({ host: h, source: `maven ${f}` }); }
    }
    const cargoHome = process.env.CARGO_HOME || path.join(home, ".cargo");
    for (const f of [path.join(cargoHome, "config.toml"), path.join(cargoHome, "config")]) {
        for (const m of (readIfExists(f) ?? "").matchAll(/^\s*(?:index|registry)\s*=\s*"([^"]+)"/gm)) {
            const h = hostOf(m[1].replace(/^sparse\+/, "")); if (h) out.push({ host: h, source: `cargo ${f}` });
        }
    }
    return out;
}

/** Every registry host this machine's configuration names, each once (first source kept). */
export async function configuredRegistryHosts(): Promise<RegistryHost[]> {
    const all = [...aptHosts(), ...(await Promise.all([pipHosts(), npmHosts(), goHosts()])).flat(), ...maybeHosts()];
    const seen = new Map<string, RegistryHost>();
    for (const h of all) if (!seen.has(h.host)) seen.set(h.host, h);
    return [...seen.values()];
}

/** The repository's files: tracked, plus untracked ones git does not ignore (present in the work tree). */
async function repositoryFiles(): Promise<string[]> {
    const out = await output("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
    if (out === undefined) throw new Error("git ls-files failed: the test runs in the repository");
    return [...new Set(out.split("\0").filter(Boolean))].map((f) => path.join(ROOT, f));
}

/**
 * Occurrences of the hosts in the files, case-insensitive, as a whole name: not inside a longer label
 * ("xhost" or "host-y" do not count; a subdomain "mirror.host" does, it is that registry too).
 */
export function scanForHosts(files: readonly string[], hosts: readonly RegistryHost[]): Hit[] {
    if (hosts.length === 0) return [];
    const escaped = hosts.map((h) => h.host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    const re = new RegExp(`(?<![A-Za-z0-9-])(${escaped.join("|")})(?![A-Za-z0-9-])`, "gi");
    const byHost = new Map(hosts.map((h) => [h.host, h]));
    const hits: Hit[] = [];
    for (const file of files) {
        let text: string;
        try {
            text = fs.readFileSync(file, "latin1");
        } catch {
            continue; // deleted in the work tree, or a dangling symlink: nothing to scan
        }
        for (const m of text.matchAll(re)) {
            const host = m[1].toLowerCase();
            const line = text.slice(0, m.index).split("\n").length;
            hits.push({ file: path.relative(ROOT, file) || file, line, host, source: byHost.get(host)?.source ?? "?" });
        }
    }
    return hits;
}

describe("no package registry host in the repository (hosts from this machine's configuration)", function () {
    let hosts: RegistryHost[];

    before(async function () {
        hosts = await configuredRegistryHosts();
    });

    it("this machine's configuration names registry hosts (else the scan below proves nothing)", function () {
        // npm and pip are part of this project's toolchain: their registries are always configured.
        assert.ok(hosts.some((h) => h.source.startsWith("npm")), `no npm registry found: ${JSON.stringify(hosts)}`);
        assert.ok(hosts.some((h) => h.source.startsWith("pip")), `no pip index found: ${JSON.stringify(hosts)}`);
    });

    it("no file git tracks (or would track) names one of them", async function () {
        const files = await repositoryFiles();
        assert.ok(files.length > 50, `git ls-files listed ${files.length} files`);
        const hits = scanForHosts(files, hosts);
        assert.deepEqual(hits.map((h) => `${h.file}:${h.line}: ${h.host} (${h.source})`), [],
            "take mirrors and proxies from the machine's configuration (apt sources, pip config, npm config, go env) instead of writing a registry's host");
    });

    it("the scan flags a planted host, in any case and as part of a URL, and not inside a longer name", function () {
        const h = hosts[0];
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-hosts-"));
        try {
            const bad = path.join(dir, "bad.sh");
            fs.writeFileSync(bad, `#!/bin/sh\n# fetch from\nMIRROR=https://${h.host.toUpperCase()}/some/path\n`);
            const fine = path.join(dir, "fine.txt");
            fs.writeFileSync(fine, `x${h.host}\n${h.host}-y\n${h.host.replace(/\./g, "_")}\n`);
            const hits = scanForHosts([bad, fine], hosts);
            assert.deepEqual(hits.map((x) => [path.basename(x.file), x.line, x.host]), [["bad.sh", 3, h.host]]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("hostOf reads URLs and bare hosts, and ignores what names no DNS host", function () {
        assert.equal(hostOf("https://Mirror.Example.test:8443/debian"), "mirror.example.test");
        assert.equal(hostOf("mirror.example.test/simple"), "mirror.example.test");
        assert.equal(hostOf("'https://index.example.test/simple'"), "index.example.test");
        assert.equal(hostOf("direct"), undefined);
        assert.equal(hostOf("http://localhost:3141/root"), undefined);
        assert.equal(hostOf("http://127.0.0.1:8080/"), undefined);
        assert.equal(hostOf(""), undefined);
    });
});
