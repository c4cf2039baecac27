/**
 * The real OpenID provider of the single sign-on tests: zitadel/oidc's example server (toolchain/binaries.tsv
 * `oidc-provider`, built from the Go module proxy) with static users from a file, issuer
 * http://localhost:<free port>/, and its client `web` (secret `secret`) redirecting to one callback URL.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { toolchainBinaries } from "./toolchain";
import { freePort } from "./ports";
import { spawnManaged, waitForHttp200, type ManagedProcess } from "./process";

/** The client the example server registers. */
export const PROVIDER_CLIENT = { id: "web", secret: "secret" } as const;

export interface ProviderUser {
  readonly username: string;
  readonly password: string;
  readonly email: string;
}

export interface OidcProvider {
  /** http://localhost:<port>/ */
  readonly issuer: string;
  readonly proc: ManagedProcess;
  stop(): Promise<void>;
}

/** The example server's users file (its storage.User fields), keyed by username. */
export function usersFile(dir: string, users: readonly ProviderUser[]): string {
  const entry = (u: ProviderUser) => ({
    ID: u.username, Username: u.username, Password: u.password, FirstName: u.username, LastName: "Test",
    Email: u.email, EmailVerified: true, Phone: "", PhoneVerified: false, PreferredLanguage: "en", IsAdmin: false,
  });
  const file = path.join(dir, "users.json");
  fs.writeFileSync(file, JSON.stringify(Object.fromEntries(users.map((u) => [u.username, entry(u)]))));
  return file;
}

/** Starts the provider in `dir` (built first when missing) and waits for its discovery document. */
export async function startOidcProvider(dir: string, users: readonly ProviderUser[], redirectUri: string, binary?: string): Promise<OidcProvider> {
  const bin = binary ?? (await toolchainBinaries(["oidc-provider"]))["oidc-provider"];
  const port = await freePort();
  const issuer = `http://localhost:${port}/`;
  const proc = spawnManaged(bin, [], { cwd: dir, env: { ...process.env, PORT: String(port), USERS_FILE: usersFile(dir, users), REDIRECT_URI: redirectUri } });
  await waitForHttp200(proc, `${issuer}.well-known/openid-configuration`, 60_000, "OpenID provider");
  return { issuer, proc, stop: () => proc.stop() };
}
