// Runs the action's real bundle (actions/preview-database/dist/index.js) as a child process the
// way the GitHub runner does: INPUT_* variables, GITHUB_EVENT_NAME/GITHUB_EVENT_PATH with a
// pull_request payload, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files, and GITHUB_API_URL pointing
// at FakeGitHub, a node:http stand-in for the few GitHub endpoints the action calls. Only
// GitHub is faked: the CapyDB server the action talks to is the real one.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { OidcIssuer } from "../harness/oidc-issuer.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ACTION_DIR = path.join(REPO_ROOT, "actions/preview-database");
export const BUNDLE = path.join(ACTION_DIR, "dist/index.js");
export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
export const REPOSITORY = "capydb-demo/shop";
export const GITHUB_TOKEN = "ghs_" + "x".repeat(36);

// ---------------------------------------------------------------- payloads

export type PullRequestFixture = "opened" | "synchronize" | "labeled" | "closed.merged" | "closed.unmerged" | "opened.fork";

/** A recorded webhook payload from fixtures/, with the pull request number set to `number`. */
export function pullRequestPayload(fixture: PullRequestFixture, number: number): Record<string, unknown> {
  const payload = JSON.parse(fs.readFileSync(path.join(FIXTURES, `pull_request.${fixture}.json`), "utf8"));
  payload.number = number;
  const pr = payload.pull_request;
  pr.number = number;
  for (const key of ["url", "html_url", "diff_url", "patch_url", "issue_url", "commits_url", "review_comments_url", "comments_url"]) {
    if (typeof pr[key] === "string") pr[key] = pr[key].replace(/\/(pulls?|issues)\/\d+/, (_: string, kind: string) => `/${kind}/${number}`);
  }
  return payload;
}

// ---------------------------------------------------------------- fake GitHub API

export interface FakeComment {
  id: number;
  issue: string;
  body: string;
  user: { login: string; type: string };
  created_at: string;
  updated_at: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
  /** performance.now() when it arrived (the gap a retry waited). */
  at: number;
}

/** Answer the next `remaining` requests matching `method path-prefix` with this status (failure injection). */
export interface InjectedFailure {
  method: string;
  pathPrefix: string;
  status: number;
  remaining: number;
  /** GitHub's message (default "injected <status>"): "You have exceeded a secondary rate limit..." makes it one. */
  message?: string;
  /** Extra headers: retry-after, x-ratelimit-remaining, ... */
  headers?: Record<string, string>;
}

export interface FakeCheckRun {
  id: number;
  repo: string;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  details_url: string | null;
  external_id: string | null;
  output: { title: string; summary: string; text: string | null };
  /** Every annotation, from the create and each PATCH, in order. */
  annotations: { path: string; start_line: number; end_line: number; annotation_level: string; title?: string; message: string; raw_details?: string }[];
  /** How many requests carried annotations (GitHub takes at most 50 per request). */
  annotationRequests: number;
}

export interface FakeDeploymentStatus {
  id: number;
  state: string;
  description: string;
  log_url: string | null;
  environment_url: string | null;
}

export interface FakeDeployment {
  id: number;
  repo: string;
  /** The ref as sent (the action sends the head commit's sha). */
  ref: string;
  environment: string;
  transient_environment: boolean;
  production_environment: boolean;
  required_contexts: unknown;
  auto_merge: boolean;
  description: string | null;
  /** Oldest first; the API lists them newest first. */
  statuses: FakeDeploymentStatus[];
}

