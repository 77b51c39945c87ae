// Columns of production that look personal and have no rule: by name (email, phone,
// name, address, birth, ssn, iban, ip, token, password, ...), by type (inet), and by a
// sample of their content (values read in the tenant's session, looked at here, kept nowhere).
import type pg from "pg";
import type { MaskingRule, UncoveredColumn } from "@capydb/api";
import { quoteIdent } from "../platform/dataplane/sql.js";
import { qualifiedTable, type Catalog } from "./catalog.js";

const BY_NAME: [RegExp, string][] = [
  [/(^|_)e_?mail(s)?(_address)?($|_)/, "email address"],
  [/(^|_)(phone|mobile|cell|telephone|tel|fax|msisdn)($|_)/, "phone number"],
  [/(^|_)(first_?name|last_?name|full_?name|given_?name|family_?name|surname|middle_?name|display_?name|user_?name|name)($|_)/, "person's name"],
  [/(^|_)(address|street|addr|zip|zip_?code|postal_?code|postcode)($|_)/, "postal address"],
  [/(^|_)(birth|birthday|birth_?date|dob|date_of_birth|born_on)($|_)/, "date of birth"],
  [/(^|_)(ssn|social_security|national_id|tax_id|passport|driver_?license)($|_)/, "national identifier"],
  [/(^|_)(iban|bic|account_number|card_number|credit_card|cc_number|pan)($|_)/, "bank or card number"],
  [/(^|_)(ip|ip_?address|ipaddr|remote_addr|client_ip)($|_)/, "IP address"],
  [/(^|_)(token|password|passwd|secret|api_key|apikey|otp)($|_)/, "secret"],
];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9 ().\-/]{7,24}$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;
/** Values sampled per text column, and text columns sampled at most (the rest are judged by name). */
const SAMPLE = 50;
const MAX_SAMPLED_COLUMNS = 300;

function byContent(values: string[]): string | null {
  if (values.length < 3) return null;
  const share = (re: RegExp) => values.filter((v) => re.test(v.trim())).length / values.length;
  if (share(EMAIL) >= 0.5) return "sampled values look like email addresses";
  if (share(IPV4) >= 0.5) return "sampled values look like IP addresses";
  if (share(PHONE) >= 0.5 && values.filter((v) => (v.match(/\d/g) ?? []).length >= 7).length / values.length >= 0.5) {
    return "sampled values look like phone numbers";
  }
  return null;
}

/** The columns that look personal and no rule covers (in the tenant's session on production). */
export async function uncoveredColumns(client: pg.Client, catalog: Catalog, rules: MaskingRule[]): Promise<UncoveredColumn[]> {
  const covered = new Set(rules.map((r) => `${qualifiedTable(r.table)}.${r.column}`));
  const out: UncoveredColumn[] = [];
  let sampledColumns = 0;
  for (const table of catalog.tables.values()) {
    for (const column of table.columns.values()) {
      if (covered.has(`${table.name}.${column.name}`) || column.generated) continue;
      const named = BY_NAME.find(([re]) => re.test(column.name.toLowerCase()));
      if (named) {
        out.push({ table: table.name, column: column.name, reason: `its name suggests a ${named[1]}` });
        continue;
      }
      if (column.baseType === "inet" || column.baseType === "cidr") {
        out.push({ table: table.name, column: column.name, reason: "it holds IP addresses (type inet)" });
        continue;
      }
      if (column.category !== "S" || sampledColumns >= MAX_SAMPLED_COLUMNS) continue;
      sampledColumns++;
      const col = quoteIdent(column.name);
      const { rows } = await client.query<{ v: string }>(`SELECT ${col}::pg_catalog.text AS v FROM ${table.sql} WHERE ${col} IS NOT NULL LIMIT ${SAMPLE}`);
      const reason = byContent(rows.map((r) => r.v));
      if (reason) out.push({ table: table.name, column: column.name, reason });
    }
  }
  return out;
}
