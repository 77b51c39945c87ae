// What the operator reads when the API refuses a command: the status, the code and the API's
// text, then — for the codes an operator can act on — what to do next. The advice is chosen by
// the code, never by the text (which may be reworded, and may carry a tenant's words).
import type { CapyApiError, ErrorCode } from "@capydb/api";
import { line, type TerminalText } from "./terminal-text.js";

const NEXT_STEP: Partial<Record<ErrorCode, string>> = {
  unauthorized: "set CAPYDB_API_KEY to a platform-admin API key (or run where <data dir>/bootstrap-api-key exists)",
  forbidden: "operator commands need a platform-admin API key, not an organization's or a project's",
  not_found: "check the id: capydb cutovers list, capydb orgs list and capydb keys list --org <id> show what exists",
  endpoint_not_found: "this server does not know the command's endpoint: check that CAPYDB_API_URL points at a CapyDB server of this version",
  cutover_state_conflict: "see where the request stands: capydb cutovers show <id>",
  rollback_window_passed:
    "the previous production database is dropped; the pre-cutover backup (capydb cutovers show <id>) " +
    "can still be restored with POST /v1/backups/{backupID}/restore",
  write_loss_not_accepted:
    "see which tables cannot be carried and why: capydb cutovers show <id>; " +
    "to go on without their writes since the preview's origin: capydb cutovers execute <id> --accept-write-loss",
  unavailable: "the server or its control-plane database is unavailable: retry shortly",
};

/** The lines printed for an API error: "capydb: <status> <code>: <error>", then the next step if there is one. */
export function describeApiError(err: CapyApiError): TerminalText[] {
  const lines = [line`capydb: ${err.status} ${err.code}: ${err.message}`];
  const next = NEXT_STEP[err.code];
  if (next) lines.push(line`  next: ${next}`);
  return lines;
}
