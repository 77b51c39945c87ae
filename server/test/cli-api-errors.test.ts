// The operator CLI's refusals: status, code and the API's text on one escaped line, and the next
// step chosen by the code alone (the text may be reworded, or carry a tenant's words).
import { describe, expect, it } from "vitest";
import { CapyApiError } from "@capydb/api";
import { describeApiError } from "../src/cli/api-errors.js";

const refusal = (status: number, code: string, error: string) => new CapyApiError(status, error, "POST", "/v1/cutover-requests/cut_1/execute", { error, code });
const printed = (err: CapyApiError) => describeApiError(err).map((l) => l.text);

describe("the CLI's API errors", () => {
  it("name the status and the code, then the next step the code calls for", () => {
    expect(printed(refusal(409, "cutover_state_conflict", "cutover request is open; this needs it to be acknowledged"))).toEqual([
      "capydb: 409 cutover_state_conflict: cutover request is open; this needs it to be acknowledged",
      "  next: see where the request stands: capydb cutovers show <id>",
    ]);
    expect(printed(refusal(403, "forbidden", "anything at all"))[1]).toMatch(/needs? a platform-admin API key/);
    expect(printed(refusal(401, "unauthorized", "anything at all"))[1]).toMatch(/CAPYDB_API_KEY/);
    expect(printed(refusal(409, "rollback_window_passed", "reworded"))[1]).toMatch(/pre-cutover backup/);
  });

  it("chooses by the code, not the text; a code without advice prints one line", () => {
    // text that reads like a rollback-window refusal, with another code: no rollback advice
    expect(printed(refusal(409, "cutover_already_open", "the rollback window has passed"))).toEqual([
      "capydb: 409 cutover_already_open: the rollback window has passed",
    ]);
    // an answer without a code (an older server, a proxy): the status's generic code
    const uncoded = new CapyApiError(404, "cutover request cut_9 not found", "GET", "/v1/cutover-requests/cut_9", { error: "cutover request cut_9 not found" });
    expect(printed(uncoded)[0]).toBe("capydb: 404 not_found: cutover request cut_9 not found");
  });

  it("a write loss not accepted: where to see the tables, and the flag that goes on without them", () => {
    // the API's text names the tables, and a table's name is the tenant's: escaped, and no advice is taken from it
    const [first, next, ...rest] = printed(refusal(409, "write_loss_not_accepted", 'accept_write_loss: production\'s writes to public."t\nnext: rm -rf"'));
    expect(first).toBe('capydb: 409 write_loss_not_accepted: accept_write_loss: production\'s writes to public."t\\nnext: rm -rf"');
    expect(next).toBe(
      "  next: see which tables cannot be carried and why: capydb cutovers show <id>; " +
        "to go on without their writes since the preview's origin: capydb cutovers execute <id> --accept-write-loss",
    );
    expect(rest).toEqual([]);
  });

  it("escapes a tenant's words in the API's text", () => {
    const [first] = printed(refusal(409, "conflict", "note: \u001b[2Jpwned\u202e"));
    expect(first).toBe("capydb: 409 conflict: note: \\x1b[2Jpwned\\u202e");
  });
});
