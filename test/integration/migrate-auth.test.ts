/**
 * The rendered copy Job's command (manifests/migration.ts), run as the Job runs it, on two real PostgreSQL
 * servers: MLflow's database and the basic-auth app's users/permissions database both arrive on the target.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { migrationCommand } from "../../manifests/migration";
import { startPostgres, type PostgresServer } from "../../testbed/postgres";
import { runCommand } from "../../testbed/process";
import { REPO_ROOT } from "../../testbed/venv";

describe("database move: the copy Job also carries the basic-auth database", function () {
    let source: PostgresServer;
    let target: PostgresServer;
    before(async () => {
        [source, target] = await Promise.all([startPostgres({ name: "auth-source" }), startPostgres({ name: "auth-target" })]);
        for (const db of ["mlflow", "mlflow_auth"]) await source.createDatabase(db);
        await target.createDatabase("mlflow");
        await source.query("mlflow", "CREATE TABLE experiments (id int primary key, name text); INSERT INTO experiments VALUES (1, 'california_housing_price');");
        await source.query("mlflow_auth", "CREATE TABLE users (id int primary key, username text, is_admin boolean); INSERT INTO users VALUES (1, 'admin', true), (2, 'alice', false);");
    });
    after(async () => {
        await Promise.all([source?.stop(), target?.stop()]);
    });

    const run = (authDatabase?: string) =>
        runCommand("bash", ["-c", migrationCommand(authDatabase)], {
            env: {
                ...process.env,
                SCRIPT_DIR: path.join(REPO_ROOT, "scripts"),
                PG_BIN: source.binDir,
                PATH: `${source.binDir}:${process.env.PATH}`,
                SOURCE_DATABASE_URL: source.url("mlflow"),
                TARGET_DATABASE_URL: target.url("mlflow"),
            },
            timeoutMs: 300_000,
        });

    it("copies mlflow, creates mlflow_auth on the target and copies its rows", async () => {
        const r = await run("mlflow_auth");
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.equal(await target.query("mlflow", "SELECT name FROM experiments"), "california_housing_price");
        assert.equal(await target.query("mlflow_auth", "SELECT string_agg(username || ':' || is_admin, ',' ORDER BY id) FROM users"), "admin:true,alice:false");
        assert.doesNotMatch(r.stdout + r.stderr, new RegExp(source.password), "no password in the Job log");
    });
});
