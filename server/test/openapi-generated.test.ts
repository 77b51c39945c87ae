// A client generated from the served OpenAPI document by openapi-typescript, called through
// openapi-fetch, as a user's own project would: the generated types compile with a small flow
// under `tsc --strict`, and the compiled flow, run by plain node, makes a project and a
// preview on a real server and PostgreSQL.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import openapiTS, { astToString } from "openapi-typescript";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../test/harness/server.js";

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// what the child processes get: enough to find node, nothing of this process's secrets
const childEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() };

// The user's code: only the generated `paths` and openapi-fetch.
const FLOW = `import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

type Api = ReturnType<typeof createClient<paths>>;

async function waitForJob(api: Api, jobID: string): Promise<string> {
  for (;;) {
    const { data, error } = await api.GET("/v1/jobs/{jobID}", { params: { path: { jobID } } });
    if (error) throw new Error(\`job \${jobID}: \${error.code}\`);
    if (data.job.state === "succeeded") return data.job.state;
    if (data.job.state === "failed" || data.job.state === "canceled") throw new Error(\`job \${jobID} \${data.job.state}: \${data.job.error ?? ""}\`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface FlowResult {
  projectID: string;
  previewID: string;
  previewName: string;
  previewState: string;
  listed: string[];
  uri: string;
  missingStatus: number;
  missingCode: string;
  pagedProjects: string[];
}

export async function flow(baseUrl: string, apiKey: string): Promise<FlowResult> {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${apiKey}\` } });
  const created = await api.POST("/v1/projects", { body: { name: "generated" } });
  if (created.error) throw new Error(\`createProject: \${created.error.code} \${created.error.error}\`);
  const projectID = created.data.project.id;
  await waitForJob(api, created.data.job.id);

  const made = await api.POST("/v1/projects/{projectID}/preview-databases", { params: { path: { projectID } }, body: { name: "pr-7" } });
  if (made.error) throw new Error(\`createPreview: \${made.error.code} \${made.error.error}\`);
  const previewID = made.data.preview.id;
  await waitForJob(api, made.data.job.id);

  const got = await api.GET("/v1/preview-databases/{previewID}", { params: { path: { previewID } } });
  if (got.error) throw new Error(got.error.code);
  const listed = await api.GET("/v1/projects/{projectID}/preview-databases", { params: { path: { projectID } } });
  if (listed.error) throw new Error(listed.error.code);
  const uri = await api.GET("/v1/preview-databases/{previewID}/connection-uri", { params: { path: { previewID }, query: { pooled: "false" } } });
  if (uri.error) throw new Error(uri.error.code);

  const missing = await api.GET("/v1/projects/{projectID}", { params: { path: { projectID: "prj_0000000000" } } });

  // every project, a page of one at a time
  const pagedProjects: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await api.GET("/v1/projects", { params: { query: { limit: 1, cursor } } });
    if (page.error) throw new Error(page.error.code);
    pagedProjects.push(...page.data.projects.map((p) => p.id));
    if (!page.data.next_cursor) break;
    cursor = page.data.next_cursor;
  }
  return {
    pagedProjects,
    projectID,
    previewID,
    previewName: got.data.preview.name,
    previewState: got.data.preview.state,
    listed: listed.data.preview_databases.map((p) => p.id),
    uri: uri.data.uri,
    missingStatus: missing.response.status,
    missingCode: missing.error?.code ?? "",
  };
}

export async function removePreview(baseUrl: string, apiKey: string, previewID: string): Promise<{ job: string }> {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${apiKey}\` } });
  const deleted = await api.DELETE("/v1/preview-databases/{previewID}", { params: { path: { previewID } } });
  if (deleted.error) throw new Error(deleted.error.code);
  return { job: await waitForJob(api, deleted.data.job.id) };
}

// Never called: what the types must refuse (tsc fails on an @ts-expect-error that has no error).
export function refused(api: Api): unknown[] {
  return [
    // @ts-expect-error createProject's body is required
    api.POST("/v1/projects", {}),
    // @ts-expect-error a project needs a name
    api.POST("/v1/projects", { body: {} }),
    // @ts-expect-error no such path
    api.GET("/v1/projectz"),
    // @ts-expect-error the path parameter is required
    api.GET("/v1/projects/{projectID}", {}),
  ];
}
`;

