// The plugin side of HashiCorp's go-plugin protocol, as Terraform 1.11's client expects it:
//
// 1. Terraform starts us with TF_PLUGIN_MAGIC_COOKIE (checked in main.ts), PLUGIN_PROTOCOL_VERSIONS
//    (we speak 6) and PLUGIN_CLIENT_CERT (its own certificate: the only client we accept).
// 2. We listen on a unix socket with TLS (a fresh self-signed certificate for "localhost"),
//    then print one handshake line on stdout:
//      1|6|unix|<socket path>|grpc|<our certificate, DER, base64 without padding>
// 3. Terraform connects with mutual TLS and calls the tfplugin6.Provider service, plus go-plugin's
//    plugin.GRPCStdio (stream opened at start), grpc.health.v1.Health/Check ("plugin"), and
//    plugin.GRPCController/Shutdown when it is done (it kills us 2 s later).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type Message, type MessageDescriptor, decodeMessage, encodeMessage } from "../proto/codec.js";
import * as m from "../proto/messages.js";
import type { CapyProvider } from "../provider.js";
import { makeServerCertificate } from "./certs.js";
import type { Logger } from "./log.js";

export const MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE";
export const MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
export const APP_PROTOCOL_VERSION = 6;
const CORE_PROTOCOL_VERSION = 1;
/** Terraform's gRPC message size limit for providers (256 MiB). */
const MAX_MESSAGE_BYTES = 256 << 20;

type Unary = (request: Message) => Message | Promise<Message>;

interface MethodSpec {
  request: MessageDescriptor;
  response: MessageDescriptor;
  serverStream?: boolean;
}

function serviceDefinition(service: string, methods: Record<string, MethodSpec>): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const [name, spec] of Object.entries(methods)) {
    def[name] = {
      path: `/${service}/${name}`,
      requestStream: false,
      responseStream: spec.serverStream ?? false,
      requestSerialize: (v: Message) => encodeMessage(spec.request, v),
      requestDeserialize: (b: Buffer) => decodeMessage(spec.request, b),
      responseSerialize: (v: Message) => encodeMessage(spec.response, v),
      responseDeserialize: (b: Buffer) => decodeMessage(spec.response, b),
      originalName: name,
    };
  }
  return def;
}

const PROVIDER_METHODS: Record<string, MethodSpec> = {
  GetProviderSchema: { request: m.GetProviderSchemaRequest, response: m.GetProviderSchemaResponse },
  ValidateProviderConfig: { request: m.ValidateProviderConfigRequest, response: m.ValidateProviderConfigResponse },
  ValidateResourceConfig: { request: m.ValidateResourceConfigRequest, response: m.ValidateResourceConfigResponse },
  ValidateDataResourceConfig: { request: m.ValidateDataResourceConfigRequest, response: m.ValidateDataResourceConfigResponse },
  UpgradeResourceState: { request: m.UpgradeResourceStateRequest, response: m.UpgradeResourceStateResponse },
  ConfigureProvider: { request: m.ConfigureProviderRequest, response: m.ConfigureProviderResponse },
  ReadResource: { request: m.ReadResourceRequest, response: m.ReadResourceResponse },
  PlanResourceChange: { request: m.PlanResourceChangeRequest, response: m.PlanResourceChangeResponse },
  ApplyResourceChange: { request: m.ApplyResourceChangeRequest, response: m.ApplyResourceChangeResponse },
  ImportResourceState: { request: m.ImportResourceStateRequest, response: m.ImportResourceStateResponse },
  ReadDataSource: { request: m.ReadDataSourceRequest, response: m.ReadDataSourceResponse },
  StopProvider: { request: m.StopProviderRequest, response: m.StopProviderResponse },
};

export const SERVICES = {
  provider: serviceDefinition("tfplugin6.Provider", PROVIDER_METHODS),
  controller: serviceDefinition("plugin.GRPCController", { Shutdown: { request: m.PluginEmpty, response: m.PluginEmpty } }),
  stdio: serviceDefinition("plugin.GRPCStdio", { StreamStdio: { request: m.PluginEmpty, response: m.StdioData, serverStream: true } }),
  health: serviceDefinition("grpc.health.v1.Health", { Check: { request: m.HealthCheckRequest, response: m.HealthCheckResponse } }),
};

function unary(log: Logger, name: string, fn: Unary): grpc.handleUnaryCall<Message, Message> {
  return (call, callback) => {
    const started = performance.now();
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (response) => {
          log.log("trace", `${name} done`, { rpc: name, ms: Math.round(performance.now() - started) });
          callback(null, response);
        },
        (err: unknown) => {
          log.error(`${name} failed`, { rpc: name, error: (err as Error)?.message ?? String(err) });
          callback({ code: grpc.status.INTERNAL, details: (err as Error)?.message ?? String(err) });
        },
      );
  };
}

export class HandshakeError extends Error {}