const ANNOTATION_LEVELS = new Set(["notice", "warning", "failure"]);
const CONCLUSIONS = new Set(["success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"]);
const DEPLOYMENT_STATES = new Set(["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]);

export class FakeGitHub {
  readonly comments: FakeComment[] = [];
  readonly checkRuns: FakeCheckRun[] = [];
  readonly deployments: FakeDeployment[] = [];
  readonly labels = new Map<string, Set<string>>();
  readonly requests: RecordedRequest[] = [];
  readonly failures: InjectedFailure[] = [];
  #server: http.Server | null = null;
  #nextId = 1_000_000;
  url = "";

  async start(): Promise<void> {
    this.#server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        let body: unknown = undefined;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          body = raw;
        }
        const url = new URL(req.url ?? "/", this.url);
        this.requests.push({
          method: req.method ?? "",
          path: url.pathname + url.search,
          authorization: req.headers.authorization,
          body,
          at: performance.now(),
        });
        this.#handle(req.method ?? "", url, body, res);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** Other people's comments, to push ours past the first page. */
  seedComments(issue: number, count: number, body = (i: number) => `Looks good to me (${i})`): void {
    for (let i = 0; i < count; i++) this.#add(issue, body(i), { login: `reviewer-${i % 5}`, type: "User" });
  }

  addLabel(issue: number, name: string): void {
    const key = `${REPOSITORY}#${issue}`;
    if (!this.labels.has(key)) this.labels.set(key, new Set());
    this.labels.get(key)!.add(name);
  }

  labelsOn(issue: number): string[] {
    return [...(this.labels.get(`${REPOSITORY}#${issue}`) ?? [])];
  }

  commentsOn(issue: number): FakeComment[] {
    return this.comments.filter((c) => c.issue === `${REPOSITORY}#${issue}`);
  }

  /** The action's comments (the ones carrying its hidden marker). */
  actionComments(issue: number): FakeComment[] {
    return this.commentsOn(issue).filter((c) => c.body.startsWith("<!-- capydb-preview-database"));
  }

  /** The action's comment writes only (create, edit, delete), leaving check runs and deployments out. */
  commentWrites(): RecordedRequest[] {
    return this.writes().filter((w) => /\/issues\/(\d+\/)?comments/.test(w.path));
  }

  checkRunsOn(sha: string): FakeCheckRun[] {
    return this.checkRuns.filter((c) => c.head_sha === sha);
  }

  deploymentsTo(environment: string): FakeDeployment[] {
    return this.deployments.filter((d) => d.environment === environment);
  }

  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== "GET");
  }

  reset(): void {
    this.requests.length = 0;
  }

  #add(issue: number, body: string, user = { login: "github-actions[bot]", type: "Bot" }): FakeComment {
    const now = new Date().toISOString();
    const comment = { id: this.#nextId++, issue: `${REPOSITORY}#${issue}`, body, user, created_at: now, updated_at: now };
    this.comments.push(comment);
    return comment;
  }

  #json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(value);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  #apiComment(c: FakeComment) {
    const [repo, number] = c.issue.split("#");
    return {
      id: c.id,
      node_id: `IC_${c.id}`,
      url: `${this.url}/repos/${repo}/issues/comments/${c.id}`,
      html_url: `https://github.com/${repo}/pull/${number}#issuecomment-${c.id}`,
      issue_url: `${this.url}/repos/${repo}/issues/${number}`,
      body: c.body,
      user: { login: c.user.login, id: 41898282, type: c.user.type },
      created_at: c.created_at,
      updated_at: c.updated_at,
      author_association: "NONE",
    };
  }

  /** One page of `all` as GitHub pages it (per_page, page, a Link header). */
  #page(res: http.ServerResponse, url: URL, all: unknown[]): void {
    const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1));
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (p: number) => {
      const u = new URL(url.toString());
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(p));
      return `<${u.toString()}>`;
    };
    const links: string[] = [];
    if (page < last) links.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) links.push(`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`);
    this.#json(res, 200, all.slice((page - 1) * perPage, page * perPage), links.length ? { link: links.join(", ") } : {});
  }

  /** GitHub's 422 for a body it cannot take; null when the annotations are fine. */
  #badAnnotations(annotations: unknown): string | null {
    if (annotations === undefined) return null;
    if (!Array.isArray(annotations)) return "annotations must be an array";
    if (annotations.length > 50) return `at most 50 annotations per request, got ${annotations.length}`;
    for (const a of annotations as Record<string, unknown>[]) {
      if (typeof a.path !== "string" || !a.path) return "annotation path is missing";
      if (!Number.isInteger(a.start_line) || !Number.isInteger(a.end_line)) return "annotation start_line/end_line are missing";
      if (!ANNOTATION_LEVELS.has(a.annotation_level as string)) return `annotation_level ${String(a.annotation_level)} is not one of notice, warning, failure`;
      if (typeof a.message !== "string" || !a.message) return "annotation message is missing";
    }
    return null;
  }

  #checks(method: string, url: URL, body: unknown, res: http.ServerResponse): boolean {
    let m: RegExpExecArray | null;
    const b = (body ?? {}) as Record<string, unknown> & { output?: Record<string, unknown> };
    const invalid = (message: string) => this.#json(res, 422, { message: `Validation Failed: ${message}` });
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/check-runs$/.exec(url.pathname)) && method === "POST") {
      if (typeof b.name !== "string" || typeof b.head_sha !== "string") return (invalid("name and head_sha are required"), true);
      if (b.status === "completed" && !CONCLUSIONS.has(b.conclusion as string)) return (invalid("a completed check run needs a conclusion"), true);
      if (b.output && (typeof b.output.title !== "string" || typeof b.output.summary !== "string")) return (invalid("output needs title and summary"), true);
      const bad = this.#badAnnotations(b.output?.annotations);
      if (bad) return (invalid(bad), true);
      const annotations = (b.output?.annotations ?? []) as FakeCheckRun["annotations"];
      const run: FakeCheckRun = {
        id: this.#nextId++,
        repo: m[1],
        name: b.name,
        head_sha: b.head_sha,
        status: String(b.status ?? "queued"),
        conclusion: (b.conclusion as string) ?? null,
        details_url: (b.details_url as string) ?? null,
        external_id: (b.external_id as string) ?? null,
        output: { title: String(b.output?.title ?? ""), summary: String(b.output?.summary ?? ""), text: (b.output?.text as string) ?? null },
        annotations: [...annotations],
        annotationRequests: annotations.length ? 1 : 0,
      };
      this.checkRuns.push(run);
      this.#json(res, 201, {
        id: run.id,
        head_sha: run.head_sha,
        name: run.name,
        status: run.status,
        conclusion: run.conclusion,
        html_url: `https://github.com/${m[1]}/runs/${run.id}`,
      });
      return true;
    }
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/check-runs\/(\d+)$/.exec(url.pathname)) && method === "PATCH") {
      const run = this.checkRuns.find((c) => c.id === Number(m![2]) && c.repo === m![1]);
      if (!run) return (this.#json(res, 404, { message: "Not Found" }), true);
      if (b.output && (typeof b.output.title !== "string" || typeof b.output.summary !== "string")) return (invalid("output needs title and summary"), true);
      const bad = this.#badAnnotations(b.output?.annotations);
      if (bad) return (invalid(bad), true);
      const annotations = (b.output?.annotations ?? []) as FakeCheckRun["annotations"];
      run.annotations.push(...annotations);
      if (annotations.length) run.annotationRequests++;
      if (b.output) run.output = { title: String(b.output.title), summary: String(b.output.summary), text: (b.output.text as string) ?? run.output.text };
      if (typeof b.conclusion === "string") run.conclusion = b.conclusion;
      if (typeof b.status === "string") run.status = b.status;
      this.#json(res, 200, { id: run.id, head_sha: run.head_sha, name: run.name, status: run.status, conclusion: run.conclusion });
      return true;
    }
    return false;
  }

  #apiDeployment(d: FakeDeployment) {
    return {
      id: d.id,
      sha: d.ref,
      ref: d.ref,
      environment: d.environment,
      transient_environment: d.transient_environment,
      production_environment: d.production_environment,
      description: d.description,
    };
  }

  #deploymentRoutes(method: string, url: URL, body: unknown, res: http.ServerResponse): boolean {
    let m: RegExpExecArray | null;
    const b = (body ?? {}) as Record<string, unknown>;
    const invalid = (message: string) => this.#json(res, 422, { message: `Validation Failed: ${message}` });
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/deployments$/.exec(url.pathname))) {
      const repo = m[1];
      if (method === "GET") {
        const environment = url.searchParams.get("environment");
        const sha = url.searchParams.get("sha");
        const ref = url.searchParams.get("ref");
        const all = this.deployments
          .filter((d) => d.repo === repo && (!environment || d.environment === environment) && (!sha || d.ref === sha) && (!ref || d.ref === ref))
          .reverse();
        this.#page(
          res,
          url,
          all.map((d) => this.#apiDeployment(d)),
        );
        return true;
      }
      if (method === "POST") {
        if (typeof b.ref !== "string" || !b.ref) return (invalid("ref is required"), true);
        const d: FakeDeployment = {
          id: this.#nextId++,
          repo,
          ref: b.ref,
          environment: typeof b.environment === "string" ? b.environment : "production",
          transient_environment: b.transient_environment === true,
          production_environment: b.production_environment === true,
          required_contexts: b.required_contexts,
          auto_merge: b.auto_merge !== false,
          description: (b.description as string) ?? null,
          statuses: [],
        };
        this.deployments.push(d);
        this.#json(res, 201, this.#apiDeployment(d));
        return true;
      }
    }
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/deployments\/(\d+)\/statuses$/.exec(url.pathname))) {
      const d = this.deployments.find((x) => x.id === Number(m![2]) && x.repo === m![1]);
      if (!d) return (this.#json(res, 404, { message: "Not Found" }), true);
      if (method === "GET") {
        this.#page(res, url, [...d.statuses].reverse());
        return true;
      }
      if (method === "POST") {
        if (!DEPLOYMENT_STATES.has(b.state as string)) return (invalid(`state ${String(b.state)} is not a deployment state`), true);
        const description = (b.description as string) ?? "";
        if (description.length > 140) return (invalid("description is too long (maximum is 140 characters)"), true);
        const status: FakeDeploymentStatus = {
          id: this.#nextId++,
          state: b.state as string,
          description,
          log_url: (b.log_url as string) ?? null,
          environment_url: (b.environment_url as string) ?? null,
        };
        d.statuses.push(status);
        this.#json(res, 201, status);
        return true;
      }
    }
    return false;
  }

  #handle(method: string, url: URL, body: unknown, res: http.ServerResponse): void {
    const injected = this.failures.find((f) => f.remaining > 0 && f.method === method && url.pathname.startsWith(f.pathPrefix));
    if (injected) {
      injected.remaining--;
      const message = injected.message ?? `injected ${injected.status}`;
      return this.#json(res, injected.status, { message, documentation_url: "https://docs.github.com/rest" }, injected.headers);
    }
    if (this.#checks(method, url, body, res) || this.#deploymentRoutes(method, url, body, res)) return;
    let m: RegExpExecArray | null;
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname))) {
      const issue = `${m[1]}#${m[2]}`;
      if (method === "GET") {
        return this.#page(
          res,
          url,
          this.comments.filter((c) => c.issue === issue).map((c) => this.#apiComment(c)),
        );
      }
      if (method === "POST") {
        const text = (body as { body?: string } | undefined)?.body ?? "";
        const c = this.#add(Number(m[2]), text);
        c.issue = issue;
        return this.#json(res, 201, this.#apiComment(c));
      }
    }
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname)) && method === "DELETE") {
      const at = this.comments.findIndex((x) => x.id === Number(m![2]));
      if (at < 0) return this.#json(res, 404, { message: "Not Found" });
      this.comments.splice(at, 1);
      res.writeHead(204);
      return void res.end();
    }
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname)) && method === "PATCH") {
      const c = this.comments.find((x) => x.id === Number(m![2]));
      if (!c) return this.#json(res, 404, { message: "Not Found" });
      c.body = (body as { body?: string } | undefined)?.body ?? "";
      c.updated_at = new Date().toISOString();
      return this.#json(res, 200, this.#apiComment(c));
    }
    if ((m = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/labels\/(.+)$/.exec(url.pathname)) && method === "DELETE") {
      const set = this.labels.get(`${m[1]}#${m[2]}`);
      const name = decodeURIComponent(m[3]);
      if (!set?.has(name)) return this.#json(res, 404, { message: "Label does not exist" });
      set.delete(name);
      return this.#json(
        res,
        200,
        [...set].map((n) => ({ name: n })),
      );
    }
    this.#json(res, 404, { message: "Not Found (fake GitHub API)" });
  }
}

