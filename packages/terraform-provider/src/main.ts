// terraform-provider-capydb: started by Terraform as a plugin, or by hand for `schema` / `version`.
//
// stdout belongs to the plugin handshake: nothing may be written to it before the handshake line,
// so console.log and friends go to stderr from the first line on.
import fs from "node:fs";
import { CapyProvider } from "./provider.js";
import { createLogger } from "./plugin/log.js";
import { HandshakeError, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, servePlugin } from "./plugin/server.js";
import { PROVIDER_VERSION, providerSchemaJson } from "./registry.js";

const USAGE = `terraform-provider-capydb ${PROVIDER_VERSION}: the CapyDB Terraform provider (plugin protocol 6).

This program is a Terraform plugin: Terraform starts it, you do not. Install it through a
filesystem mirror or dev_overrides (see packages/terraform-provider/README.md), then run
\`terraform init\` and \`terraform plan\` as usual.

Commands:
  terraform-provider-capydb schema    print the provider schema as \`terraform providers schema -json\` does
  terraform-provider-capydb version   print the version
`;

function redirectConsoleToStderr(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

async function servePluginProcess(): Promise<number> {
  const log = createLogger();
  const provider = new CapyProvider(log);
  let plugin;
  try {
    plugin = await servePlugin(provider, log);
  } catch (err) {
    process.stderr.write(`terraform-provider-capydb: ${err instanceof HandshakeError ? err.message : (err as Error).stack}\n`);
    return 1;
  }
  // go-plugin servers ignore SIGINT: Ctrl-C reaches the whole process group, and Terraform
  // itself decides how to stop us (StopProvider, then Shutdown).
  process.on("SIGINT", () => log.debug("SIGINT ignored (Terraform will ask us to stop)"));
  process.on("SIGTERM", () => void plugin.stop());
  // If Terraform dies without a Shutdown, do not linger as an orphan.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void plugin.stop();
  }, 1000).unref();

  process.stdout.write(plugin.handshake + "\n");
  log.debug("serving", { socket: plugin.socketPath, pid: process.pid });
  await plugin.done;
  // Close stdout first and give Terraform's reader a moment to see its end: go-plugin logs an
  // error when the process is gone before its stdout scanner finished. Then exit explicitly:
  // the API client's kept-alive sockets must not hold the process.
  try {
    fs.closeSync(1);
  } catch {
    // already closed
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.exit(0);
}

async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const command = argv[0];
  if (command === "schema") {
    process.stdout.write(JSON.stringify(providerSchemaJson(), null, 2) + "\n");
    return 0;
  }
  if (command === "version" || command === "--version" || command === "-v") {
    process.stdout.write(`terraform-provider-capydb ${PROVIDER_VERSION}\n`);
    return 0;
  }
  if (command === "__warmup") {
    // Used by src/bundle.ts to make the V8 code cache; not for users.
    const { warmUp } = await import("./warmup.js");
    await warmUp();
    return 0;
  }
  if (command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return 0;
  }
  redirectConsoleToStderr();
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write(`${USAGE}\nRefusing to start: ${MAGIC_COOKIE_KEY} is not set to Terraform's value, so this was not started by Terraform.\n`);
    return 1;
  }
  if (command !== undefined) {
    process.stderr.write(`terraform-provider-capydb: unexpected argument "${command}" (Terraform passes none)\n`);
    return 1;
  }
  return servePluginProcess();
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`terraform-provider-capydb: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
