// What scrubSecrets takes out of job records, logs and error bodies: passwords given to it (raw
// and URL-encoded), URL passwords, libpq password= values, API keys and GitHub Actions tokens.
import { describe, expect, it } from "vitest";
import { scrubSecrets } from "../src/platform/jobs/scrub.js";

describe("scrubSecrets", () => {
  it("masks each kind of secret and leaves the rest of the text", () => {
    const text = [
      "connect as s3cr/et+pw and s3cr%2Fet%2Bpw",
      "postgres://alice:hunter2@db.internal:5432/app",
      "host=x password='p w' dbname=app",
      "Authorization: Bearer capy_live_AbC123_-xyz",
      "Authorization: Bearer capy_oidc_Zz9-_8yy",
    ].join("\n");
    const out = scrubSecrets(text, ["s3cr/et+pw"]);
    for (const leaked of ["s3cr/et+pw", "s3cr%2Fet%2Bpw", "hunter2", "'p w'", "AbC123", "Zz9-_8yy"]) expect(out).not.toContain(leaked);
    expect(out).toContain("postgres://alice:********@db.internal:5432/app");
    expect(out).toContain("capy_live_********");
    expect(out).toContain("capy_oidc_********");
    expect(out).toContain("connect as ******** and ********");
  });
});
