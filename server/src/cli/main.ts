// The operator CLI: cutovers, organizations and API keys, through the typed client.
//   capydb cutovers list [--status open] [--project prj_…]
//   capydb cutovers show|acknowledge|reject|rollback <id> [--note …] [--ticket …] [--reason …] [--no-wait]
//   capydb cutovers execute <id> [--accept-write-loss] [--no-wait]   (the flag: go on although some tables'
//     production writes since the preview's origin cannot be carried into it; recorded on the request)
//   capydb projects move-to-instance <id> [--no-wait]
//   capydb orgs create <name> [--clerk-org org_…] | orgs list
//   capydb keys create --org org_… --name … [--project prj_…] | keys list --org org_… | keys revoke key_…
//   capydb start   the server itself (what `npm start` runs)
// Configuration: CAPYDB_API_URL (default http://127.0.0.1:8080) and CAPYDB_API_KEY
// (default: the bootstrap key in $CAPYDB_DATA_DIR or ./.capydb).
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { CapyApiError, CapyClient, JobFailedError, type Cutover } from "@capydb/api";
import { TerminalText, json, line, row } from "./terminal-text.js";
import { describeApiError } from "./api-errors.js";

// Everything printed is TerminalText (see terminal-text.ts): most of what this CLI shows was
// written by tenants, and an escape sequence in it must not reach the operator's terminal.
const USAGE = line`usage:
  capydb start                     run the server (configuration: the CAPYDB_* environment, see the README)
  capydb cutovers list [--status <status>] [--project <id>] [--json]
  capydb cutovers show <id> [--json]
  capydb cutovers acknowledge <id> [--note <text>] [--ticket <ref>]
  capydb cutovers reject <id> --reason <text> [--note <text>]
  capydb cutovers execute <id> [--accept-write-loss] [--no-wait]
  capydb cutovers rollback <id> [--no-wait]
  capydb projects move-to-instance <id> [--no-wait]
  capydb orgs create <name> [--clerk-org <clerk org id>]
  capydb orgs list [--json]
  capydb keys create --org <id> --name <name> [--project <id>]
  capydb keys list --org <id> [--json]
  capydb keys revoke <key id>
environment: CAPYDB_API_URL (default http://127.0.0.1:8080), CAPYDB_API_KEY (default: <data dir>/bootstrap-api-key)`;

class UsageError extends Error {
  constructor(readonly terminal: TerminalText) {
    super(terminal.text);
  }
}

function apiKey(): string {
  if (process.env.CAPYDB_API_KEY) return process.env.CAPYDB_API_KEY;
  const file = path.join(path.resolve(process.env.CAPYDB_DATA_DIR ?? ".capydb"), "bootstrap-api-key");
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    throw new UsageError(line`no API key: set CAPYDB_API_KEY (an operator's platform-admin key) or run where ${file} exists`);
  }
}

const out = (text: TerminalText): void => {
  process.stdout.write(text.text + "\n");
};
const fail = (text: TerminalText): void => {
  process.stderr.write(text.text + "\n");
};

function printCutovers(rows: Cutover[]): void {
  if (rows.length === 0) return out(line`no cutover requests`);
  out(row("ID", "STATUS", "PROJECT", "PREVIEW", "REQUESTED", "NOTE"));
  for (const c of rows) out(row(c.id, c.status, c.project_id, c.preview_database_id, c.created_at, (c.customer_note ?? "").slice(0, 60)));
}

/** Fields printed by their own functions below, not as one value on the field's line. */
const DETAILED_FIELDS = new Set([
  "schema_diff_at_open",
  "schema_diff_at_execute",
  "production_schema_changed",
  "production_schema_changes",
  "writes_since_origin",
  "carry_over",
  "schema_applied",
]);

/**
 * One field per line at the left margin; a diff's statements and production's changed lines
 * are indented under their field, so no tenant text (a table name with a newline in it) can
 * start a line of its own.
 */