const RUN = `import { flow, removePreview } from "./flow.js";
const [step, baseUrl, previewID] = process.argv.slice(2);
const apiKey = process.env.CAPYDB_API_KEY ?? "";
const result = step === "flow" ? await flow(baseUrl, apiKey) : await removePreview(baseUrl, apiKey, previewID);
process.stdout.write(JSON.stringify(result));
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noUnusedLocals: true,
    // the generated schema.ts is checked; the packages' own declarations are theirs
    skipLibCheck: true,
    outDir: "out",
    types: ["node"],
  },
  include: ["schema.ts", "flow.ts", "run.ts"],
};

let t: TestServer;
let dir: string;

beforeAll(async () => {
  t = await startTestServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-generated-"));
  // a user's project outside the repository, with the packages it would install
  fs.symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"), "dir");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "generated-client-flow", private: true, type: "module" }));
});
afterAll(async () => {
  await t?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("a client generated from the served document (openapi-typescript + openapi-fetch)", () => {
  it("compiles under tsc --strict and runs a project → preview flow against a real server", async () => {
    const served = await fetch(`${t.url}/v1/openapi.json`);
    expect(served.status).toBe(200);
    const document = (await served.json()) as Parameters<typeof openapiTS>[0];
    const schema = astToString(await openapiTS(document));
    // operations are named after the typed client's methods
    expect(schema).toContain("createPreview: {");
    expect(schema).not.toMatch(/getV1|By_/);
    fs.writeFileSync(path.join(dir, "schema.ts"), schema);
    fs.writeFileSync(path.join(dir, "flow.ts"), FLOW);
    fs.writeFileSync(path.join(dir, "run.ts"), RUN);
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));

    const tsc = path.join(repo, "node_modules", "typescript", "bin", "tsc");
    const compiled = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir, env: childEnv }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${err.stdout ?? String(err)}`);
    });
    expect(compiled.stdout).toBe("");
    expect(fs.existsSync(path.join(dir, "out", "flow.js"))).toBe(true);

    const orgId = (await t.admin.createOrganization({ name: "Generated" })).organization.id;
    const key = (await t.admin.createApiKey(orgId, { name: "generated" })).secret;
    // a project of the organization already there: the flow pages through two
    const other = (await t.admin.createProject({ name: "other", organization_id: orgId })).project.id;
    // the key travels in the environment, not on a command line others can read
    const env = { ...childEnv, CAPYDB_API_KEY: key };
    const step = async (...args: string[]) =>
      JSON.parse((await run(process.execPath, [path.join(dir, "out", "run.js"), ...args], { cwd: dir, env, timeout: 120_000 })).stdout) as Record<
        string,
        unknown
      >;
    const result = await step("flow", t.url);
    expect(result.projectID).toMatch(/^prj_/);
    expect(result.previewName).toBe("pr-7");
    expect(result.previewState).toBe("ready");
    expect(result.listed).toEqual([result.previewID]);
    expect(result.missingStatus).toBe(404);
    expect(result.missingCode).toBe("project_not_found");
    expect(result.pagedProjects).toEqual([result.projectID, other]);
    expect((await t.admin.listProjects({ organizationId: orgId })).projects.map((p) => p.id)).toEqual(result.pagedProjects);
    // the preview is a real database on the cluster
    const c = new pg.Client({ connectionString: result.uri as string });
    await c.connect();
    try {
      const { preview } = await t.admin.getPreview(result.previewID as string);
      expect((await c.query("select current_database() as db")).rows[0].db).toBe(preview.database_name);
    } finally {
      await c.end();
    }
    expect(await step("remove", t.url, result.previewID as string)).toEqual({ job: "succeeded" });
    expect((await t.admin.getPreview(result.previewID as string)).preview.state).toBe("deleted");
  }, 180_000);
});
