// GitHub's API as the bundle meets it: Octokit's throttling plugin waits out a rate limit for
// as long as GitHub asks (Retry-After, or until x-ratelimit-reset), a bounded number of times;
// the retry plugin retries 5xx; giving up is a warning, never a failed step; a runner's proxy
// carries the calls. Only GitHub is faked (harness.ts); the CapyDB server and PostgreSQL are real.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapyClient, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../harness/server.js";
import { FakeGitHub, GITHUB_TOKEN, pullRequestPayload, runAction, type RecordedRequest, type RunResult } from "./harness.js";

const SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

let t: TestServer;
let gh: FakeGitHub;
let apiKey: string;
let project: Project;

beforeAll(async () => {
  t = await startTestServer();
  gh = new FakeGitHub();
  await gh.start();
  const orgId = (await t.admin.createOrganization({ name: "Retries" })).organization.id;
  apiKey = (await t.admin.createApiKey(orgId, { name: "github-actions" })).secret;
  const org = new CapyClient({ baseUrl: t.url, apiKey, retries: 0 });
  try {
    const created = await org.createProject({ name: "retries" });
    await org.waitForJob(created.job.id, { timeoutMs: 60_000 });
    project = (await org.getProject(created.project.id)).project;
  } finally {
    await org.close();
  }
});

afterAll(async () => {
  await gh?.stop();
  await t?.stop();
});

