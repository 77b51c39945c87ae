// Masking rules are read against production's catalog as the project's own role: when that
// role cannot log in (NOLOGIN, its connection limit reached) or production is down, the API
// answers 503 saying so, not a 500 with nothing to act on.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CapyClient, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { quoteIdent } from "../src/platform/dataplane/sql.js";

let t: TestServer;
let org: CapyClient;
let project: Project;

beforeAll(async () => {
  t = await startTestServer();
  ({ client: org } = await organization(t, "Masking unreachable", "mu"));
  ({ project } = await readyProject(org, "shop"));
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

it("GET and PUT masking-rules answer 503 naming the project while its role cannot log in, and work again after", async () => {
  const { rows } = await t.server.ctx.db.query<{ cluster_id: string; role_name: string }>("select cluster_id, role_name from projects where id = $1", [
    project.id,
  ]);
  const admin = await t.server.ctx.clusters.pool(rows[0].cluster_id);
  await admin.query(`ALTER ROLE ${quoteIdent(rows[0].role_name)} NOLOGIN`);
  try {
    for (const call of [() => org.getMaskingRules(project.id), () => org.putMaskingRules(project.id, { rules: [] })]) {
      await expect(call()).rejects.toMatchObject({
        status: 503,
        code: "unavailable",
        message: expect.stringMatching(new RegExp(`^project ${project.id}'s database could not be reached as its own role \\(.*not permitted to log in.*\\)`)),
      });
    }
  } finally {
    await admin.query(`ALTER ROLE ${quoteIdent(rows[0].role_name)} LOGIN`);
  }
  expect((await org.getMaskingRules(project.id)).masking_rules.rules).toEqual([]);
}, 120_000);
