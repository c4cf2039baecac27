import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The project's root folder (the one with Pulumi.yaml), from source (tsx) or compiled (bin/) code alike. */
export function projectRoot(start: string = __dirname): string {
    let dir = start;
    for (;;) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        const parent = path.dirname(dir);
        if (parent === dir) throw new Error(`no Pulumi.yaml above ${start}`);
        dir = parent;
    }
}

/** sha256 over the relative paths and contents of every file below dir, in sorted order. */
export function directoryDigest(dir: string): string {
    const hash = crypto.createHash("sha256");
    const walk = (d: string): string[] =>
        fs
            .readdirSync(d, { withFileTypes: true })
            .filter((e) => e.name !== "__pycache__" && !e.name.startsWith(".venv"))
            .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const file of walk(dir).sort()) {
        hash.update(path.relative(dir, file).split(path.sep).join("/"));
        hash.update("\0");
        hash.update(fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex");
}
