// The provider as a process, driven the way go-plugin drives it (without Terraform): the magic
// cookie, the handshake line, mutual TLS, the health service, SIGINT, and Shutdown.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_NAME, buildBundle } from "../src/bundle.js";
import { makeServerCertificate } from "../src/plugin/certs.js";
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, SERVICES } from "../src/plugin/server.js";
import type { Message } from "../src/proto/codec.js";
import { tempRoot } from "./terraform-cli.js";

type Child = ChildProcessByStdio<null, Readable, Readable>;

let root: string;
let bundle: string;
const terraformSide = makeServerCertificate(); // go-plugin's client certificate stands in here
const children: Child[] = [];

function start(env: Record<string, string | undefined>): Child {
  const child = spawn(process.execPath, [bundle], { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

function collect(stream: Readable): { text: () => string } {
  let text = "";
  stream.on("data", (d: Buffer) => (text += d.toString()));
  return { text: () => text };
}

function exited(child: Child, timeoutMs: number): Promise<number | null | "timeout"> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    stream.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\n")) resolve(buf.slice(0, buf.indexOf("\n")));
    });
    stream.on("end", () => reject(new Error(`stdout ended before a line: ${JSON.stringify(buf)}`)));
  });
}

function pluginEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS: "5,6", PLUGIN_CLIENT_CERT: terraformSide.certPem, ...extra };
}

function clientFor(service: grpc.ServiceDefinition, address: string, serverCertDer: Buffer, client = terraformSide) {
  const serverPem = `-----BEGIN CERTIFICATE-----\n${serverCertDer.toString("base64")}\n-----END CERTIFICATE-----\n`;
  const Ctor = grpc.makeGenericClientConstructor(service, "Service");
  const creds = grpc.credentials.createSsl(Buffer.from(serverPem), Buffer.from(client.keyPem), Buffer.from(client.certPem));
  return new Ctor(`unix:${address}`, creds, { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" }) as unknown as Record<
    string,
    (req: Message, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Message) => void) => void
  > & { close(): void };
}

function call(client: ReturnType<typeof clientFor>, method: string, req: Message = {}): Promise<Message> {
  return new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

beforeAll(async () => {
  root = tempRoot("capydb-plugin-test-");
  await buildBundle(root);
  bundle = path.join(root, BUNDLE_NAME);
}, 60_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  fs.rmSync(root, { recursive: true, force: true });
});

describe("terraform-provider-capydb as a go-plugin process", () => {
  it("refuses to start without Terraform's magic cookie, with a human message and nothing on stdout", async () => {
    const child = start({});
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    expect(await exited(child, 10_000)).toBe(1);
    expect(out.text()).toBe("");
    expect(err.text()).toContain("This program is a Terraform plugin");
    expect(err.text()).toContain(MAGIC_COOKIE_KEY);
  });

  it("refuses protocol versions other than 6", async () => {
    const child = start(pluginEnv({ PLUGIN_PROTOCOL_VERSIONS: "4,5" }));
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    expect(await exited(child, 10_000)).toBe(1);
    expect(out.text()).toBe("");
    expect(err.text()).toContain("speaks only version 6");
  });

  it("prints the handshake first, serves mutual TLS, health and the provider, ignores SIGINT, and exits on Shutdown", async () => {
    const child = start(pluginEnv());
    const err = collect(child.stderr);
    const line = await firstLine(child.stdout);
    const match = /^1\|6\|unix\|(\/[^|]+)\|grpc\|([A-Za-z0-9+/]+)$/.exec(line);
    expect(match, line).not.toBeNull();
    const [, socket, certB64] = match!;
    // Standard base64 (the regex allows no "="): its padding removed, as go-plugin expects.
    const der = Buffer.from(certB64, "base64");
    const cert = new crypto.X509Certificate(der);
    expect(cert.subjectAltName).toBe("DNS:localhost");
    expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.1");
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now());
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);

    const health = clientFor(SERVICES.health, socket, der);
    expect(await call(health, "Check", { service: "plugin" })).toEqual({ status: 1 });

    const provider = clientFor(SERVICES.provider, socket, der);
    const schema = await call(provider, "GetProviderSchema");
    const attrs = (schema.provider as { block: { attributes: Array<{ name: string; sensitive: boolean }> } }).block.attributes;
    expect(attrs.find((a) => a.name === "api_key")?.sensitive).toBe(true);
    expect(Object.keys(schema.resource_schemas as object).sort()).toEqual([
      "capydb_extension",
      "capydb_masking_rules",
      "capydb_preview_database",
      "capydb_project",
      "capydb_scheduled_backup",
      "capydb_trust_policy",
    ]);
    expect(Object.keys(schema.data_source_schemas as object).sort()).toEqual(["capydb_backups", "capydb_project"]);

    // A client without Terraform's certificate does not get in.
    const stranger = clientFor(SERVICES.health, socket, der, makeServerCertificate());
    await expect(call(stranger, "Check", { service: "plugin" })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    stranger.close();

    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode).toBeNull();
    expect(await call(health, "Check", { service: "plugin" })).toEqual({ status: 1 });

    const controller = clientFor(SERVICES.controller, socket, der);
    const asked = performance.now();
    await call(controller, "Shutdown");
    expect(await exited(child, 2_000)).toBe(0);
    expect(performance.now() - asked).toBeLessThan(2_000);
    expect(fs.existsSync(socket)).toBe(false);
    for (const c of [health, provider, controller]) c.close();
    expect(err.text()).not.toContain("Error");
  }, 30_000);
});
