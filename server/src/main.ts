// `npm start`: the whole product on one machine.
import { ConfigError, loadConfig } from "./config.js";
import { startServer } from "./server.js";

/**
 * One Ctrl-C can reach us more than once: from the terminal (every process of the
 * foreground group gets it) and again from a wrapper that relays signals to its
 * child (npm and tsx do), milliseconds apart. Repeats this close together are that
 * one key press, not a second one.
 */
const SAME_SIGNAL_MS = 1000;

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
  const force = new AbortController();
  let lastSignalAt = 0;
  let signals = 0;
  const shutdown = async (signal: string) => {
    out.write(
      `capydb: ${signal}: stopping (running jobs get ${config.shutdownGraceSeconds} s to finish, then go back to the queue; ` +
        `${signal === "SIGINT" ? "Ctrl-C" : signal} again hands them back at once)\n`,
    );
    try {
      const { handedBack } = await server.stop({ force: force.signal });
      out.write(`capydb: stopped; ${handedBack} running job${handedBack === 1 ? "" : "s"} handed back to the queue\n`);
      process.exit(0);
    } catch (err) {
      out.write(`capydb: error while stopping: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (now - lastSignalAt < SAME_SIGNAL_MS) return;
    lastSignalAt = now;
    signals++;
    if (signals === 1) {
      void shutdown(signal);
    } else if (signals === 2) {
      out.write(`capydb: ${signal} again: stopping running jobs now and handing them back to the queue\n`);
      force.abort();
    } else {
      // Tools are killed on exit (jobs/tools.ts); their jobs are rescued when their leases run out.
      out.write(`capydb: ${signal} a third time: stopping at once; jobs not yet handed back are retried when their lease runs out\n`);
      process.exit(1);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`capydb: failed to start: ${message}\n`);
  process.exit(1);
});
