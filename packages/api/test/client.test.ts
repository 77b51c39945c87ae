// The typed client against a local node:http server standing in for the API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CapyApiError,
  CapyClient,
  CapyNetworkError,
  createClient,
  JobFailedError,
  JobTimeoutError,
  type CapyClientOptions,
  type JobStateName,
} from "../src/client.js";
import type { Job } from "../src/schemas.js";

const API_KEY = "capy_live_TESTSECRET_0123456789";

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
  /** The client's end of the connection: the same port means a kept-alive connection. */
  remotePort: number | undefined;
}
type Handler = (req: Recorded, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let requests: Recorded[] = [];
let handler: Handler = (_req, res) => json(res, 500, { error: "no handler" });
const clients: CapyClient[] = [];

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function client(options: Partial<CapyClientOptions> = {}): CapyClient {
  const c = createClient({ baseUrl, apiKey: API_KEY, retries: 3, retryBaseMs: 5, timeoutMs: 2_000, ...options });
  clients.push(c);
  return c;
}

function makeJob(overrides: Partial<Job> = {}): Job {
  const now = new Date().toISOString();
  return {
    id: "job_1",
    type: "project.create",
    state: "pending",
    organization_id: "org_1",
    project_id: "prj_1",
    preview_database_id: null,
    cluster_id: "default",
    locked_resource: null,
    attempts: 0,
    max_attempts: 5,
    retry_classification: null,
    error: null,
    last_exit_code: null,
    last_stdout: null,
    last_stderr: null,
    claimed_by: null,
    claimed_at: null,
    started_at: null,
    completed_at: null,
    created_at: now,
    updated_at: now,
    requested_by_actor_kind: null,
    requested_by_actor_id: null,
    requested_by_pr_number: null,
    requested_by_sha: null,
    ...overrides,
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: Recorded = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        at: performance.now(),
        remotePort: req.socket.remotePort,
      };
      requests.push(rec);
      handler(rec, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  requests = [];
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("requests", () => {
  it("sends the bearer key, a user agent and asks for JSON", async () => {
    handler = (_req, res) => json(res, 200, { projects: [] });
    expect(await client({ userAgent: "capy-test/1" }).listProjects()).toEqual({ projects: [] });
    expect(requests).toHaveLength(1);
    expect(requests[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(requests[0].headers["user-agent"]).toBe("capy-test/1");
    expect(requests[0].headers.accept).toBe("application/json");
    expect(requests[0].url).toBe("/v1/projects");
  });

  it("sends JSON bodies and encodes path parameters", async () => {
    handler = (_req, res) => json(res, 200, { project: { id: "a/b c" } });
    const c = client({ validateResponses: false });
    await c.updateProject("a/b c", { name: "renamed", max_connections: 20 });
    expect(requests[0].method).toBe("PATCH");
    expect(requests[0].url).toBe("/v1/projects/a%2Fb%20c");
    expect(requests[0].headers["content-type"]).toBe("application/json");
    expect(JSON.parse(requests[0].body)).toEqual({ name: "renamed", max_connections: 20 });

    handler = (_req, res) => json(res, 202, { job: makeJob() });
    await c.disableExtension("p?x#y", "pg/trgm");
    expect(requests[1].url).toBe("/v1/projects/p%3Fx%23y/extensions/pg%2Ftrgm");
    await expect(c.getProject("")).rejects.toThrow(TypeError);
  });

  it("builds query strings and unwraps connection URIs", async () => {
    handler = (req, res) => (req.url!.includes("connection-uri") ? json(res, 200, { uri: "postgres://u:p@h/db" }) : json(res, 200, { preview_databases: [] }));
    const c = client();
    await c.listPreviews("prj_1", { includeDeleted: true });
    await c.listPreviews("prj_1");
    expect(await c.getConnectionUri("prj_1", { pooled: true })).toBe("postgres://u:p@h/db");
    expect(requests.map((r) => r.url)).toEqual([
      "/v1/projects/prj_1/preview-databases?include_deleted=true",
      "/v1/projects/prj_1/preview-databases",
      "/v1/projects/prj_1/connection-uri?pooled=true",
    ]);
  });

  it("keeps a base path prefix and routes the cutover actions", async () => {
    handler = (_req, res) => json(res, 200, { cutover_request: { id: "cr_1" } });
    const c = client({ baseUrl: `${baseUrl}/api/`, validateResponses: false });
    await c.getCutoverRequest("cr_1");
    await c.rejectCutoverRequest("cr_1", { rejected_reason: "not today" });
    await c.executeCutoverRequest("cr_1");
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /api/v1/cutover-requests/cr_1",
      "POST /api/v1/cutover-requests/cr_1/reject",
      "POST /api/v1/cutover-requests/cr_1/execute",
    ]);
    expect(JSON.parse(requests[1].body)).toEqual({ rejected_reason: "not today" });
    expect(requests[2].body).toBe("");
  });

  it("reports a response that does not match its schema and returns it as-is", async () => {
    handler = (_req, res) => json(res, 200, { job: { id: "job_1", state: "weird" } });
    const mismatches: unknown[] = [];
    const answer = await client({ onResponseMismatch: (m) => mismatches.push(m) }).getJob("job_1");
    expect(answer).toEqual({ job: { id: "job_1", state: "weird" } });
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatchObject({ method: "GET", endpoint: "/v1/jobs/{jobID}" });
  });
});

describe("errors", () => {
  it("throws CapyApiError with the status and the API's error text, never the key", async () => {
    handler = (_req, res) => json(res, 404, { error: "project not found" });
    const err = await client()
      .getProject("prj_missing")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapyApiError);
    const apiErr = err as CapyApiError;
    expect(apiErr.status).toBe(404);
    expect(apiErr.message).toBe("project not found");
    expect(apiErr.method).toBe("GET");
    expect(apiErr.path).toBe("/v1/projects/prj_missing");
    expect(apiErr.body).toEqual({ error: "project not found" });
    for (const rendering of [JSON.stringify(apiErr), inspect(apiErr, { depth: 10, showHidden: true }), String(apiErr.stack)]) {
      expect(rendering).not.toContain(API_KEY);
    }
  });

  it("redacts the key when the API echoes it back", async () => {
    handler = (req, res) => json(res, 401, { error: `invalid API key ${req.headers.authorization}` });
    const err = (await client()
      .listProjects()
      .catch((e: unknown) => e)) as CapyApiError;
    expect(err.status).toBe(401);
    expect(err.message).toBe("invalid API key Bearer [REDACTED]");
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(API_KEY);
    expect(requests).toHaveLength(1);
  });

  it("exposes the answer's code, and the generic code of the status when there is none it knows", async () => {
    handler = (_req, res) => json(res, 409, { error: 'name: a live preview named "pr-1" already exists in this project', code: "preview_name_taken" });
    await expect(client().createPreview("prj_1", { name: "pr-1" })).rejects.toMatchObject({ status: 409, code: "preview_name_taken" });
    // the code decides, whatever the text says
    handler = (_req, res) => json(res, 409, { error: "name: reworded, still the same case", code: "preview_name_taken" });
    await expect(client().createPreview("prj_1", { name: "pr-1" })).rejects.toMatchObject({ code: "preview_name_taken" });
    // an older server (no code), a code newer than this client, a proxy's page: the status's generic code
    handler = (_req, res) => json(res, 409, { error: 'name: a live preview named "pr-1" already exists in this project' });
    await expect(client().createPreview("prj_1", { name: "pr-1" })).rejects.toMatchObject({ status: 409, code: "conflict" });
    handler = (_req, res) => json(res, 404, { error: "gone", code: "a_code_from_the_future" });
    const future = (await client()
      .getPreview("pdb_1")
      .catch((e: unknown) => e)) as CapyApiError;
    expect(future.code).toBe("not_found");
    expect(future.body).toEqual({ error: "gone", code: "a_code_from_the_future" });
    handler = (_req, res) => {
      res.writeHead(504, { "content-type": "text/html" });
      res.end("<h1>gateway timeout</h1>");
    };
    await expect(client({ retries: 0 }).getPreview("pdb_1")).rejects.toMatchObject({ status: 504, code: "unavailable" });
  });

  it("keeps a non-JSON error page as text", async () => {
    handler = (_req, res) => {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<h1>boom</h1>");
    };
    const err = (await client()
      .health()
      .catch((e: unknown) => e)) as CapyApiError;
    expect(err.status).toBe(500);
    expect(err.message).toBe("HTTP 500: <h1>boom</h1>");
    expect(err.code).toBe("internal");
    expect(requests[0].headers.authorization).toBeUndefined();
  });
});

describe("retries", () => {
  it("retries a 503 and succeeds", async () => {
    let calls = 0;
    handler = (_req, res) => (++calls === 1 ? json(res, 503, { error: "unavailable" }) : json(res, 200, { projects: [] }));
    expect(await client().listProjects()).toEqual({ projects: [] });
    expect(requests).toHaveLength(2);
  });

  it("honours Retry-After on 429, even for a POST", async () => {
    let calls = 0;
    handler = (_req, res) => (++calls === 1 ? json(res, 429, { error: "slow down" }, { "retry-after": "0.2" }) : json(res, 202, { job: makeJob() }));
    await client({ retryBaseMs: 1 }).createBackup("prj_1", { label: "nightly" });
    expect(requests).toHaveLength(2);
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(190);
    expect(JSON.parse(requests[1].body)).toEqual({ label: "nightly" });
  });

  it("caps Retry-After at maxRetryDelayMs", async () => {
    let calls = 0;
    handler = (_req, res) => (++calls === 1 ? json(res, 503, { error: "busy" }, { "retry-after": "120" }) : json(res, 200, { projects: [] }));
    const started = performance.now();
    await client({ maxRetryDelayMs: 20 }).listProjects();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(requests).toHaveLength(2);
  });

  it("does not retry a 400", async () => {
    handler = (_req, res) => json(res, 400, { error: "name: must not be empty" });
    await expect(client().createProject({ name: "" })).rejects.toMatchObject({ status: 400, message: "name: must not be empty" });
    expect(requests).toHaveLength(1);
  });

  it("retries a GET after 502 but never a POST", async () => {
    handler = (_req, res) => json(res, 502, { error: "bad gateway" });
    await expect(client().restoreBackup("bk_1")).rejects.toMatchObject({ status: 502 });
    expect(requests).toHaveLength(1);

    requests = [];
    await expect(client({ retries: 2 }).getBackup("bk_1")).rejects.toMatchObject({ status: 502 });
    expect(requests).toHaveLength(3);
  });

  it("retries a GET after a dropped connection but never a POST", async () => {
    handler = (_req, res) => res.socket?.destroy();
    const err = await client()
      .createImport("prj_1", { source_url: "postgres://x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapyNetworkError);
    expect(requests).toHaveLength(1);

    requests = [];
    await expect(client({ retries: 2 }).listBackups("prj_1")).rejects.toBeInstanceOf(CapyNetworkError);
    expect(requests).toHaveLength(3);
  });

  it("retries a refused connection, POST included, then throws", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const c = client({ baseUrl: `http://127.0.0.1:${port}`, retries: 2 });
    for (const call of [() => c.listProjects(), () => c.createProject({ name: "x" })]) {
      const err = (await call().catch((e: unknown) => e)) as CapyNetworkError;
      expect(err).toBeInstanceOf(CapyNetworkError);
      expect(err.code).toBe("ECONNREFUSED");
      expect(err.attempts).toBe(3);
      // the socket's own words, not fetch's "fetch failed"
      expect(err.message).toMatch(/failed: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(ECONNREFUSED\) after 3 attempt\(s\)$/);
      expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(API_KEY);
    }
  });

  it("times out a hanging request", async () => {
    handler = () => {}; // never answers
    const err = (await client({ timeoutMs: 100, retries: 0 })
      .getJob("job_1")
      .catch((e: unknown) => e)) as CapyNetworkError;
    expect(err).toBeInstanceOf(CapyNetworkError);
    expect(err.message).toContain("timed out after 100 ms");
  });
});

describe("waitForJob", () => {
  function serveStates(states: JobStateName[], last: Partial<Job> = {}): void {
    let i = 0;
    handler = (_req, res) => {
      const index = Math.min(i++, states.length - 1);
      const job = makeJob({ state: states[index], attempts: states[index] === "pending" ? 0 : 1 });
      json(res, 200, { job: index === states.length - 1 ? { ...job, ...last } : job });
    };
  }

  it("resolves on succeeded and reports each state change once", async () => {
    serveStates(["pending", "pending", "running", "running", "running", "succeeded"]);
    const seen: string[] = [];
    const job = await client().waitForJob("job_1", { pollMs: 5, maxPollMs: 10, onProgress: (j, ms) => seen.push(`${j.state}@${ms >= 0}`) });
    expect(job.state).toBe("succeeded");
    expect(seen).toEqual(["pending@true", "running@true", "succeeded@true"]);
    expect(requests.every((r) => r.url === "/v1/jobs/job_1")).toBe(true);
  });

  it("throws JobFailedError with the error and the stderr tail", async () => {
    const stderr = Array.from({ length: 30 }, (_, n) => `stderr line ${String(n + 1).padStart(2, "0")}`).join("\n");
    serveStates(["running", "failed"], { error: "pg_restore exited with 1", last_stderr: `${stderr}\n` });
    const err = (await client()
      .waitForJob("job_1", { pollMs: 5 })
      .catch((e: unknown) => e)) as JobFailedError;
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.job.state).toBe("failed");
    expect(err.message).toContain("pg_restore exited with 1");
    expect(err.message).toContain("stderr line 30");
    expect(err.message).toContain("stderr line 11");
    expect(err.message).not.toContain("stderr line 10");
  });

  it("throws JobFailedError when the job is canceled", async () => {
    serveStates(["canceled"]);
    await expect(client().waitForJob("job_1", { pollMs: 5 })).rejects.toMatchObject({ name: "JobFailedError", message: expect.stringContaining("canceled") });
  });

  it("keeps polling through a brief outage", async () => {
    let calls = 0;
    handler = (_req, res) => (++calls <= 2 ? json(res, 503, { error: "restarting" }) : json(res, 200, { job: makeJob({ state: "succeeded", attempts: 1 }) }));
    const job = await client({ retries: 0 }).waitForJob("job_1", { pollMs: 5 });
    expect(job.state).toBe("succeeded");
    expect(requests).toHaveLength(3);
  });

  it("throws JobTimeoutError naming the job and its last state", async () => {
    serveStates(["running"]);
    const err = (await client()
      .waitForJob("job_1", { timeoutMs: 150, pollMs: 10 })
      .catch((e: unknown) => e)) as JobTimeoutError;
    expect(err).toBeInstanceOf(JobTimeoutError);
    expect(err.jobId).toBe("job_1");
    expect(err.lastState).toBe("running");
    expect(err.message).toContain("job_1");
    expect(err.message).toContain("running");
  });

  it("stops when its signal aborts", async () => {
    serveStates(["running"]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 50);
    await expect(client().waitForJob("job_1", { pollMs: 10, signal: controller.signal })).rejects.toThrow("stop");
  });

  it("does not keep polling a job that does not exist", async () => {
    handler = (_req, res) => json(res, 404, { error: "job not found" });
    await expect(client().waitForJob("job_x", { pollMs: 5 })).rejects.toMatchObject({ status: 404 });
    expect(requests).toHaveLength(1);
  });
});

describe("transport (Node's built-in fetch)", () => {
  it("keeps the connection alive between requests", async () => {
    handler = (_req, res) => json(res, 200, { projects: [] });
    const c = client();
    for (let i = 0; i < 6; i++) await c.listProjects();
    expect(requests).toHaveLength(6);
    // fetch's pool may open a second connection while the first one's answer is finishing
    expect(new Set(requests.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
  });

  it("times out a body that stops halfway, and retries a GET that did", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"projects": [');
    };
    const err = (await client({ timeoutMs: 150, retries: 1 })
      .listProjects()
      .catch((e: unknown) => e)) as CapyNetworkError;
    expect(err).toBeInstanceOf(CapyNetworkError);
    expect(err.code).toBe("ETIMEDOUT");
    expect(err.message).toContain("timed out after 150 ms");
    expect(err.attempts).toBe(2);
    expect(requests).toHaveLength(2);
  });

  it("answers a redirect as an error instead of following it (the key stays where it was sent)", async () => {
    handler = (_req, res) => {
      res.writeHead(307, { location: "/elsewhere" });
      res.end();
    };
    await expect(client().listProjects()).rejects.toMatchObject({ name: "CapyApiError", status: 307, message: "HTTP 307" });
    expect(requests.map((r) => r.url)).toEqual(["/v1/projects"]);
  });

  it("sends no body and no content-type on a request without one, and the exact JSON on one with", async () => {
    handler = (_req, res) => json(res, 202, { job: makeJob() });
    const c = client();
    await c.restoreBackup("bk_1");
    await c.createBackup("prj_1", { label: "ünïcode ✓" });
    expect(requests[0].headers["content-type"]).toBeUndefined();
    expect(requests[0].body).toBe("");
    expect(requests[1].headers["content-type"]).toBe("application/json");
    expect(requests[1].headers["content-length"]).toBe(String(Buffer.byteLength(requests[1].body)));
    expect(JSON.parse(requests[1].body)).toEqual({ label: "ünïcode ✓" });
  });

  it("refuses ids that URL parsing would collapse into another endpoint", async () => {
    handler = (_req, res) => json(res, 200, { projects: [] });
    const c = client();
    await expect(c.getProject(".")).rejects.toThrow(TypeError);
    await expect(c.deletePreview("..")).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(0);
  });

  it("close() lets in-flight requests finish, then refuses new ones", async () => {
    handler = (_req, res) => void setTimeout(() => json(res, 200, { projects: [] }), 100);
    const c = client();
    let answered = false;
    const inFlight = c.listProjects().then((a) => ((answered = true), a));
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await c.close();
    expect(answered).toBe(true);
    expect(await inFlight).toEqual({ projects: [] });
    const err = (await c.listProjects().catch((e: unknown) => e)) as CapyNetworkError;
    expect(err).toBeInstanceOf(CapyNetworkError);
    expect(err.code).toBe("CLIENT_CLOSED");
    expect(requests).toHaveLength(1);
  });

  it("rejects with the caller's abort reason, without retrying", async () => {
    handler = () => {}; // never answers
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 50);
    await expect(client().request("GET", "/v1/projects", { signal: controller.signal })).rejects.toThrow("caller gave up");
    expect(requests).toHaveLength(1);
  });
});