/** A pull request opened: the action makes the preview and writes its comment. */
async function opened(number: number, o: { githubApiUrl?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const r = await runAction({
    eventName: "pull_request",
    payload: pullRequestPayload("opened", number),
    githubApiUrl: o.githubApiUrl ?? gh.url,
    env: o.env,
    inputs: { "api-url": t.url, "api-key": apiKey, "project-id": project.id, "github-token": GITHUB_TOKEN, wait: "false" },
  });
  if (r.code !== 0) throw new Error(`the action exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

function commentPosts(number: number): RecordedRequest[] {
  return gh.requests.filter((q) => q.method === "POST" && q.path === `/repos/capydb-demo/shop/issues/${number}/comments`);
}

/** Lines that show the GitHub token (the runner masks what follows ::add-mask::). */
function tokenLeaks(r: RunResult): string[] {
  return (r.stdout + r.stderr).split("\n").filter((l) => l.includes(GITHUB_TOKEN) && !l.startsWith("::add-mask::"));
}

const ROUTE = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments";

describe("GitHub's rate limits and server errors", () => {
  it("a secondary rate limit (429, Retry-After: 1) is waited out for the header's delay, then retried", async () => {
    gh.failures.push({
      method: "POST",
      pathPrefix: "/repos/capydb-demo/shop/issues/301/comments",
      status: 429,
      remaining: 1,
      message: SECONDARY,
      headers: { "retry-after": "1" },
    });
    const r = await opened(301);
    expect(r.stdout).toContain(`GitHub: secondary rate limit on ${ROUTE}; retrying after 1s (retry 1 of 2)`);
    const posts = commentPosts(301);
    expect(posts).toHaveLength(2);
    // the wait GitHub asked for, at least (a lower bound: slowness cannot fail it)
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(950);
    expect(gh.actionComments(301)).toHaveLength(1);
    expect(r.outputs["comment-id"]).toBe(String(gh.actionComments(301)[0].id));
    expect(r.stdout).not.toContain("::warning::");
    expect(tokenLeaks(r)).toEqual([]);
  });

  it("a secondary rate limit that persists (403, Retry-After: 1) is given up after 2 retries with a clear warning", async () => {
    gh.failures.push({
      method: "POST",
      pathPrefix: "/repos/capydb-demo/shop/issues/302/comments",
      status: 403,
      remaining: 10,
      message: SECONDARY,
      headers: { "retry-after": "1" },
    });
    try {
      const r = await opened(302);
      expect(r.outputs.operation).toBe("created");
      expect(commentPosts(302)).toHaveLength(3);
      expect(r.stdout).toContain(`retrying after 1s (retry 1 of 2)`);
      expect(r.stdout).toContain(`retrying after 1s (retry 2 of 2)`);
      expect(r.stdout).toContain(`::warning::GitHub: secondary rate limit on ${ROUTE} persisted after 2 retries: giving up on this request`);
      expect(r.stdout).toMatch(
        /::warning::Pull request comment: could not create it: HTTP 403: You have exceeded a secondary rate limit.*\(GitHub's rate limit, still in force after 2 retries\)/,
      );
      expect(r.stdout).not.toMatch(/pull-requests: write/); // not a permissions problem
      expect(r.outputs["comment-id"]).toBe("");
      expect(tokenLeaks(r)).toEqual([]);
    } finally {
      gh.failures.length = 0;
    }
  });

  it("an exhausted primary rate limit (x-ratelimit-remaining: 0) is retried once its reset has passed", async () => {
    // a reset in the past: no wait at all
    gh.failures.push({
      method: "POST",
      pathPrefix: "/repos/capydb-demo/shop/issues/303/comments",
      status: 403,
      remaining: 1,
      message: "API rate limit exceeded for installation ID 1.",
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" },
    });
    const r = await opened(303);
    expect(r.stdout).toContain(`GitHub: rate limit exhausted on ${ROUTE}; retrying after 0s (retry 1 of 2)`);
    expect(commentPosts(303)).toHaveLength(2);
    expect(gh.actionComments(303)).toHaveLength(1);
  });

  it("a 5xx is retried; a plain 403 (no rate limit) is not", async () => {
    gh.failures.push({ method: "POST", pathPrefix: "/repos/capydb-demo/shop/issues/304/comments", status: 502, remaining: 2 });
    const r = await opened(304);
    expect(commentPosts(304)).toHaveLength(3);
    expect(gh.actionComments(304)).toHaveLength(1);
    expect(r.stdout).not.toContain("::warning::");

    gh.failures.push({ method: "POST", pathPrefix: "/repos/capydb-demo/shop/issues/305/comments", status: 403, remaining: 5 });
    try {
      const denied = await opened(305);
      expect(commentPosts(305)).toHaveLength(1);
      expect(denied.stdout).toMatch(/::warning::Pull request comment: could not create it: HTTP 403: injected 403.*pull-requests: write/);
    } finally {
      gh.failures.length = 0;
    }
  });

  it("a 5xx that persists is given up after 3 retries, with a warning", async () => {
    gh.failures.push({ method: "POST", pathPrefix: "/repos/capydb-demo/shop/issues/306/comments", status: 500, remaining: 10 });
    try {
      const r = await opened(306);
      expect(r.outputs.operation).toBe("created");
      expect(commentPosts(306)).toHaveLength(4);
      expect(r.stdout).toMatch(/::warning::Pull request comment: could not create it: HTTP 500: injected 500/);
    } finally {
      gh.failures.length = 0;
    }
  });
});

describe("a runner behind a proxy", () => {
  it("sends GitHub's calls through http_proxy (a CONNECT tunnel), the CapyDB API's not", async () => {
    // The proxy tunnels every CONNECT to the fake GitHub, whatever host it names: the name below
    // is never resolved, so only the proxy can have carried the calls.
    const tunnels: string[] = [];
    const proxy = net.createServer();
    const sockets = new Set<net.Socket>();
    proxy.on("connection", (client) => {
      sockets.add(client);
      client.once("data", (head) => {
        const line = head.toString("latin1").split("\r\n")[0];
        const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
        if (!m) return void client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        tunnels.push(m[1]);
        const upstream = net.connect(Number(new URL(gh.url).port), "127.0.0.1", () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          client.pipe(upstream).pipe(client);
        });
        sockets.add(upstream);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const port = new URL(gh.url).port;
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
      const r = await opened(307, { githubApiUrl: `http://api.github.test:${port}`, env: { http_proxy: proxyUrl, no_proxy: "" } });
      expect(r.outputs.operation).toBe("created");
      expect(tunnels.length).toBeGreaterThan(0);
      expect(new Set(tunnels)).toEqual(new Set([`api.github.test:${port}`]));
      expect(gh.actionComments(307)).toHaveLength(1);
      expect(r.outputs["comment-id"]).toBe(String(gh.actionComments(307)[0].id));
      expect(r.stdout).not.toContain("::warning::");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