// ---------------------------------------------------------------- running the bundle

export interface RunOptions {
  eventName: string;
  payload: Record<string, unknown> | null;
  /** Input names as in action.yml (api-key, project-id, ...). */
  inputs: Record<string, string>;
  githubApiUrl: string;
  runId?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  wallMs: number;
  /** Each stdout line with the milliseconds since spawn at which it arrived (for the benchmark). */
  timeline: { ms: number; line: string }[];
}

/** INPUT_<NAME>: uppercased, spaces to underscores, dashes kept (what the runner does). */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/** The GITHUB_OUTPUT file format written by @actions/core: name<<DELIM\nvalue\nDELIM. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
      out[m[1]] = value.join("\n");
    } else if (lines[i].includes("=")) {
      const at = lines[i].indexOf("=");
      out[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return out;
}

let runCounter = 0;

/** Spawns the bundle asynchronously (the CapyDB server runs in this very process). */
export async function runAction(o: RunOptions): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-action-run-"));
  try {
    const outputFile = path.join(dir, "output");
    const summaryFile = path.join(dir, "summary");
    fs.writeFileSync(outputFile, "");
    fs.writeFileSync(summaryFile, "");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? dir,
      CI: "true",
      GITHUB_ACTIONS: "true",
      GITHUB_EVENT_NAME: o.eventName,
      GITHUB_REPOSITORY: REPOSITORY,
      GITHUB_REPOSITORY_OWNER: REPOSITORY.split("/")[0],
      GITHUB_RUN_ID: String(o.runId ?? 9_000_000 + ++runCounter),
      GITHUB_RUN_ATTEMPT: "1",
      GITHUB_RUN_NUMBER: "12",
      GITHUB_ACTOR: "mara-dev",
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_API_URL: o.githubApiUrl,
      GITHUB_GRAPHQL_URL: `${o.githubApiUrl}/graphql`,
      GITHUB_WORKFLOW: "Preview database",
      GITHUB_JOB: "preview",
      GITHUB_ACTION: "capydb",
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_STATE: path.join(dir, "state"),
      GITHUB_ENV: path.join(dir, "env"),
      GITHUB_PATH: path.join(dir, "path"),
      RUNNER_TEMP: dir,
      RUNNER_OS: "Linux",
      ...o.env,
    };
    if (o.payload) {
      env.GITHUB_EVENT_PATH = path.join(dir, "event.json");
      fs.writeFileSync(env.GITHUB_EVENT_PATH, JSON.stringify(o.payload));
    }
    for (const [name, value] of Object.entries(o.inputs)) env[inputEnvName(name)] = value;

    const started = performance.now();
    const child = spawn(process.execPath, [BUNDLE], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timeline: RunResult["timeline"] = [];
    let partial = "";
    child.stdout.on("data", (c) => {
      stdout += c;
      const ms = performance.now() - started;
      const parts = (partial + c).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) timeline.push({ ms, line });
    });
    child.stderr.on("data", (c) => (stderr += c));
    const timeoutMs = o.timeoutMs ?? 90_000;
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the action did not exit within ${timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const wallMs = performance.now() - started;
    return {
      code,
      stdout,
      stderr,
      outputs: parseOutputFile(fs.readFileSync(outputFile, "utf8")),
      summary: fs.readFileSync(summaryFile, "utf8"),
      wallMs,
      timeline,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The message of the step's ::error:: line, unescaped. */
export function errorAnnotation(stdout: string): string | null {
  const line = stdout.split("\n").find((l) => l.startsWith("::error::"));
  return line ? line.slice("::error::".length).replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%") : null;
}

/**
 * Every secret is masked before it appears anywhere else: its first occurrence in stdout is on
 * an ::add-mask:: line, and every line holding it is one. Answers the problems found.
 */
export function maskingProblems(stdout: string, secrets: string[]): string[] {
  const problems: string[] = [];
  const lines = stdout.split("\n");
  for (const secret of secrets.filter(Boolean)) {
    const holding = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes(secret));
    if (holding.length === 0) {
      problems.push(`never masked: ${secret.slice(0, 4)}…`);
      continue;
    }
    for (const [line, i] of holding) if (!line.startsWith("::add-mask::")) problems.push(`line ${i + 1} shows a secret unmasked`);
    const ownMask = lines.findIndex((l) => l === `::add-mask::${secret}`);
    if (ownMask < 0) problems.push(`no ::add-mask:: line of its own for a secret (${secret.slice(0, 4)}…)`);
  }
  return problems;
}

// ---------------------------------------------------------------- a flaky network in front of the real server

/**
 * A reverse proxy to the real CapyDB server that answers the first matching requests itself
 * with an error status (what a load balancer does during a deploy), then forwards the rest.
 */
export class FlakyProxy {
  readonly injected: { method: string; pathPrefix: string; status: number; remaining: number }[] = [];
  readonly seen: { method: string; path: string; status: number }[] = [];
  #server: http.Server | null = null;
  url = "";
  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.#server = http.createServer((req, res) => {
      const rule = this.injected.find((r) => r.remaining > 0 && r.method === req.method && (req.url ?? "").startsWith(r.pathPrefix));
      if (rule) {
        rule.remaining--;
        req.resume();
        this.seen.push({ method: req.method ?? "", path: req.url ?? "", status: rule.status });
        const text = JSON.stringify({ error: `injected ${rule.status} by the test proxy` });
        res.writeHead(rule.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        return void res.end(text);
      }
      const target = new URL(req.url ?? "/", this.upstream);
      const forward = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
        this.seen.push({ method: req.method ?? "", path: req.url ?? "", status: up.statusCode ?? 0 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

// ---------------------------------------------------------------- the runner's ID-token endpoint

export interface IdTokenRequest {
  /** The `audience` query parameter (null when none was sent). */
  audience: string | null;
  /** Whether it carried the job's request token. */
  authorized: boolean;
}

/**
 * What the GitHub runner serves a job granted `permissions: id-token: write`: the URL in
 * ACTIONS_ID_TOKEN_REQUEST_URL (with `?api-version=2.0`, to which @actions/core appends
 * `&audience=<aud>`) answers a GET carrying `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`
 * with `{ "value": "<jwt>" }`. Each job has its own request token, and its JWTs carry that job's
 * claims, signed by the local OIDC issuer with the audience asked for (GitHub's default when none
 * is: the owner's URL).
 */
export class FakeIdTokenEndpoint {
  readonly requests: IdTokenRequest[] = [];
  /** Every JWT handed out, in order. */
  readonly issued: string[] = [];
  readonly #jobs = new Map<string, Record<string, unknown>>();
  #server: http.Server | null = null;
  url = "";

  constructor(private readonly issuer: OidcIssuer) {}

  async start(): Promise<void> {
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** The environment GitHub gives a job whose ID tokens carry these claims. */
  jobEnv(claims: Record<string, unknown>): Record<string, string> {
    const requestToken = crypto.randomBytes(24).toString("base64url");
    this.#jobs.set(requestToken, claims);
    const plan = crypto.randomUUID();
    return {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${this.url}/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/${plan}/jobs/${crypto.randomUUID()}/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    };
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const claims = this.#jobs.get(bearer);
    const audience = url.searchParams.get("audience");
    this.requests.push({ audience, authorized: claims !== undefined });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" || !url.pathname.endsWith("/idtoken") || url.searchParams.get("api-version") !== "2.0") return send(404, { message: "Not Found" });
    if (!claims) return send(401, { message: "Unauthorized: the request token is not this job's" });
    const owner = String(claims.repository_owner ?? String(claims.repository ?? "").split("/")[0]);
    const value = await this.issuer.sign(claims, { audience: audience ?? `https://github.com/${owner}` });
    this.issued.push(value);
    send(200, { count: 1, value });
  }
}
