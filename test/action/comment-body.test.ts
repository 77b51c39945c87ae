// Masking in the action's pure parts (issue #16): the `masked` input as parsed, the masking line
// of the sticky comment and of the job summary, and the `masked` output. The flows against a real
// server with masking rules are in preview-database.test.ts.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Cutover, PreviewDatabase } from "@capydb/api";
import { maskingLine, renderComment, type CommentContext } from "../../actions/preview-database/src/comment-body.js";
import { getSettings } from "../../actions/preview-database/src/input-helper.js";
import { outputsOf } from "../../actions/preview-database/src/outputs.js";
import { summarizeOutcome } from "../../actions/preview-database/src/summary.js";
import type { Outcome } from "../../actions/preview-database/src/execute.js";
import type { EventInfo } from "../../actions/preview-database/src/event.js";
import { inputEnvName } from "./harness.js";

const preview = {
  id: "pdb_1",
  project_id: "prj_1",
  name: "pr-7",
  state: "ready",
  mode: "full",
  source_kind: "project",
  source_database: "shop",
  source_backup_key: null,
  source_restore_time: "2025-06-11T14:20:00Z",
  masked: true,
  masking_verified_at: "2025-06-11T14:22:31Z",
  database_name: "shop_pv_1",
  role_name: "shop_pv_1_owner",
  public_host: "db.example.com",
  direct_port: 5432,
  pooled_port: 6432,
  ssl_mode: "require",
  ttl_expires_at: "2025-06-18T14:20:00Z",
  last_error: null,
  created_at: "2025-06-11T14:20:00Z",
  updated_at: "2025-06-11T14:22:31Z",
  requested_by_actor_kind: null,
  requested_by_actor_id: null,
  requested_by_pr_number: null,
  requested_by_sha: null,
} satisfies PreviewDatabase;
const unmasked: PreviewDatabase = { ...preview, masked: false, masking_verified_at: null };

const password = "s3cret-Pa55word";
const credentials = {
  host: "db.example.com",
  port: 5432,
  pooledPort: 6432,
  database: "shop_pv_1",
  user: "shop_pv_1_owner",
  password,
  databaseUrl: `postgresql://shop_pv_1_owner:${password}@db.example.com:5432/shop_pv_1`,
  pooledDatabaseUrl: null,
};
const ctx = (maskingRules: number | null): CommentContext => ({
  projectId: "prj_1",
  previewName: "pr-7",
  resetLabel: "capydb:reset",
  runUrl: "https://github.com/o/r/actions/runs/1",
  maskingRules,
});
const ready = (p: PreviewDatabase, rules: number | null) => renderComment(ctx(rules), { status: "ready", preview: p, connection: credentials, verified: true });
const WARNING = "**Warning: this preview holds unmasked production data.**";

describe("the comment's masking line", () => {
  it("a masked preview: how many columns, and when it was verified", () => {
    const body = ready(preview, 3);
    expect(body).toContain("Masked: 3 columns, verified 2025-06-11 14:22 UTC.");
    expect(maskingLine(preview, 1)).toBe("Masked: 1 column, verified 2025-06-11 14:22 UTC.");
    expect(body).not.toContain("unmasked");
    expect(body).not.toContain(password);
    expect(body).toContain("| Data | a masked copy of production as of 2025-06-11 14:20 UTC |");
    expect(ready(unmasked, 3)).toContain("| Data | a copy of production as of");
    // right under the title, before the connection table
    expect(body.split("\n")[3]).toMatch(/^Masked: 3 columns/);
  });

  it("a masked preview still being made says it is verified once the data is copied", () => {
    const creating: PreviewDatabase = { ...preview, state: "creating", masking_verified_at: null };
    expect(renderComment(ctx(2), { status: "creating", preview: creating, jobId: "job_1" })).toContain("Masked: 2 columns, verified once the data is copied.");
    expect(maskingLine({ ...preview, masking_verified_at: null }, 2)).toBe("Masked: 2 columns, not verified yet.");
  });

  it("an unmasked preview of a project with masking rules: a plain, bold warning", () => {
    const body = ready(unmasked, 3);
    expect(body).toContain(WARNING);
    expect(body).toContain("The project has 3 masking rules");
    expect(renderComment(ctx(1), { status: "reset", preview: unmasked, connection: credentials, verified: true })).toContain("The project has 1 masking rule,");
  });

  it("no rules on the project: a short line, no warning", () => {
    const body = ready(unmasked, 0);
    expect(body).toContain("Not masked: the project has no masking rules.");
    expect(body).not.toContain("Warning");
  });

  it("rules that could not be read (an older server's 404): the preview's own word only", () => {
    expect(ready(unmasked, null)).toContain("\nNot masked.\n");
    expect(ready(unmasked, null)).not.toContain("Warning");
    expect(ready(preview, null)).toContain("Masked by the project's masking rules, verified 2025-06-11 14:22 UTC.");
    // A server from before masking sends no `masked` at all: read as not masked.
    const old = { ...unmasked } as Partial<PreviewDatabase>;
    delete old.masked;
    delete old.masking_verified_at;
    expect(maskingLine(old as PreviewDatabase, null)).toBe("Not masked.");
    expect(outputsOf({ operation: "reused", preview: old as PreviewDatabase, credentials, job: null, cutover: null, view: null }, "pr-7", null).masked).toBe(
      "false",
    );
  });

  it("a preview without data (empty, schema only) gets no line unless it is masked", () => {
    expect(maskingLine({ ...unmasked, source_kind: "empty" }, 3)).toBeNull();
    expect(maskingLine({ ...unmasked, mode: "schema_only" }, 3)).toBeNull();
    expect(ready({ ...unmasked, mode: "schema_only" }, 3)).not.toMatch(/masked/i);
  });

  it("the states without a live preview have no masking line", () => {
    expect(renderComment(ctx(3), { status: "torn-down", reason: "pull request closed without merging" })).not.toMatch(/masked/i);
    expect(renderComment(ctx(3), { status: "failed", preview: unmasked, error: "boom" })).not.toMatch(/masked/i);
  });
});

