// The action decides on the API's error codes, never on the error text: each case is answered
// once with its code under reworded text (handled) and once with the same status and another
// code (not handled). The whole flows run against a real server in preview-database.test.ts.
import { describe, expect, it } from "vitest";
import { CapyApiError, type CapyClient, type Cutover, type PreviewDatabase, type Project } from "@capydb/api";
import { fetchCredentials } from "../../actions/preview-database/src/credentials.js";
import { requestCutover } from "../../actions/preview-database/src/cutover.js";
import { toActionError } from "../../actions/preview-database/src/errors.js";

const apiError = (status: number, code: string, error = `reworded on purpose (${code})`) => new CapyApiError(status, error, "GET", "/v1/x", { error, code });

const project = { id: "prj_1", database_name: "capy_prod", role_name: "capy_prod_owner" } as Project;
const preview = {
  id: "pdb_1",
  project_id: "prj_1",
  name: "pr-7",
  database_name: "capy_prod_pv",
  role_name: "capy_prod_pv_owner",
  pooled_port: 6432,
} as PreviewDatabase;
const direct = "postgresql://capy_prod_pv_owner:s3cret@db.example.com:5432/capy_prod_pv";

function connectionClient(pooledAnswer: () => Promise<string>): CapyClient {
  return { getPreviewConnectionUri: (_id: string, o: { pooled?: boolean }) => (o.pooled ? pooledAnswer() : Promise.resolve(direct)) } as unknown as CapyClient;
}

describe("the action's error codes", () => {
  it("pooling_unavailable: credentials without a pooled URL; any other 409 fails", async () => {
    const creds = await fetchCredentials(
      connectionClient(() => Promise.reject(apiError(409, "pooling_unavailable"))),
      preview,
      project,
    );
    expect(creds.pooledDatabaseUrl).toBeNull();
    expect(creds.databaseUrl).toBe(direct);
    await expect(
      fetchCredentials(
        connectionClient(() => Promise.reject(apiError(409, "preview_deleted"))),
        preview,
        project,
      ),
    ).rejects.toMatchObject({
      code: "preview_deleted",
    });
  });

  it("cutover_already_open: a concurrent run's request is reused; another 409 fails", async () => {
    const standing = { id: "cut_1", preview_database_id: "pdb_1", status: "open" } as Cutover;
    const racing = (err: CapyApiError) => {
      let lists = 0;
      return {
        // empty on the first look, the concurrent run's request on the second
        listCutoverRequests: () => Promise.resolve({ cutover_requests: lists++ === 0 ? [] : [standing] }),
        createCutoverRequest: () => Promise.reject(err),
      } as unknown as CapyClient;
    };
    expect(await requestCutover(racing(apiError(409, "cutover_already_open")), "prj_1", preview, "note", "schema")).toEqual({
      request: standing,
      reused: true,
    });
    await expect(requestCutover(racing(apiError(409, "preview_not_ready")), "prj_1", preview, "note", "schema")).rejects.toMatchObject({
      code: "preview_not_ready",
    });
  });

  it("unauthorized and forbidden get their own advice; other codes are named in the message", () => {
    expect(toActionError(apiError(401, "unauthorized"), null).message).toMatch(/^CapyDB rejected the API key \(401/);
    expect(toActionError(apiError(403, "forbidden"), null).message).toMatch(/^The API key is not allowed to do this/);
    expect(toActionError(apiError(409, "preview_limit_reached"), null).message).toBe(
      "The CapyDB API answered 409 (preview_limit_reached) to GET /v1/x: reworded on purpose (preview_limit_reached)",
    );
  });
});