function printCutover(c: Cutover): void {
  for (const [k, v] of Object.entries(c)) if (v !== null && !DETAILED_FIELDS.has(k)) out(line`${k.padEnd(24)} ${v}`);
  printWrites(c.writes_since_origin);
  printCarryOver(c.carry_over);
  if (c.schema_applied) {
    const a = c.schema_applied;
    out(line`${"schema_applied".padEnd(24)} ${a.statements} statements in ${a.attempts} attempt(s); ${a.residual.length} still differ from the preview`);
    for (const st of a.residual) out(line`  [${st.risk}] ${st.sql.split("\n")[0]}`);
  }
  printReview("schema_diff_at_open", c.schema_diff_at_open);
  printReview("schema_diff_at_execute", c.schema_diff_at_execute);
  const changes = c.production_schema_changes;
  if (c.production_schema_changed && changes) {
    out(
      line`${"production_schema_changed".padEnd(24)} true: WARNING: production's schema changed between the request's opening and its execution (pg_dump --schema-only lines):`,
    );
    for (const l of changes.removed) out(line`  - ${l}`);
    for (const l of changes.added) out(line`  + ${l}`);
  } else if (c.production_schema_changed === false) {
    out(line`${"production_schema_changed".padEnd(24)} false: production's schema did not change between the request's opening and its execution`);
  }
}

/** Production's writes since the preview's origin: a total line, then a line per table (indented). */
function printWrites(w: Cutover["writes_since_origin"]): void {
  const key = "writes_since_origin".padEnd(24);
  if (!w) return;
  if (!w.known) return out(line`${key} unknown: ${w.reason ?? "no reason given"}`);
  const sum = (k: "inserts" | "updates" | "deletes") => w.tables.reduce((n, t) => n + t[k], 0);
  if (w.tables.length === 0) return out(line`${key} none since ${w.since_lsn} (as of ${w.as_of})`);
  out(
    line`${key} ${sum("inserts")} inserts, ${sum("updates")} updates, ${sum("deletes")} deletes in ${w.tables.length} tables since ${w.since_lsn}; last at ${w.last_write_at} (as of ${w.as_of})`,
  );
  for (const t of w.tables) out(line`  ${t.table}: ${t.inserts} inserts, ${t.updates} updates, ${t.deletes} deletes, last at ${t.last_write_at}`);
}

/**
 * How a data cutover carries production's writes into the preview: a summary line, then (indented)
 * each table that cannot be carried with why, and each table's carried and skipped rows.
 */
function printCarryOver(c: Cutover["carry_over"]): void {
  const key = "carry_over".padEnd(24);
  if (!c) return;
  if (!c.possible) return out(line`${key} not possible: ${c.reason ?? "no reason given"} (state ${c.state}, accept_write_loss ${c.accept_write_loss})`);
  const pause = c.pause_ms === null ? "no write pause yet" : `writes paused ${c.pause_ms} ms`;
  out(
    line`${key} ${c.state}: ${c.transactions} transactions carried through ${c.through_lsn ?? "no position yet"}, ${c.sequences} sequences set, ${pause}; accept_write_loss ${c.accept_write_loss}`,
  );
  const lost = c.tables_not_carried.length;
  if (lost > 0) {
    out(
      c.accept_write_loss
        ? line`  ${lost} tables not carried: their writes since the origin are not in the new production (accepted)`
        : line`  ${lost} tables not carried: execute refuses until run with --accept-write-loss`,
    );
  }
  for (const t of c.tables_not_carried) out(line`  not carried ${t.table}: ${t.reason}`);
  for (const t of c.tables) out(line`  carried ${t.table}: ${t.inserts} inserts, ${t.updates} updates, ${t.deletes} deletes; ${t.skipped} skipped`);
}

