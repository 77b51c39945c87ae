// The provider as Terraform users install it: `npm run release`'s files (a single executable in a
// zip, SHA256SUMS, the registry manifest), served by a real CapyDB server over HTTPS (its own TLS,
// a self-signed certificate) as a provider network mirror; `terraform init` installs from it with
// no node on the PATH of the Terraform process, then apply and destroy a project and a backup
// schedule through that server.
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../../test/harness/server.js";
import { databaseExists } from "../../../test/harness/sql.js";
import { PROVIDER_ADDRESS, PROVIDER_VERSION } from "../src/registry.js";
import { type ReleaseFiles, releaseFileNames, writeRelease } from "../src/release.js";
import { explain, providerBlocks, tempRoot, terraformVersion, type RunResult } from "./terraform-cli.js";

const tfVersion = await terraformVersion();
if (!tfVersion) console.warn("network-mirror.test.ts: skipped: no `terraform` on the PATH (install Terraform 1.11.4 to run these tests)");

function run(file: string, args: string[], options: { cwd?: string; env: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) =>
    execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    }),
  );
}

/** An HTTPS request that trusts only the test's certificate. */
function request(
  ca: Buffer,
  url: string,
  options: { method?: string; apiKey?: string; body?: unknown } = {},
): Promise<{ status: number; body: Buffer; json: () => Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = https.request(
      url,
      {
        method: options.method ?? "GET",
        ca,
        headers: {
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          ...(payload ? { "content-type": "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body.toString("utf8")) as Record<string, unknown> });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const sha256 = (data: Buffer) => crypto.createHash("sha256").update(data).digest("hex");

function config(url: string): string {
  return `${providerBlocks(url, { version: PROVIDER_VERSION })}
resource "capydb_project" "p" {
  name = "tf-network-mirror"
}

resource "capydb_scheduled_backup" "s" {
  project_id  = capydb_project.p.id
  cron_hour   = 4
  cron_minute = 30
}
`;
}

describe.skipIf(!tfVersion)(`terraform-provider-capydb from the server's network mirror, under ${tfVersion ?? "terraform"}`, () => {
  let root: string;
  let release: ReleaseFiles;
  let t: TestServer;
  let cert: Buffer;
  let certFile: string;
  let apiKey: string;
  let mirrorUrl: string;
  let tfEnv: Record<string, string>;
  let workDir: string;
  let projectId = "";
  let databaseName = "";

  const tf = (args: string[]) => run("terraform", [...args, "-no-color"], { cwd: workDir, env: tfEnv });

  beforeAll(async () => {
    root = tempRoot("capydb-tf-mirror-");
    release = await writeRelease(path.join(root, "release"));

    // A self-signed certificate for the server: Terraform (Go) trusts it through SSL_CERT_FILE.
    certFile = path.join(root, "cert.pem");
    const keyFile = path.join(root, "key.pem");
    const openssl = await run(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ], // prettier-ignore
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 60_000 },
    );
    expect(openssl.code, explain(openssl)).toBe(0);
    cert = fs.readFileSync(certFile);

    t = await startTestServer({
      CAPYDB_TLS_CERT_FILE: certFile,
      CAPYDB_TLS_KEY_FILE: keyFile,
      CAPYDB_PROVIDER_RELEASE_DIR: path.join(root, "release"),
    });
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const org = await request(cert, `${t.url}/v1/organizations`, { method: "POST", apiKey: t.adminKey, body: { name: "Network mirror" } });
    expect(org.status, org.body.toString()).toBe(201);
    const orgId = (org.json().organization as { id: string }).id;
    const key = await request(cert, `${t.url}/v1/organizations/${orgId}/api-keys`, { method: "POST", apiKey: t.adminKey, body: { name: "terraform" } });
    expect(key.status, key.body.toString()).toBe(201);
    apiKey = key.json().secret as string;
    mirrorUrl = `${t.url}/terraform/providers/v1/`;

    // The Terraform process's PATH: a directory holding terraform only (a static Go binary).
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    const terraformPath = (process.env.PATH ?? "")
      .split(path.delimiter)
      .map((d) => path.join(d, "terraform"))
      .find((f) => fs.existsSync(f));
    fs.symlinkSync(fs.realpathSync(terraformPath!), path.join(bin, "terraform"));
    const cliConfig = path.join(root, "terraform.rc");
    fs.writeFileSync(cliConfig, `provider_installation {\n  network_mirror {\n    url = ${JSON.stringify(mirrorUrl)}\n  }\n}\n`);
    workDir = path.join(root, "work");
    fs.mkdirSync(workDir);
    fs.writeFileSync(path.join(workDir, "main.tf"), config(t.url));
    fs.mkdirSync(path.join(root, "home"));
    tfEnv = {
      PATH: bin,
      HOME: path.join(root, "home"),
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      TF_VAR_capydb_api_key: apiKey,
      // Terraform's mirror client trusts the certificate through Go's SSL_CERT_FILE; the provider
      // (Node inside) through NODE_EXTRA_CA_CERTS, from the environment Terraform hands it.
      SSL_CERT_FILE: certFile,
      NODE_EXTRA_CA_CERTS: certFile,
    };
  }, 600_000);

  afterAll(async () => {
    await t?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("writes a release whose SHA256SUMS match its files, with the registry manifest for protocol 6", () => {
    const names = releaseFileNames(PROVIDER_VERSION, "linux_amd64");
    expect(fs.readdirSync(path.dirname(release.zip)).sort()).toEqual([names.sha256sums, names.zip, names.manifest, names.registryManifest].sort());
    const lines = fs.readFileSync(release.sha256sums, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => l.slice(66))).toEqual([names.zip, names.manifest].sort());
    for (const line of lines) {
      const [sum, name] = line.split("  ");
      expect(sum, name).toBe(sha256(fs.readFileSync(path.join(path.dirname(release.zip), name))));
    }
    const manifest = { version: 1, metadata: { protocol_versions: ["6.0"] } };
    expect(JSON.parse(fs.readFileSync(release.manifest, "utf8"))).toEqual(manifest);
    expect(JSON.parse(fs.readFileSync(release.registryManifest, "utf8"))).toEqual(manifest);
  });

  it("ships one executable that runs with an empty environment and refuses to serve without Terraform's cookie", async () => {
    const dir = path.join(root, "unzipped");
    fs.mkdirSync(dir);
    const unzip = await run("unzip", ["-q", release.zip, "-d", dir], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    expect(unzip.code, explain(unzip)).toBe(0);
    const exe = path.join(dir, `terraform-provider-capydb_v${PROVIDER_VERSION}`);
    expect(fs.readdirSync(dir)).toEqual([path.basename(exe)]);
    expect(fs.statSync(exe).mode & 0o111).toBe(0o111);
    const refused = await run(exe, [], { env: {}, timeoutMs: 60_000 });
    expect(refused.code, explain(refused)).toBe(1);
    expect(refused.stdout).toBe(""); // stdout is the handshake's
    expect(refused.stderr).toContain("Refusing to start: TF_PLUGIN_MAGIC_COOKIE is not set to Terraform's value");
    const version = await run(exe, ["version"], { env: {}, timeoutMs: 60_000 });
    expect(version.stdout.trim()).toBe(`terraform-provider-capydb ${PROVIDER_VERSION}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("serves the network mirror protocol and the release files, without an API key", async () => {
    const base = `${mirrorUrl}${PROVIDER_ADDRESS}`;
    const index = await request(cert, `${base}/index.json`);
    expect(index.status).toBe(200);
    expect(index.json()).toEqual({ versions: { [PROVIDER_VERSION]: {} } });
    const zip = fs.readFileSync(release.zip);
    const versionDoc = await request(cert, `${base}/${PROVIDER_VERSION}.json`);
    expect(versionDoc.status).toBe(200);
    expect(versionDoc.json()).toEqual({
      archives: { linux_amd64: { url: path.basename(release.zip), hashes: [expect.stringMatching(/^h1:[A-Za-z0-9+/]{43}=$/), `zh:${sha256(zip)}`] } },
    });
    const archive = await request(cert, `${base}/${path.basename(release.zip)}`);
    expect(archive.status).toBe(200);
    expect(sha256(archive.body)).toBe(sha256(zip));
    for (const file of [release.sha256sums, release.manifest, release.registryManifest, release.zip]) {
      const r = await request(cert, `${t.url}/terraform/releases/${PROVIDER_VERSION}/${path.basename(file)}`);
      expect(r.status, file).toBe(200);
      expect(sha256(r.body), file).toBe(sha256(fs.readFileSync(file)));
    }
    // Only the release's own files, and only this provider.
    for (const p of [
      `/terraform/releases/${PROVIDER_VERSION}/..%2Fcert.pem`,
      `/terraform/releases/${PROVIDER_VERSION}/key.pem`,
      `/terraform/releases/..%2F..%2Fetc/passwd`,
      `/terraform/releases/9.9.9/${path.basename(release.manifest)}`,
      `/terraform/providers/v1/registry.terraform.io/hashicorp/random/index.json`,
      `/terraform/providers/v1/registry.terraform.io/capydb/capydb/9.9.9.json`,
      `/terraform/providers/v1/registry.terraform.io/capydb/capydb/..%2F..%2Fkey.pem`,
    ]) {
      const r = await request(cert, `${t.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(r.json().error, p).toEqual(expect.any(String));
    }
  }, 120_000);

  it("installs through the mirror with no node on Terraform's PATH, then applies and destroys a project and a backup schedule", async () => {
    // Nothing named node where Terraform (and the provider it starts) could find it.
    for (const dir of tfEnv.PATH.split(path.delimiter)) expect(fs.existsSync(path.join(dir, "node")), dir).toBe(false);
    const which = await run("/bin/sh", ["-c", "command -v node || echo no-node"], { env: { PATH: tfEnv.PATH } });
    expect(which.stdout.trim()).toBe("no-node");

    const init = await tf(["init", "-input=false"]);
    expect(init.code, explain(init)).toBe(0);
    expect(init.stdout).toContain(`Installing capydb/capydb v${PROVIDER_VERSION}`);
    expect(init.stdout).toContain(`Installed capydb/capydb v${PROVIDER_VERSION}`);
    const lock = fs.readFileSync(path.join(workDir, ".terraform.lock.hcl"), "utf8");
    const served = (await request(cert, `${mirrorUrl}${PROVIDER_ADDRESS}/${PROVIDER_VERSION}.json`)).json() as {
      archives: Record<string, { hashes: string[] }>;
    };
    // The lock file records the h1: hash Terraform computed of what it installed, which is the one
    // the mirror served. (The zh: hash, which Terraform checked the download against, goes into a
    // lock file only from a source that signs its checksums, which a network mirror cannot.)
    const [h1, zh] = served.archives.linux_amd64.hashes;
    expect(zh).toBe(`zh:${sha256(fs.readFileSync(release.zip))}`);
    const locked = [...lock.matchAll(/"((?:h1|zh):[^"]+)"/g)].map((m) => m[1]);
    expect(locked).toEqual([h1]);

    const apply = await tf(["apply", "-auto-approve", "-input=false"]);
    expect(apply.code, explain(apply)).toBe(0);
    expect(apply.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    const show = await tf(["show", "-json"]);
    const resources = (JSON.parse(show.stdout) as { values: { root_module: { resources: Array<{ address: string; values: Record<string, unknown> }> } } })
      .values.root_module.resources;
    projectId = resources.find((r) => r.address === "capydb_project.p")!.values.id as string;
    databaseName = resources.find((r) => r.address === "capydb_project.p")!.values.database_name as string;

    // On the server: the project, ready, with its schedule; its database in PostgreSQL.
    const project = await request(cert, `${t.url}/v1/projects/${projectId}`, { apiKey });
    expect(project.status).toBe(200);
    expect(project.json().project).toMatchObject({ id: projectId, name: "tf-network-mirror", state: "ready" });
    const schedules = await request(cert, `${t.url}/v1/projects/${projectId}/scheduled-backups`, { apiKey });
    expect(schedules.json().scheduled_backups).toEqual([expect.objectContaining({ cron_hour: 4, cron_minute: 30, is_active: true })]);
    expect(await databaseExists(databaseName)).toBe(true);

    const destroy = await tf(["destroy", "-auto-approve", "-input=false"]);
    expect(destroy.code, explain(destroy)).toBe(0);
    expect(destroy.stdout).toContain("Destroy complete! Resources: 2 destroyed.");
    const gone = await request(cert, `${t.url}/v1/projects/${projectId}`, { apiKey });
    if (gone.status === 200) expect((gone.json().project as { state: string }).state).toBe("deleted");
    else expect(gone.status).toBe(404);
    expect(await databaseExists(databaseName)).toBe(false);
  }, 600_000);
});
