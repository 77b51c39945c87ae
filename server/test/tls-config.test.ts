// CAPYDB_TLS_CERT_FILE / CAPYDB_TLS_KEY_FILE: both or neither, readable, a certificate and its
// key; and what a server without CAPYDB_PROVIDER_RELEASE_DIR answers on the provider mirror.
// (HTTPS end to end, with the mirror enabled: packages/terraform-provider/test/network-mirror.test.ts.)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { startTestServer, type TestServer } from "../../test/harness/server.js";

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${name}`],
    { stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  return { cert, key };
}

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("loadConfig accepted the configuration");
}

describe("TLS configuration", () => {
  let dir: string;
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-tls-config-"));
    a = selfSigned(dir, "a");
    b = selfSigned(dir, "b");
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is plain HTTP with neither variable, HTTPS with both", () => {
    expect(loadConfig({}).tls).toBeNull();
    const tls = loadConfig({ CAPYDB_TLS_CERT_FILE: a.cert, CAPYDB_TLS_KEY_FILE: a.key }).tls;
    expect(tls?.cert.equals(fs.readFileSync(a.cert))).toBe(true);
    expect(tls?.key.equals(fs.readFileSync(a.key))).toBe(true);
  });

  it("refuses one without the other, naming the one that is set", () => {
    expect(configError({ CAPYDB_TLS_CERT_FILE: a.cert })).toBe(
      "CAPYDB_TLS_CERT_FILE and CAPYDB_TLS_KEY_FILE go together: set both (HTTPS) or neither (HTTP); only CAPYDB_TLS_CERT_FILE is set",
    );
    expect(configError({ CAPYDB_TLS_KEY_FILE: a.key })).toContain("only CAPYDB_TLS_KEY_FILE is set");
  });

  it("names the variable whose file cannot be read", () => {
    const missing = path.join(dir, "missing.pem");
    expect(configError({ CAPYDB_TLS_CERT_FILE: missing, CAPYDB_TLS_KEY_FILE: a.key })).toBe(`CAPYDB_TLS_CERT_FILE: cannot read ${missing}: ENOENT`);
    expect(configError({ CAPYDB_TLS_CERT_FILE: a.cert, CAPYDB_TLS_KEY_FILE: dir })).toBe(`CAPYDB_TLS_KEY_FILE: cannot read ${dir}: EISDIR`);
  });

  it("refuses a key that is not the certificate's, or files that are not PEM, without showing the key", () => {
    const mismatch = configError({ CAPYDB_TLS_CERT_FILE: a.cert, CAPYDB_TLS_KEY_FILE: b.key });
    expect(mismatch).toMatch(/^CAPYDB_TLS_CERT_FILE \/ CAPYDB_TLS_KEY_FILE: not a PEM certificate and its private key .*mismatch/);
    const swapped = configError({ CAPYDB_TLS_CERT_FILE: a.key, CAPYDB_TLS_KEY_FILE: a.cert });
    expect(swapped).toContain("CAPYDB_TLS_CERT_FILE / CAPYDB_TLS_KEY_FILE: not a PEM certificate and its private key");
    const keyBody = fs.readFileSync(b.key, "utf8").split("\n")[1];
    expect(mismatch).not.toContain(keyBody);
    expect(swapped).not.toContain(fs.readFileSync(a.key, "utf8").split("\n")[1]);
  });

  it("resolves CAPYDB_PROVIDER_RELEASE_DIR to an absolute path, null when unset", () => {
    expect(loadConfig({}).providerReleaseDir).toBeNull();
    expect(loadConfig({ CAPYDB_PROVIDER_RELEASE_DIR: "rel" }).providerReleaseDir).toBe(path.resolve("rel"));
  });
});

describe("a server without CAPYDB_PROVIDER_RELEASE_DIR", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it("answers the mirror and the release files with a 404 saying how to enable them, without an API key", async () => {
    expect(t.url).toMatch(/^http:\/\//);
    for (const p of ["/terraform/providers/v1/registry.terraform.io/capydb/capydb/index.json", "/terraform/releases/0.1.0/terraform-registry-manifest.json"]) {
      const res = await fetch(`${t.url}${p}`);
      expect(res.status, p).toBe(404);
      expect(((await res.json()) as { error: string }).error, p).toBe(
        "this server does not serve the Terraform provider: set CAPYDB_PROVIDER_RELEASE_DIR to the directory " +
          "`npm run release -w packages/terraform-provider -- <dir>` wrote, and restart it",
      );
    }
  });
});