/** One moment's schema evidence: a summary line, then each statement (its lines indented) with its risk and why. */
function printReview(field: string, r: Cutover["schema_diff_at_open"]): void {
  const key = field.padEnd(24);
  if (!r) return out(line`${key} none`);
  if (r.state === "pending") return out(line`${key} pending (asked at ${r.taken_at})`);
  if (r.state === "failed") return out(line`${key} failed: ${r.error ?? "unknown error"}`);
  const { safe, risky, destructive } = r.summary;
  out(line`${key} taken ${r.taken_at}: ${r.statements.length} statements: ${destructive} destructive, ${risky} risky, ${safe} safe`);
  for (const st of r.statements) {
    const [first, ...rest] = st.sql.split("\n");
    out(line`  [${st.risk}] ${first}`);
    for (const l of rest) out(line`      ${l}`);
    if (st.risk !== "safe") out(line`      why: ${st.reason}`);
  }
}

/** A failed job's error on one line, then its stderr tail a line at a time (indented, each escaped). */
function printJobFailure(err: JobFailedError): void {
  const { job } = err;
  fail(job.error ? line`capydb: job ${job.id} (${job.type}) ${job.state}: ${job.error}` : line`capydb: job ${job.id} (${job.type}) ${job.state}`);
  if (!err.stderrTail) return;
  fail(line`--- last stderr ---`);
  for (const l of err.stderrTail.split(/\r?\n/)) fail(line`  ${l}`);
}

