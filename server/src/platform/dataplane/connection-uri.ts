// The connection string a tenant gets for a database of theirs (project or preview).
import type { SecretBox } from "../secrets.js";

export interface TenantDatabase {
  role_name: string;
  role_password_sealed: string;
  database_name: string;
  public_host: string;
  direct_port: number;
  pooled_port: number;
  ssl_mode: string;
}

export function tenantConnectionUri(box: SecretBox, db: TenantDatabase, pooled: boolean): string {
  const password = box.open(db.role_password_sealed);
  const port = pooled ? db.pooled_port : db.direct_port;
  return `postgresql://${encodeURIComponent(db.role_name)}:${encodeURIComponent(password)}@${db.public_host}:${port}/${encodeURIComponent(db.database_name)}?sslmode=${db.ssl_mode}`;
}
