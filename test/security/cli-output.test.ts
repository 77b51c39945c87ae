// The operator CLI as a tenant would attack it: text the tenant writes (a cutover request's
// customer note) is shown on the operator's terminal by `capydb cutovers list/show`. Raw, an
// escape sequence in it clears the operator's screen and draws a forged row, writes the
// operator's clipboard (OSC 52), or reorders the line (bidi override). The CLI runs here as
// the operator runs it, a process writing to a pipe, and what it writes is checked byte for byte.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { CapyClient } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { organization } from "../harness/tenants.js";
import { psql } from "../harness/sql.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../server/bin/capydb.js");

const ESC = "\x1b";
const CLEAR_AND_HOME = `${ESC}[2J${ESC}[H`;
const OSC52_CLIPBOARD = `${ESC}]52;c;ZWNobyBwd25lZA==\x07`; // "echo pwned" into the clipboard
const NOTE = CLEAR_AND_HOME + OSC52_CLIPBOARD + "\r\u009b2J\u202eok" + "\ncut_forged\topen";
/** The note as the operator must see it: every control and bidi character spelled out. */
const NOTE_SHOWN = "\\x1b[2J\\x1b[H\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\r\\x9b2J\\u202eok\\ncut_forged\\topen";

/** A table the tenant makes in the preview: its name breaks the line, forges a row and clears the screen. */
const HOSTILE_TABLE = `t\ncut_forged\topen\r${ESC}[2J\u202e`;

/** Control characters (tab and newline excepted: the CLI's own layout) and bidi controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const rawCharacters = (text: string) => [...text.matchAll(RAW)].map((m) => `U+${m[0].codePointAt(0)!.toString(16).padStart(4, "0")}`);

let t: TestServer;
let tenant: CapyClient;
let cutoverId: string;

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const run = await promisify(execFile)("node", [bin, ...args], {
    env: { ...process.env, CAPYDB_API_URL: t.url, CAPYDB_API_KEY: t.adminKey },
    encoding: "utf8",
  });
  return { stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  t = await startTestServer();
  const { orgId, client } = await organization(t, "Mallory", "mallory");
  tenant = client;

  // The names the CLI prints refuse control and bidi characters at the API already...
  for (const hostile of [CLEAR_AND_HOME + "acme", "acme\u202e", "acme\u009b2J"]) {
    await expect(tenant.createProject({ name: hostile })).rejects.toMatchObject({ status: 400 });
    await expect(tenant.createApiKey(orgId, { name: hostile })).rejects.toMatchObject({ status: 400 });
  }
  const { job, project } = await tenant.createProject({ name: "shop" });
  await tenant.waitForJob(job.id, { timeoutMs: 60_000 });
  await expect(tenant.createPreview(project.id, { name: `pr${ESC}[2J` })).rejects.toMatchObject({ status: 400 });
  const preview = await tenant.createPreview(project.id, { source_kind: "empty" });
  await tenant.waitForJob(preview.job.id, { timeoutMs: 60_000 });

  // ...the customer note is free text, and it gets through; so do the names in the preview's schema diff.
  psql(await tenant.getPreviewConnectionUri(preview.preview.id), `create table "${HOSTILE_TABLE}" (id int)`);
  const { cutover_request } = await tenant.createCutoverRequest(project.id, { preview_id: preview.preview.id, customer_note: NOTE });
  expect(cutover_request.customer_note).toBe(NOTE);
  cutoverId = cutover_request.id;
  const deadline = Date.now() + 60_000;
  while ((await tenant.getCutoverRequest(cutoverId)).cutover_request.schema_diff_at_open?.state === "pending" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const diff = (await tenant.getCutoverRequest(cutoverId)).cutover_request.schema_diff_at_open!;
  expect(diff.state).toBe("ready");
  expect(diff.statements.map((st) => st.sql).join("")).toContain(HOSTILE_TABLE);
}, 180_000);
afterAll(async () => {
  await tenant?.close();
  await t?.stop();
});

describe("operator CLI output of tenant text", () => {
  it("cutovers list: no raw control or bidi character reaches the terminal, the note is shown escaped, and it cannot add a row", async () => {
    expect(NOTE.length).toBeLessThanOrEqual(60); // the list shows the first 60 characters of a note
    const { stdout, stderr } = await cli("cutovers", "list", "--status", "open");
    expect(rawCharacters(stdout)).toEqual([]);
    expect(rawCharacters(stderr)).toEqual([]);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2); // the header and the one request
    const cells = lines[1].split("\t");
    expect(cells).toHaveLength(6);
    expect(cells[0]).toBe(cutoverId);
    expect(cells[5]).toBe(NOTE_SHOWN);
    expect(lines.some((l) => l.startsWith("cut_forged"))).toBe(false);
  });

  it("cutovers show: every line is one field or indented under one, the note and the diff's names escaped", async () => {
    const { stdout, stderr } = await cli("cutovers", "show", cutoverId);
    expect(rawCharacters(stdout)).toEqual([]);
    expect(rawCharacters(stderr)).toEqual([]);
    const lines = stdout.trimEnd().split("\n");
    // a field per line, or a detail indented under one (the schema diff's statements)
    for (const l of lines) expect(l).toMatch(/^([a-z_]+ +\S| {2}\S| {6})/);
    expect(lines.filter((l) => l.startsWith(" ")).length).toBeGreaterThan(0);
    // the statement's own line break is kept, indented; the rest of the name is spelled out
    expect(lines).toContain(`      cut_forged\\topen\\r\\x1b[2J\\u202e" (`);
    expect(lines).toContain(`${"customer_note".padEnd(24)} ${NOTE_SHOWN}`);
    expect(lines.some((l) => l.startsWith("cut_forged"))).toBe(false);
  });

  it("cutovers show --json: C1 and bidi characters (which JSON.stringify leaves raw) are \\u-escaped and the JSON still holds the exact note", async () => {
    const { stdout } = await cli("cutovers", "show", cutoverId, "--json");
    expect(rawCharacters(stdout)).toEqual([]);
    expect(stdout).toContain("\\u009b2J\\u202eok");
    expect(JSON.parse(stdout).customer_note).toBe(NOTE);
  });
});
