// The action's pure parts, imported from its source: the event table, durations, and the
// comment text (which never holds a secret). The bundle is exercised end to end elsewhere.
import { describe, expect, it } from "vitest";
import type { PreviewDatabase } from "@capydb/api";
import { dependabotSkip, forkSkip, planFor } from "../../actions/preview-database/src/plan.js";
import { formatSeconds, parseDurationSeconds } from "../../actions/preview-database/src/durations.js";
import { commentMarker, renderComment } from "../../actions/preview-database/src/comment-body.js";
import type { ActionSettings } from "../../actions/preview-database/src/settings.js";
import type { EventInfo, PullRequestInfo } from "../../actions/preview-database/src/event.js";

const settings: ActionSettings = {
  apiUrl: "https://capydb.example.com",
  apiKey: "capy_live_x",
  oidcAudience: "https://capydb.example.com",
  projectId: "prj_1",
  command: "auto",
  previewName: "pr-7",
  previewNameTemplate: "pr-{number}",
  source: { kind: "project" },
  mode: "full",
  masked: null,
  ttlSeconds: 7 * 86_400,
  onPush: "reuse",
  resetLabel: "capydb:reset",
  comment: true,
  wait: true,
  timeoutMs: 600_000,
  cutoverOnMerge: true,
  cutoverNote: null,
  cutoverMode: "schema",
  githubToken: "t",
  schemaDiff: true,
  failOn: "destructive",
  deployment: true,
  deploymentEnvironment: "capydb/pr-7",
};

function prEvent(action: string, pr: Partial<PullRequestInfo> = {}, name = "pull_request"): EventInfo {
  return {
    name,
    pullRequest: { number: 7, action, merged: false, title: "t", htmlUrl: "", headRepo: "o/r", baseRepo: "o/r", fromFork: false, label: null, ...pr },
    repo: { owner: "o", repo: "r" },
    runUrl: null,
    actor: null,
    headSha: null,
    workflowPath: null,
  };
}

describe("plan: what each event does", () => {
  const kind = (e: EventInfo, s: Partial<ActionSettings> = {}) => {
    const p = planFor({ ...settings, ...s }, e);
    return p.kind === "ensure" ? `ensure${p.reset ? "+reset" : ""}` : p.kind;
  };

  it("follows the pull request's life", () => {
    expect(kind(prEvent("opened"))).toBe("ensure");
    expect(kind(prEvent("reopened"))).toBe("ensure");
    expect(kind(prEvent("synchronize"))).toBe("ensure");
    expect(kind(prEvent("synchronize"), { onPush: "reset" })).toBe("ensure+reset");
    expect(kind(prEvent("labeled", { label: "capydb:reset" }))).toBe("reset");
    expect(kind(prEvent("labeled", { label: "bug" }))).toBe("skip");
    expect(kind(prEvent("closed", { merged: true }))).toBe("cutover");
    expect(kind(prEvent("closed", { merged: true }), { cutoverOnMerge: false })).toBe("delete");
    expect(kind(prEvent("closed"))).toBe("delete");
    expect(kind(prEvent("edited"))).toBe("skip");
    expect(kind(prEvent("opened", {}, "pull_request_target"))).toBe("ensure");
  });

  it("diffs the schema on opened, reopened and synchronize (unless schema-diff: false); command: check only diffs", () => {
    const diffs = (e: EventInfo, s: Partial<ActionSettings> = {}) => {
      const p = planFor({ ...settings, ...s }, e);
      return p.kind === "ensure" && p.schemaDiff;
    };
    for (const action of ["opened", "reopened", "synchronize"]) {
      expect(diffs(prEvent(action)), action).toBe(true);
      expect(diffs(prEvent(action), { schemaDiff: false }), action).toBe(false);
    }
    expect(diffs(prEvent("synchronize"), { onPush: "reset" })).toBe(true);
    expect(diffs(prEvent("ready_for_review"))).toBe(false);
    expect(diffs(prEvent("closed"), { command: "create" })).toBe(false);
    expect(kind(prEvent("synchronize"), { command: "check" })).toBe("check");
    expect(kind(prEvent("closed"), { command: "check" })).toBe("check");
  });

  it("removes the label only when the reset label was added", () => {
    expect(planFor(settings, prEvent("labeled", { label: "capydb:reset" }))).toMatchObject({ kind: "reset", removeLabel: "capydb:reset" });
    expect(planFor({ ...settings, command: "reset" }, prEvent("synchronize"))).toMatchObject({ kind: "reset", removeLabel: null });
  });

  it("an explicit command wins over the event; auto needs a pull request", () => {
    expect(kind(prEvent("closed"), { command: "create" })).toBe("ensure");
    const dispatch: EventInfo = { name: "workflow_dispatch", pullRequest: null, repo: null, runUrl: null, actor: null, headSha: null, workflowPath: null };
    expect(kind(dispatch, { command: "delete" })).toBe("delete");
    expect(() => planFor(settings, dispatch)).toThrow(/Input `command`: auto works on pull_request events/);
  });

  it("skips forks (and deleted forks) before anything else", () => {
    expect(forkSkip(prEvent("opened", { headRepo: "someone/r", fromFork: true }))?.why).toMatch(/comes from a fork \(someone\/r\)/);
    expect(forkSkip(prEvent("opened", { headRepo: null, fromFork: true }))?.why).toMatch(/a deleted repository/);
    expect(forkSkip(prEvent("opened"))).toBeNull();
  });

  it("skips Dependabot's pull requests only when they came without an API key", () => {
    const bot = { ...prEvent("opened"), actor: "dependabot[bot]" };
    expect(dependabotSkip(bot, false)?.why).toMatch(/Dependabot secret/);
    expect(dependabotSkip(bot, true)).toBeNull();
    expect(dependabotSkip(prEvent("opened"), false)).toBeNull();
  });
});

