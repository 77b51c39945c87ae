// Masked previews end to end (issue #16) on the instance engine, on a loop-mounted XFS
// image: rules checked against production, a masked snapshot made as the project's role
// and proven against production, previews cloned from it holding no original value of a
// masked column anywhere, joins and constraints intact, and every way it must fail closed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { CapyClient, type Project } from "@capydb/api";
import { startTestServer, type TestServer } from "../../test/harness/server.js";
import { psql } from "../../test/harness/sql.js";
import { organization, readyProject } from "../../test/harness/tenants.js";
import { reflinkDir, stopInstancesAndCleanup, type ReflinkDir } from "../../test/harness/reflink.js";
import { freePort } from "../../test/harness/ports.js";

let fsDir: ReflinkDir;
let t: TestServer;
let org: CapyClient;
let orgId: string;
let project: Project;
let prod: string;

const SCHEMA = `
  create table customers (
    id serial primary key,
    email text not null unique check (email like '%@%'),
    full_name text,
    phone text,
    birth_date date,
    ssn varchar(11),
    notes text
  );
  create table orders (id serial primary key, customer_email text not null references customers(email), total numeric(10,2));
  create table audit (id serial primary key, old_email text, at timestamptz default now());
  create function audit_email() returns trigger language plpgsql as $$
    begin insert into audit(old_email) values (OLD.email); return NEW; end $$;
  create trigger customers_audit before update on customers for each row execute function audit_email();
  insert into customers (email, full_name, phone, birth_date, ssn, notes)
    select 'person' || g || '@corp.test', 'Person' || g || ' Lastname' || g, '+1 (555) 01' || lpad(g::text, 4, '0'),
           date '1980-01-01' + g, '123-45-' || lpad(g::text, 4, '0'), 'note ' || g
      from generate_series(1, 3000) g;
  insert into orders (customer_email, total) select 'person' || (1 + g % 3000) || '@corp.test', g * 1.25 from generate_series(1, 9000) g;
  create materialized view order_totals as select customer_email, sum(total) as total from orders group by 1;
`;

const RULES = [
  { table: "customers", column: "email", strategy: "email" as const },
  { table: "public.customers", column: "full_name", strategy: "name" as const },
  { table: "customers", column: "phone", strategy: "phone" as const },
  { table: "customers", column: "birth_date", strategy: "date_shift" as const, days: 30 },
  { table: "customers", column: "ssn", strategy: "redact" as const },
  { table: "orders", column: "customer_email", strategy: "email" as const },
];

beforeAll(async () => {
  fsDir = reflinkDir("masking");
  const first = await freePort();
  t = await startTestServer({
    CAPYDB_DATA_PLANE_ENGINE: "instances",
    CAPYDB_INSTANCES_DIR: `${fsDir.dir}/instances`,
    CAPYDB_INSTANCE_PORTS: `${first}-${first + 40}`,
  });
  ({ orgId, client: org } = await organization(t, "Masking", "m"));
  ({ project, uri: prod } = await readyProject(org, "shop"));
  psql(prod, SCHEMA);
}, 180_000);

afterAll(async () => {
  await org?.close();
  await t?.stop();
  await stopInstancesAndCleanup(fsDir);
});

/** Every value of the masked columns in production (what must appear nowhere in a masked preview). */
function originals(): string[] {
  return psql(
    prod,
    "select string_agg(v, E'\\n') from customers c, lateral (values (c.email), (c.full_name), (c.phone), (to_jsonb(c) ->> 'ssn')) x(v) where v is not null",
  ).split("\n");
}

