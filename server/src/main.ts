// `npm start`: the whole product on one machine.
import { ConfigError, loadConfig } from "./config.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  const out = process.stderr;
  out.write(`capydb: API listening on ${server.url}  (OpenAPI: ${server.url}/v1/openapi.json)\n`);
  if (server.generatedAdminKey) {
    out.write(
      `\ncapydb: a platform-admin API key was generated. It is shown once and saved (mode 0600) in\n` +
        `        ${config.dataDir}/bootstrap-api-key\n\n    ${server.generatedAdminKey}\n\n`,
    );
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    out.write(`capydb: ${signal}: stopping (running jobs finish or go back to the queue)\n`);
    try {
      await server.stop();
      process.exit(0);
    } catch (err) {
      out.write(`capydb: error while stopping: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err);
  process.stderr.write(`capydb: failed to start: ${message}\n`);
  process.exit(1);
});
