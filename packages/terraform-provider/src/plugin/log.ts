// Logs for Terraform: one JSON object per line on stderr, in the shape go-plugin's client parses
// (@level, @message, @timestamp, @module), so `TF_LOG=debug` shows them with their level. Never
// pass secrets here: API keys and connection URIs stay out of every message.
export type Level = "trace" | "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: Level, message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** hclog's JSON timestamp: go-plugin parses "2006-01-02T15:04:05.000000Z07:00" (six fraction digits). */
function hclogTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export function createLogger(module = "provider.terraform-provider-capydb", write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log = (level: Level, message: string, fields: Record<string, unknown> = {}) => {
    write(JSON.stringify({ "@level": level, "@message": message, "@module": module, "@timestamp": hclogTime(), ...fields }) + "\n");
  };
  return {
    log,
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}
