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
import { organization, readyProject } from "../harness/tenants.js";
import { psql } from "../harness/sql.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../harness/reflink.js";
import { freePort } from "../harness/ports.js";

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

/** The CLI against a server, its exit code kept (execFile's rejection is how a non-zero exit arrives). */
async function cliAt(server: TestServer, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const run = await promisify(execFile)("node", [bin, ...args], {
      env: { ...process.env, CAPYDB_API_URL: server.url, CAPYDB_API_KEY: server.adminKey },
      encoding: "utf8",
    });
    return { code: 0, stdout: run.stdout, stderr: run.stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
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

  it("cutovers show: a carry-over that is not possible says why, on its own field line", async () => {
    const { stdout } = await cli("cutovers", "show", cutoverId);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("carry_over"))).toEqual([
      `${"carry_over".padEnd(24)} not possible: on the shared engine previews are logical copies with no origin: production's writes since are not counted (state waiting, accept_write_loss false)`,
    ]);
  });

  it("cutovers show --json: C1 and bidi characters (which JSON.stringify leaves raw) are \\u-escaped and the JSON still holds the exact note", async () => {
    const { stdout } = await cli("cutovers", "show", cutoverId, "--json");
    expect(rawCharacters(stdout)).toEqual([]);
    expect(stdout).toContain("\\u009b2J\\u202eok");
    expect(JSON.parse(stdout).customer_note).toBe(NOTE);
  });
});

/**
 * A production table whose name forges the carry-over's own field line (saying the loss was
 * accepted and the carry done), then clears the screen and reverses the line. It has no primary
 * key, so its updates cannot be carried.
 */
const FORGING_TABLE = `t\ncarry_over  done; accept_write_loss true${ESC}[2J\u202e`;
const FORGING_SHOWN = `public."t\\ncarry_over  done; accept_write_loss true\\x1b[2J\\u202e"`;

describe("operator CLI and a data cutover's carry-over (instance engine)", () => {
  let fsDir: ReflinkDir;
  let s: TestServer;
  let owner: CapyClient;
  let id: string;
  const carryLines = (stdout: string) =>
    stdout.split("\n").filter((l) => l.startsWith("carry_over") || l.startsWith("  not carried") || l.startsWith("  carried"));

  beforeAll(async () => {
    fsDir = reflinkDir("cli-carry");
    const first = await freePort();
    s = await startTestServer({
      CAPYDB_DATA_PLANE_ENGINE: "instances",
      CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
      CAPYDB_INSTANCE_PORTS: `${first}-${first + 10}`,
    });
    owner = (await organization(s, "Carry", "c")).client;
    const { project, uri } = await readyProject(owner, "shop");
    psql(uri, `create table "${FORGING_TABLE}" (v int); insert into "${FORGING_TABLE}" values (1); create table kept (id int primary key)`);
    const { preview, job } = await owner.createPreview(project.id, { name: "pr-1" });
    await owner.waitForJob(job.id, { timeoutMs: 180_000 });
    // production writes after the preview's origin: an update the preview cannot match, an insert it can take
    psql(uri, `update "${FORGING_TABLE}" set v = 2; insert into kept values (7)`);
    id = (await owner.createCutoverRequest(project.id, { preview_id: preview.id, mode: "data" })).cutover_request.id;
  }, 300_000);
  afterAll(async () => {
    await owner?.close();
    await s?.stop();
    await stopInstancesAndCleanup(fsDir);
  });

  it("cutovers show: the table that cannot be carried is indented under carry_over, escaped, and forges no field line", async () => {
    const { code, stdout, stderr } = await cliAt(s, "cutovers", "show", id);
    expect(code).toBe(0);
    expect(rawCharacters(stdout)).toEqual([]);
    expect(rawCharacters(stderr)).toEqual([]);
    const lines = stdout.trimEnd().split("\n");
    for (const l of lines) expect(l).toMatch(/^([a-z_]+ +\S| {2}\S| {6})/);
    expect(lines.filter((l) => l.startsWith("carry_over"))).toHaveLength(1);
    expect(carryLines(stdout)).toEqual([
      `${"carry_over".padEnd(24)} waiting: 0 transactions carried through no position yet, 0 sequences set, no write pause yet; accept_write_loss false`,
      `  not carried ${FORGING_SHOWN}: it has no primary key (or replica identity index) in production: its updates and deletes cannot be matched to the rows of the preview`,
    ]);
    expect(lines).toContain("  1 tables not carried: execute refuses until run with --accept-write-loss");
    // production's writes since the origin name the same table, escaped and indented too
    expect(lines.filter((l) => l.startsWith(`  ${FORGING_SHOWN}: 0 inserts, 1 updates, 0 deletes, last at `))).toHaveLength(1);
  });

  it("cutovers execute: refused (409) without --accept-write-loss, with the next step; the flag goes nowhere else", async () => {
    expect((await cliAt(s, "cutovers", "acknowledge", id)).code).toBe(0);
    const misplaced = await cliAt(s, "cutovers", "acknowledge", id, "--accept-write-loss");
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/^--accept-write-loss applies to cutovers execute only\n/);

    const refused = await cliAt(s, "cutovers", "execute", id);
    expect(refused.code).toBe(1);
    expect(rawCharacters(refused.stderr)).toEqual([]);
    const lines = refused.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^capydb: 409 write_loss_not_accepted: accept_write_loss: production's writes to /);
    expect(lines[0]).toContain(FORGING_SHOWN);
    expect(lines[1]).toMatch(/^ {2}next: see which tables .*capydb cutovers show <id>; .*capydb cutovers execute <id> --accept-write-loss$/);
    expect((await s.admin.getCutoverRequest(id)).cutover_request.status).toBe("acknowledged");
  });

  it("cutovers execute --accept-write-loss: the server records the acceptance, and the carried and skipped rows are printed", async () => {
    const run = await cliAt(s, "cutovers", "execute", id, "--accept-write-loss");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(rawCharacters(run.stdout)).toEqual([]);
    expect(run.stdout).toMatch(new RegExp(`^${id} in progress: pre-cutover backup, then promote \\(job job_\\w+\\); write loss accepted\n`));
    const done = (await s.admin.getCutoverRequest(id)).cutover_request;
    expect(done.status).toBe("completed");
    expect(done.carry_over).toMatchObject({ state: "done", accept_write_loss: true });
    expect(run.stdout).toContain(`${id} completed; pre-cutover backup ${done.pre_cutover_backup_id}; rollback possible until ${done.rollback_until}\n`);
    const c = done.carry_over!;
    const summary = `${"carry_over".padEnd(24)} done: ${c.transactions} transactions carried through ${c.through_lsn}, ${c.sequences} sequences set, writes paused ${c.pause_ms} ms; accept_write_loss true`;
    const carried = [
      `  not carried ${FORGING_SHOWN}: it has no primary key (or replica identity index) in production: its updates and deletes cannot be matched to the rows of the preview`,
      `  carried ${FORGING_SHOWN}: 0 inserts, 0 updates, 0 deletes; 1 skipped`,
      "  carried public.kept: 1 inserts, 0 updates, 0 deletes; 0 skipped",
    ];
    expect(carryLines(run.stdout)).toEqual([summary, ...carried]);

    const shown = await cliAt(s, "cutovers", "show", id);
    expect(rawCharacters(shown.stdout)).toEqual([]);
    expect(carryLines(shown.stdout)).toEqual([summary, ...carried]);
    expect(shown.stdout).toContain("\n  1 tables not carried: their writes since the origin are not in the new production (accepted)\n");
  }, 600_000);
});