describe("durations", () => {
  it("reads what people write", () => {
    expect(parseDurationSeconds("7d")).toBe(604_800);
    expect(parseDurationSeconds("12h")).toBe(43_200);
    expect(parseDurationSeconds("1h30m")).toBe(5_400);
    expect(parseDurationSeconds("90")).toBe(90);
    expect(parseDurationSeconds("1.5h")).toBe(5_400);
    expect(parseDurationSeconds("2w")).toBe(1_209_600);
    for (const bad of ["", "forever", "7 days", "-5", "5x", "h"]) expect(parseDurationSeconds(bad)).toBeNull();
    expect(formatSeconds(600)).toBe("10m");
    expect(formatSeconds(3)).toBe("3s");
    expect(formatSeconds(90_000)).toBe("1d 1h");
  });
});

describe("the comment", () => {
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
    masked: false,
    masking_verified_at: null,
    database_name: "shop_pv_1",
    role_name: "shop_pv_1_owner",
    public_host: "db.example.com",
    direct_port: 5432,
    pooled_port: 6432,
    ssl_mode: "require",
    ttl_expires_at: "2025-06-18T14:20:00Z",
    last_error: null,
    created_at: "2025-06-11T14:20:00Z",
    updated_at: "2025-06-11T14:20:00Z",
    requested_by_actor_kind: null,
    requested_by_actor_id: null,
    requested_by_pr_number: null,
    requested_by_sha: null,
  } satisfies PreviewDatabase;
  const ctx = { projectId: "prj_1", previewName: "pr-7", resetLabel: "capydb:reset", runUrl: "https://github.com/o/r/actions/runs/1" };
  const password = "s3cret-Pa55word";
  // What execute hands over is Credentials; the comment only reads the public part of it.
  const credentials = {
    host: "db.example.com",
    port: 5432,
    pooledPort: 6432,
    database: "shop_pv_1",
    user: "shop_pv_1_owner",
    password,
    databaseUrl: `postgresql://u:${password}@h/d`,
    pooledDatabaseUrl: null,
  };

  it("starts with its marker, shows where the database is, and never the password", () => {
    const body = renderComment(ctx, { status: "ready", preview, connection: credentials, verified: true });
    expect(body.startsWith(commentMarker("prj_1", "pr-7"))).toBe(true);
    for (const shown of ["db.example.com", "`5432`", "`6432`", "shop_pv_1_owner", "2025-06-18 14:20 UTC", "capydb:reset", ctx.runUrl])
      expect(body).toContain(shown);
    expect(body).not.toContain(password);
    expect(body).not.toContain("postgresql://");
  });

  it("has a title for every state", () => {
    expect(renderComment(ctx, { status: "creating", preview, jobId: "job_1" })).toMatch(/creating…[\s\S]*job_1/);
    expect(renderComment(ctx, { status: "failed", preview: null, error: "boom ``` x" })).toMatch(/failed[\s\S]*````\nboom ``` x\n````/);
    expect(renderComment(ctx, { status: "torn-down", reason: "pull request closed without merging" })).toMatch(/torn down[\s\S]*closed without merging/);
  });
});
