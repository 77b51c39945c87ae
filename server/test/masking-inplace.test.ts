// Masked previews made by masking the preview's own copy before it is swapped in: every
// masked preview on the shared engine (no file-level snapshot to derive a masked one from),
// and masked previews from a backup. Same promise as the masked snapshot: no original value
// of a masked column anywhere, joins hold, proven against production, fail closed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import type { CapyClient, Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";

let t: TestServer;
let org: CapyClient;
let project: Project;
let prod: string;

beforeAll(async () => {
  t = await startTestServer(); // the shared engine
  ({ client: org } = await organization(t, "Masking in place", "mi"));
  ({ project, uri: prod } = await readyProject(org, "crm"));
  psql(
    prod,
    `create table customers (id int primary key, email text not null unique, full_name text, phone text);
     create table orders (id serial primary key, customer_email text not null references customers(email) on update cascade, total int);
     insert into customers select g, 'client' || g || '@acme.test', 'Client' || g || ' Surname' || g, '555-01' || lpad(g::text, 4, '0')
       from generate_series(1, 2000) g;
     insert into orders (customer_email, total) select 'client' || (1 + g % 2000) || '@acme.test', g from generate_series(1, 5000) g;`,
  );
  await org.putMaskingRules(project.id, {
    rules: [
      { table: "customers", column: "email", strategy: "email" },
      { table: "customers", column: "full_name", strategy: "name" },
      { table: "customers", column: "phone", strategy: "phone" },
      { table: "orders", column: "customer_email", strategy: "email" },
    ],
  });
}, 120_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
});

const originals = () => psql(prod, "select string_agg(v, E'\\n') from customers c, lateral (values (c.email), (c.full_name), (c.phone)) x(v)").split("\n");
const dumpOf = (uri: string) => execFileSync("pg_dump", ["--data-only", uri], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
const joined = "select count(*) from orders o join customers c on c.email = o.customer_email";

async function checkMasked(previewId: string): Promise<string> {
  const preview = (await org.getPreview(previewId)).preview;
  expect(preview).toMatchObject({ state: "ready", masked: true });
  expect(preview.masking_verified_at).not.toBeNull();
  const uri = await org.getPreviewConnectionUri(previewId);
  const dump = dumpOf(uri);
  expect(dump).toContain("COPY public.customers");
  expect(originals().filter((v) => dump.includes(v))).toEqual([]);
  expect(psql(uri, joined)).toBe("5000");
  return uri;
}

describe("masking a preview's own copy", () => {
  it("on the shared engine: the template clone is masked before it is swapped in, and again on reset", async () => {
    const { preview, job } = await org.createPreview(project.id, { name: "shared-masked" });
    expect(preview.masked).toBe(true);
    await org.waitForJob(job.id, { timeoutMs: 120_000 });
    const uri = await checkMasked(preview.id);
    const sum = "select md5(string_agg(email || full_name || phone, ',' order by id)) from customers";
    const before = psql(uri, sum);
    await org.waitForJob((await org.resetPreview(preview.id, {})).job.id, { timeoutMs: 120_000 });
    await checkMasked(preview.id);
    // the same values mask the same way (a keyed hash per project)
    expect(psql(uri, sum)).toBe(before);
    // production keeps its data, and the snapshot it was cloned from is not masked
    expect(psql(prod, "select count(*) from customers where email like '%@acme.test'")).toBe("2000");
    const plain = await org.createPreview(project.id, { name: "shared-plain", masked: false });
    await org.waitForJob(plain.job.id, { timeoutMs: 120_000 });
    expect(psql(await org.getPreviewConnectionUri(plain.preview.id), "select count(*) from customers where email like '%@acme.test'")).toBe("2000");
  });

  it("from a backup: the restored copy is masked before it is swapped in", async () => {
    const { job } = await org.createBackup(project.id, { label: "to mask" });
    await org.waitForJob(job.id, { timeoutMs: 120_000 });
    const backup = (await org.listBackups(project.id)).backups.find((b) => b.label === "to mask")!;
    const made = await org.createPreview(project.id, { name: "from-backup", source_kind: "backup", backup_id: backup.id });
    expect(made.preview.masked).toBe(true);
    await org.waitForJob(made.job.id, { timeoutMs: 120_000 });
    await checkMasked(made.preview.id);
  });

  it("fails closed: a masked value the copy's constraint refuses leaves no preview, the reason on the job", async () => {
    psql(prod, "alter table customers add constraint acme_only check (email like '%@acme.test')");
    const { preview, job } = await org.createPreview(project.id, { name: "refused", fresh: true });
    await expect(org.waitForJob(job.id, { timeoutMs: 120_000 })).rejects.toThrow(/masking failed.*acme_only/);
    expect((await org.getPreview(preview.id)).preview).toMatchObject({ state: "failed", masking_verified_at: null });
    const left = await t.server.ctx.db.query("select database_name from preview_databases where id = $1", [preview.id]);
    expect(psql(prod, `select count(*) from pg_database where datname like '${left.rows[0].database_name}%'`)).toBe("0");
    psql(prod, "alter table customers drop constraint acme_only");
  });
});