async function waitFor(client: CapyClient, jobId: string, what: string): Promise<void> {
  const started = Date.now();
  await client.waitForJob(jobId, {
    timeoutMs: 60 * 60 * 1000,
    onProgress: (job) => out(line`${what}: job ${job.id} ${job.state} (attempt ${job.attempts}, ${((Date.now() - started) / 1000).toFixed(1)}s)`),
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      status: { type: "string" },
      project: { type: "string" },
      note: { type: "string" },
      ticket: { type: "string" },
      reason: { type: "string" },
      org: { type: "string" },
      name: { type: "string" },
      "clerk-org": { type: "string" },
      "no-wait": { type: "boolean", default: false },
      "accept-write-loss": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [group, command, arg] = positionals;
  if (values.help || !group) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  // accepting write loss is a decision: a flag that did nothing on another command would mislead
  if (values["accept-write-loss"] && `${group} ${command}` !== "cutovers execute") {
    throw new UsageError(line`--accept-write-loss applies to cutovers execute only\n${USAGE}`);
  }
  // a request's live counts (production's writes since a preview's origin) may take the server up to a minute to decode
  const client = new CapyClient({ baseUrl: process.env.CAPYDB_API_URL ?? "http://127.0.0.1:8080", apiKey: apiKey(), timeoutMs: 90_000 });
  const printJson = (v: unknown) => out(json(v));
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new UsageError(line`missing ${what}\n${USAGE}`);
    return v;
  };
  try {
    switch (`${group} ${command}`) {
      case "cutovers list": {
        const rows = values.project
          ? (await client.listCutoverRequests(values.project)).cutover_requests.filter((c) => !values.status || c.status === values.status)
          : (await client.listAllCutoverRequests({ status: values.status as Cutover["status"] | undefined })).cutover_requests;
        if (values.json) printJson(rows);
        else printCutovers(rows);
        return 0;
      }
      case "cutovers show": {
        const c = (await client.getCutoverRequest(need(arg, "<id>"))).cutover_request;
        if (values.json) printJson(c);
        else printCutover(c);
        return 0;
      }
      case "cutovers acknowledge": {
        const c = (await client.acknowledgeCutoverRequest(need(arg, "<id>"), { operator_note: values.note, external_ticket_ref: values.ticket }))
          .cutover_request;
        out(line`${c.id} acknowledged`);
        return 0;
      }
      case "cutovers reject": {
        const c = (await client.rejectCutoverRequest(need(arg, "<id>"), { rejected_reason: need(values.reason, "--reason"), operator_note: values.note }))
          .cutover_request;
        out(line`${c.id} rejected: ${c.rejected_reason}`);
        return 0;
      }
      case "cutovers execute": {
        const accept = values["accept-write-loss"];
        const c = (await client.executeCutoverRequest(need(arg, "<id>"), accept ? { accept_write_loss: true } : {})).cutover_request;
        out(line`${c.id} in progress: pre-cutover backup, then promote (job ${c.promote_job_id})${accept ? "; write loss accepted" : ""}`);
        if (values["no-wait"]) return 0;
        await waitFor(client, c.promote_job_id!, "promote");
        const done = (await client.getCutoverRequest(c.id)).cutover_request;
        out(line`${done.id} ${done.status}; pre-cutover backup ${done.pre_cutover_backup_id}; rollback possible until ${done.rollback_until}`);
        printCarryOver(done.carry_over);
        return done.status === "completed" ? 0 : 1;
      }
      case "cutovers rollback": {
        const c = (await client.rollbackCutoverRequest(need(arg, "<id>"))).cutover_request;
        out(line`${c.id} rolling back (job ${c.rollback_job_id})`);
        if (values["no-wait"]) return 0;
        await waitFor(client, c.rollback_job_id!, "rollback");
        out(line`${c.id} ${(await client.getCutoverRequest(c.id)).cutover_request.status}`);
        return 0;
      }
      case "projects move-to-instance": {
        const id = need(arg, "<id>");
        const { job } = await client.moveProjectToInstance(id);
        out(line`${id} moving to an instance of its own (job ${job.id}): the project is down until the copy is done`);
        if (values["no-wait"]) return 0;
        await waitFor(client, job.id, "move");
        const moved = (await client.getProject(id)).project;
        out(line`${id} moved: direct port ${String(moved.direct_port)} (the pooled connection string is unchanged)`);
        return 0;
      }
      case "orgs create": {
        const o = (await client.createOrganization({ name: need(arg, "<name>"), clerk_organization_id: values["clerk-org"] })).organization;
        if (values.json) printJson(o);
        else out(row(o.id, o.name));
        return 0;
      }
      case "orgs list": {
        const rows = (await client.listOrganizations()).organizations;
        if (values.json) printJson(rows);
        else rows.forEach((o) => out(row(o.id, o.name, o.clerk_organization_id)));
        return 0;
      }
      case "keys create": {
        const k = await client.createApiKey(need(values.org, "--org"), { name: need(values.name, "--name"), project_id: values.project });
        if (values.json) printJson(k);
        else {
          out(k.api_key.project_id ? row(k.api_key.id, k.api_key.name, `project ${k.api_key.project_id}`) : row(k.api_key.id, k.api_key.name));
          out(line`secret (shown once): ${k.secret}`);
        }
        return 0;
      }
      case "keys list": {
        const rows = (await client.listApiKeys(need(values.org, "--org"))).api_keys;
        if (values.json) printJson(rows);
        else rows.forEach((k) => out(row(k.id, `${k.prefix}…`, k.name, k.project_id ?? "organization", k.last_used_at ?? "never used")));
        return 0;
      }
      case "keys revoke": {
        const k = (await client.revokeApiKey(need(arg, "<key id>"))).api_key;
        out(line`${k.id} revoked`);
        return 0;
      }
      default:
        throw new UsageError(line`unknown command: ${positionals.join(" ")}\n${USAGE}`);
    }
  } finally {
    await client.close();
  }
}

const isMain = process.argv[1] && /capydb(\.js)?$|cli\/(main\.ts|main\.js)$/.test(process.argv[1]);
if (isMain && process.argv[2] === "start" && process.argv.length === 3) {
  // the server itself (what `npm start` runs), in this process: it stays up until a signal
  await import("../main.js");
} else if (isMain) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof UsageError) fail(err.terminal);
      else if (err instanceof CapyApiError) describeApiError(err).forEach(fail);
      else if (err instanceof JobFailedError) printJobFailure(err);
      else fail(line`capydb: ${(err as Error).message}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