describe("the masked output and the job summary", () => {
  const outcome = (p: PreviewDatabase): Outcome => ({ operation: "created", preview: p, credentials, job: null, cutover: null, view: null });
  // @actions/core keeps the summary file's path once read: one file, emptied before each write.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-summary-"));
  const file = path.join(dir, "summary");
  afterAll(() => {
    delete process.env.GITHUB_STEP_SUMMARY;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function summary(p: PreviewDatabase, rules: number | null): Promise<string> {
    fs.writeFileSync(file, "");
    process.env.GITHUB_STEP_SUMMARY = file;
    await summarizeOutcome("pr-7", "prj_1", outcome(p), null, rules);
    return fs.readFileSync(file, "utf8");
  }

  it("`masked` is the preview's, as true or false; empty without a preview", () => {
    expect(outputsOf(outcome(preview), "pr-7", null).masked).toBe("true");
    expect(outputsOf(outcome(unmasked), "pr-7", null).masked).toBe("false");
    expect(outputsOf({ ...outcome(preview), preview: null, credentials: null }, "pr-7", null).masked).toBeNull();
  });

  it("the summary carries the comment's masking line, never a secret", async () => {
    const masked = await summary(preview, 3);
    expect(masked).toContain("| Data | Masked: 3 columns, verified 2025-06-11 14:22 UTC. |");
    const warned = await summary(unmasked, 2);
    expect(warned).toContain(WARNING);
    expect(await summary(unmasked, 0)).toContain("Not masked: the project has no masking rules.");
    for (const text of [masked, warned]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain("postgresql://");
    }
  });
});

describe("the masked input", () => {
  const event: EventInfo = { name: "workflow_dispatch", pullRequest: null, repo: null, runUrl: null, actor: null, headSha: null, workflowPath: null };
  const names: string[] = [];
  function withInputs(inputs: Record<string, string>) {
    for (const name of names.splice(0)) delete process.env[name];
    for (const [name, value] of Object.entries({ "api-url": "https://capydb.example.com", "api-key": "capy_live_x", "project-id": "prj_1", ...inputs })) {
      names.push(inputEnvName(name));
      process.env[inputEnvName(name)] = value;
    }
    return getSettings(event);
  }
  afterEach(() => {
    for (const name of names.splice(0)) delete process.env[name];
  });

  it("true, false, or empty for the server's default", () => {
    expect(withInputs({ masked: "true" }).masked).toBe(true);
    expect(withInputs({ masked: "false" }).masked).toBe(false);
    expect(withInputs({ masked: "" }).masked).toBeNull();
    expect(withInputs({ masked: "  FALSE " }).masked).toBe(false);
    expect(withInputs({}).masked).toBeNull();
  });

  it("anything else fails naming the input", () => {
    for (const bad of ["yes", "no", "0", "1", "flase", "unmasked"]) {
      expect(() => withInputs({ masked: bad })).toThrow(`Input \`masked\`: must be true, false or empty`);
      expect(() => withInputs({ masked: bad })).toThrow(`got "${bad}"`);
    }
  });
});

describe("the comment on a cutover request", () => {
  const request = (over: Partial<Cutover>): Cutover =>
    ({
      id: "cut_1",
      status: "open",
      mode: "data",
      writes_since_origin: null,
      ...over,
    }) as Cutover;
  const body = (c: Cutover) => renderComment(ctx(null), { status: "cutover-requested", preview: unmasked, cutover: c });

  it("schema mode: production keeps its data and gets the reviewed statements", () => {
    const text = body(request({ mode: "schema" }));
    expect(text).toContain("asks an operator to apply preview `pdb_1`'s schema changes to production: production keeps its data");
    expect(text).not.toMatch(/replaces production's|has written since/);
  });

  it("data mode: what production wrote since the preview, which the cutover would not carry over", () => {
    const writes = {
      known: true,
      reason: null,
      since_lsn: "0/3000000",
      as_of: "2025-06-12T10:00:00Z",
      last_write_at: "2025-06-12T09:59:00Z",
      tables: [
        { table: "public.orders", inserts: 12, updates: 3, deletes: 1, last_write_at: "2025-06-12T09:59:00Z" },
        { table: "public.events", inserts: 7, updates: 0, deletes: 0, last_write_at: "2025-06-12T09:00:00Z" },
      ],
    };
    const text = body(request({ writes_since_origin: writes }));
    expect(text).toContain("its data replaces production's");
    expect(text).toContain(
      "**Production has written since this preview was made:** 19 inserts, 3 updates, 1 deletes in 2 table(s), the last at 2025-06-12T09:59:00Z. A data cutover does not carry them over.",
    );
    expect(text).not.toContain("public.orders"); // counts only: no table of the tenant's is named in the pull request
    const unknown = body(request({ writes_since_origin: { ...writes, known: false, reason: "the origin slot is gone", tables: [], last_write_at: null } }));
    expect(unknown).toContain("Production's writes since this preview was made are not known: the origin slot is gone");
    expect(body(request({ writes_since_origin: { ...writes, tables: [] } }))).not.toContain("has written since");
  });
});