/** All the data a preview's role can read, as pg_dump writes it (every table, every column). */
function dumpOf(uri: string): string {
  return execFileSync("pg_dump", ["--data-only", "--no-owner", uri], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}

async function ready(create: Promise<{ preview: { id: string }; job: { id: string } }>) {
  const { preview, job } = await create;
  await org.waitForJob(job.id, { timeoutMs: 180_000 });
  return { preview: (await org.getPreview(preview.id)).preview, uri: await org.getPreviewConnectionUri(preview.id) };
}

describe("masking rules", () => {
  it("are checked against production: unknown tables, columns, strategies that do not fit, half-masked foreign keys → 400 naming the rule", async () => {
    const put = (rules: unknown[]) => org.putMaskingRules(project.id, { rules: rules as never });
    const refused = async (rules: unknown[], message: RegExp) =>
      expect(put(rules)).rejects.toMatchObject({ status: 400, code: "validation_failed", message: expect.stringMatching(message) });
    await refused([{ table: "nope", column: "email", strategy: "email" }], /^rules\[0\]\.table: table public\.nope does not exist/);
    await refused([{ table: "customers", column: "emial", strategy: "email" }], /^rules\[0\]\.column: column public\.customers\.emial does not exist/);
    await refused([{ table: "customers", column: "notes", strategy: "date_shift", days: 3 }], /^rules\[0\]\.strategy: "date_shift" needs a date/);
    await refused([{ table: "customers", column: "notes", strategy: "constant" }], /^rules\[0\]\.value: is required/);
    await refused(
      [{ table: "customers", column: "ssn", strategy: "hash" }],
      /^rules\[0\]\.strategy: "hash" writes up to 64 characters; public\.customers\.ssn is character varying\(11\)/,
    );
    await refused([{ table: "customers", column: "email", strategy: "null" }], /NOT NULL/);
    await refused(
      [{ table: "customers", column: "email", strategy: "email" }],
      /^rules\[0\]\.strategy: foreign key orders_customer_email_fkey joins public\.orders\.customer_email to public\.customers\.email/,
    );
    await refused([{ table: "customers", column: "birth_date", strategy: "constant", value: "not a date" }], /^rules\[0\]\.value: not a value of .* type date/);
    await refused([{ table: "customers", column: "notes", strategy: "scramble" }], /^rules\.0\.strategy|^rules\[0\]\.strategy/);
    // nothing was stored
    expect((await org.getMaskingRules(project.id)).masking_rules).toMatchObject({ rules: [], updated_at: null });
  });

  it("are stored normalised, and the columns that look personal without a rule are listed", async () => {
    const { masking_rules: set } = await org.putMaskingRules(project.id, { rules: RULES });
    expect(set.rules.map((r) => r.table)).toEqual(RULES.map(() => expect.stringMatching(/^public\.(customers|orders)$/)));
    expect(set.updated_at).not.toBeNull();
    const { masking_rules: got } = await org.getMaskingRules(project.id);
    expect(got.rules).toEqual(set.rules);
    expect(got.uncovered_columns).toContainEqual({ table: "public.audit", column: "old_email", reason: expect.stringMatching(/email/) });
    expect(got.uncovered_columns.map((u) => u.column)).not.toContain("email");
  });
});

describe("masked previews", () => {
  let first: { preview: { id: string; masked: boolean; masking_verified_at: string | null }; uri: string };

  it("are the default once rules exist: no original value of a masked column anywhere, joins and constraints hold, verified", async () => {
    first = await ready(org.createPreview(project.id, { name: "masked-1" }));
    expect(first.preview.masked).toBe(true);
    expect(first.preview.masking_verified_at).not.toBeNull();
    const dump = dumpOf(first.uri);
    expect(dump).toContain("COPY public.customers");
    const leaked = originals().filter((v) => dump.includes(v));
    expect(leaked).toEqual([]);
    // joins on masked columns still match, row for row
    const joined = "select count(*) from orders o join customers c on c.email = o.customer_email";
    expect(psql(first.uri, joined)).toBe(psql(prod, joined));
    expect(psql(first.uri, "select count(distinct email) from customers")).toBe("3000");
    // the materialized view was computed again from masked data
    expect(psql(first.uri, "select count(*) from order_totals where customer_email like '%@corp.test'")).toBe("0");
    expect(psql(first.uri, "select count(*) from order_totals")).toBe("3000");
    // the tenant's trigger did not run (no audit copy of the originals) and is on again in the preview
    expect(psql(first.uri, "select count(*) from audit")).toBe("0");
    expect(psql(first.uri, "select tgenabled from pg_trigger where tgname = 'customers_audit'")).toBe("O");
    // constraints hold and are what they were
    expect(psql(first.uri, "select count(*) from customers where email not like '%@%'")).toBe("0");
    expect(psql(first.uri, "select condeferrable from pg_constraint where conname = 'orders_customer_email_fkey'")).toBe("f");
    // formats: phone keeps its shape, ssn redacted, dates shifted by 1..30 days
    expect(psql(first.uri, "select count(*) from customers where phone !~ '^\\+\\d \\(\\d{3}\\) \\d{6}$'")).toBe("0");
    expect(psql(first.uri, "select count(*) from customers where ssn !~ '^x{11}$'")).toBe("0");
    const prodDates = psql(prod, "select string_agg(id || ':' || birth_date, ',' order by id) from customers").split(",");
    const previewDates = new Map(
      psql(first.uri, "select string_agg(id || ':' || birth_date, ',' order by id) from customers")
        .split(",")
        .map((x) => x.split(/:(.*)/s) as [string, string]),
    );
    for (const entry of prodDates) {
      const [id, date] = entry.split(/:(.*)/s);
      const shift = Math.abs(Date.parse(previewDates.get(id)!) - Date.parse(date)) / 86_400_000;
      expect(shift).toBeGreaterThanOrEqual(1);
      expect(shift).toBeLessThanOrEqual(30);
    }
    // production is untouched
    expect(psql(prod, "select count(*) from customers where email like '%@corp.test'")).toBe("3000");
  });

  it("mask the same value the same way in every preview (a keyed hash per project)", async () => {
    const second = await ready(org.createPreview(project.id, { name: "masked-2" }));
    const sum = "select md5(string_agg(email || full_name || phone, ',' order by id)) from customers";
    expect(psql(second.uri, sum)).toBe(psql(first.uri, sum));
    // reset keeps the preview masked
    const reset = await org.resetPreview(second.preview.id, { fresh: true });
    await org.waitForJob(reset.job.id, { timeoutMs: 180_000 });
    expect(psql(second.uri, "select count(*) from customers where email like '%@corp.test'")).toBe("0");
    await org.waitForJob((await org.deletePreview(second.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("unmasked needs an organization key: a project key gets 403, the organization key gets the original data", async () => {
    const projectKey = new CapyClient({
      baseUrl: t.url,
      apiKey: (await t.admin.createApiKey(orgId, { name: "pk", project_id: project.id })).secret,
      retries: 0,
    });
    await expect(projectKey.createPreview(project.id, { masked: false })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/^masked:/) });
    // the project key's default is masked
    const viaProjectKey = await projectKey.createPreview(project.id, { name: "pk-masked" });
    expect(viaProjectKey.preview.masked).toBe(true);
    await projectKey.waitForJob(viaProjectKey.job.id, { timeoutMs: 180_000 });
    await projectKey.waitForJob((await projectKey.deletePreview(viaProjectKey.preview.id)).job.id, { timeoutMs: 60_000 });
    await projectKey.close();
    // a masked preview is never promoted: production would get masked data
    const masked = (await org.listPreviews(project.id)).preview_databases.find((p) => p.masked && p.state === "ready")!;
    await expect(org.createCutoverRequest(project.id, { preview_id: masked.id })).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/^preview_id: this preview's data is masked/),
    });
    const plain = await ready(org.createPreview(project.id, { name: "unmasked", masked: false }));
    expect(plain.preview).toMatchObject({ masked: false, masking_verified_at: null });
    expect(psql(plain.uri, "select count(*) from customers where email like '%@corp.test'")).toBe("3000");
    await org.waitForJob((await org.deletePreview(plain.preview.id)).job.id, { timeoutMs: 60_000 });
  });

  it("with require_coverage, a masked preview is refused (409) while a column that looks personal has no rule", async () => {
    await org.putMaskingRules(project.id, { rules: RULES, require_coverage: true });
    await expect(org.createPreview(project.id, { name: "covered" })).rejects.toMatchObject({
      status: 409,
      code: "masking_coverage_incomplete",
      message: expect.stringContaining("public.audit.old_email"),
    });
    const covered = await org.putMaskingRules(project.id, {
      rules: [...RULES, { table: "audit", column: "old_email", strategy: "email" }],
      require_coverage: true,
    });
    expect(covered.masking_rules.uncovered_columns.filter((u) => u.table !== "public.customers" || u.column !== "notes")).toEqual([]);
    // the rules changed: the next masked preview is made from a new masked snapshot
    const before = (await t.server.ctx.db.query("select rules_version from masked_snapshots where project_id = $1", [project.id])).rows[0].rules_version;
    const next = await ready(org.createPreview(project.id, { name: "covered" }));
    expect(next.preview.masked).toBe(true);
    const after = (await t.server.ctx.db.query("select rules_version from masked_snapshots where project_id = $1", [project.id])).rows[0].rules_version;
    expect(after).toBeGreaterThan(before);
    await org.waitForJob((await org.deletePreview(next.preview.id)).job.id, { timeoutMs: 60_000 });
    await org.putMaskingRules(project.id, { rules: RULES });
  });

  it("fail closed: a constraint the masked data breaks, a rule that rewrites the update away, a column gone — no preview, the reason on the job", async () => {
    const failing = async (name: string, reason: RegExp) => {
      const { preview, job } = await org.createPreview(project.id, { name, fresh: true });
      await expect(org.waitForJob(job.id, { timeoutMs: 180_000 })).rejects.toThrow(reason);
      const failed = (await org.getPreview(preview.id)).preview;
      expect(failed.state).toBe("failed");
      expect(failed.last_error).toMatch(reason);
      await expect(org.getPreviewConnectionUri(preview.id)).rejects.toMatchObject({ status: 409 });
      await org.waitForJob((await org.deletePreview(preview.id)).job.id, { timeoutMs: 60_000 });
    };
    // a CHECK constraint no masked email can satisfy
    psql(prod, "alter table customers add constraint corp_only check (email like '%@corp.test')");
    await failing("breaks-check", /masking failed.*corp_only/);
    psql(prod, "alter table customers drop constraint corp_only");
    // a rule turning the UPDATE into nothing: the proof finds the originals
    psql(
      prod,
      `create table contacts (id int primary key, phone text);
       insert into contacts select g, '+44 20 7946 ' || lpad(g::text, 4, '0') from generate_series(1, 500) g;
       create rule keep_originals as on update to contacts do instead nothing`,
    );
    await org.putMaskingRules(project.id, { rules: [...RULES, { table: "contacts", column: "phone", strategy: "phone" }] });
    await failing("rewritten", /could not be proven.*: \d+ of \d+ sampled original value\(s\) of public\.contacts\.phone survived masking/);
    psql(prod, "drop table contacts");
    await org.putMaskingRules(project.id, { rules: RULES });
    // a masked column dropped after the rules were set
    psql(prod, "alter table customers drop column ssn");
    await failing("column-gone", /masking rule rules\[4\]\.column: column public\.customers\.ssn does not exist/);
    await org.putMaskingRules(project.id, { rules: RULES.filter((r) => r.column !== "ssn") });
    const again = await ready(org.createPreview(project.id, { name: "after-fix" }));
    expect(again.preview.masked).toBe(true);
    const dump = dumpOf(again.uri);
    expect(originals().filter((v) => dump.includes(v))).toEqual([]);
  });
});