/** PLUGIN_PROTOCOL_VERSIONS must offer 6, the only version we speak. */
export function negotiateProtocol(env: NodeJS.ProcessEnv): number {
  const offered = (env.PLUGIN_PROTOCOL_VERSIONS ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  if (offered.length && !offered.includes(String(APP_PROTOCOL_VERSION))) {
    throw new HandshakeError(
      `Terraform offered plugin protocol version(s) ${offered.join(", ")}, but terraform-provider-capydb speaks only version ${APP_PROTOCOL_VERSION} (Terraform 1.0 or newer).`,
    );
  }
  return APP_PROTOCOL_VERSION;
}

export interface RunningPlugin {
  socketPath: string;
  handshake: string;
  /** Stops serving, removes the socket, closes the provider; idempotent. */
  stop(): Promise<void>;
  /** Resolves once Terraform asked us to shut down (or stop() was called). */
  done: Promise<void>;
}

export async function servePlugin(provider: CapyProvider, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunningPlugin> {
  const version = negotiateProtocol(env);
  const clientCert = env.PLUGIN_CLIENT_CERT;

  const socketDir = fs.mkdtempSync(path.join(env.PLUGIN_UNIX_SOCKET_DIR || os.tmpdir(), "capydb-plugin-"));
  const socketPath = path.join(socketDir, "plugin.sock");

  let credentials: grpc.ServerCredentials;
  let certField = "";
  if (clientCert) {
    const cert = makeServerCertificate();
    // Mutual TLS: only a client presenting Terraform's certificate gets in.
    credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(clientCert),
      [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certPem) }],
      true,
    );
    certField = cert.der.toString("base64").replace(/=+$/, "");
  } else {
    // go-plugin's behaviour without PLUGIN_CLIENT_CERT (a client that does not do AutoMTLS):
    // plaintext, on a socket only our user can reach.
    log.warn("PLUGIN_CLIENT_CERT is not set: serving without TLS");
    credentials = grpc.ServerCredentials.createInsecure();
  }

  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });
  const stdioStreams = new Set<grpc.ServerWritableStream<Message, Message>>();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | null = null;

  // Terraform kills a plugin 2 s after asking it to shut down, and waits for its exit before
  // going on: answer calls in flight for at most 100 ms, then go.
  const stop = () =>
    (stopping ??= (async () => {
      for (const s of stdioStreams) s.end();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 100);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      fs.rmSync(socketDir, { recursive: true, force: true });
      void provider.close();
      resolveDone();
    })());

  const p = provider;
  server.addService(SERVICES.provider, {
    GetProviderSchema: unary(log, "GetProviderSchema", () => p.getProviderSchema()),
    ValidateProviderConfig: unary(log, "ValidateProviderConfig", (r) => p.validateProviderConfig(r)),
    ValidateResourceConfig: unary(log, "ValidateResourceConfig", (r) => p.validateResourceConfig(r)),
    ValidateDataResourceConfig: unary(log, "ValidateDataResourceConfig", (r) => p.validateDataResourceConfig(r)),
    UpgradeResourceState: unary(log, "UpgradeResourceState", (r) => p.upgradeResourceState(r)),
    ConfigureProvider: unary(log, "ConfigureProvider", (r) => p.configureProvider(r)),
    ReadResource: unary(log, "ReadResource", (r) => p.readResource(r)),
    PlanResourceChange: unary(log, "PlanResourceChange", (r) => p.planResourceChange(r)),
    ApplyResourceChange: unary(log, "ApplyResourceChange", (r) => p.applyResourceChange(r)),
    ImportResourceState: unary(log, "ImportResourceState", (r) => p.importResourceState(r)),
    ReadDataSource: unary(log, "ReadDataSource", (r) => p.readDataSource(r)),
    StopProvider: unary(log, "StopProvider", () => p.stopProvider()),
  });
  server.addService(SERVICES.controller, {
    Shutdown: (_call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
      log.debug("Shutdown requested by Terraform");
      callback(null, {});
      // Answer first, then stop: Terraform waits for the answer and then for our exit.
      setImmediate(() => void stop());
    },
  });
  server.addService(SERVICES.stdio, {
    StreamStdio: (call: grpc.ServerWritableStream<Message, Message>) => {
      // Our output already reaches Terraform through stderr; keep the stream open until shutdown.
      stdioStreams.add(call);
      call.on("cancelled", () => stdioStreams.delete(call));
      call.on("close", () => stdioStreams.delete(call));
    },
  });
  server.addService(SERVICES.health, {
    Check: (call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
      const service = String(call.request.service ?? "");
      callback(null, { status: service === "" || service === "plugin" ? 1 : 3 });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, credentials, (err) => (err ? reject(err) : resolve()));
  });
  fs.chmodSync(socketPath, 0o600);

  const handshake = [CORE_PROTOCOL_VERSION, version, "unix", socketPath, "grpc", ...(certField ? [certField] : [])].join("|");
  return { socketPath, handshake, stop, done };
}
