// The preview's connection details. Every form of the secret (password raw and URL-encoded,
// each URL) is masked with core.setSecret the moment it arrives, before anything can log or
// output it; and credentials are only ever handed out for a preview, never for production.
import * as core from "@actions/core";
import { CapyApiError, CapyClient, type PreviewDatabase, type Project } from "@capydb/api";
import { ActionError } from "./errors.js";

/** What may be shown anywhere (comment, summary, logs). */
export interface ConnectionInfo {
  host: string;
  port: number;
  /** Null when no PgBouncer stands in front of the cluster. */
  pooledPort: number | null;
  database: string;
  user: string;
}

/** ConnectionInfo plus the secrets: only for the step's outputs. */
export interface Credentials extends ConnectionInfo {
  password: string;
  databaseUrl: string;
  pooledDatabaseUrl: string | null;
}

const masked = new Set<string>();

/** core.setSecret once per value (the runner keeps every mask for the rest of the job). */
function mask(value: string): void {
  if (!value || masked.has(value)) return;
  masked.add(value);
  core.setSecret(value);
}

function maskUrl(uri: string): URL {
  mask(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ActionError("The CapyDB API answered a connection URI that is not a URL");
  }
  if (url.password) {
    mask(url.password); // as it appears in the URL (percent-encoded)
    mask(decodeURIComponent(url.password));
    mask(encodeURIComponent(decodeURIComponent(url.password)));
  }
  return url;
}

/** Refuses to go on unless these are a preview's credentials, in this project, and not production's. */
export function assertNotProduction(preview: PreviewDatabase, project: Project, url?: URL): void {
  const problems: string[] = [];
  if (preview.project_id !== project.id) problems.push(`the preview belongs to project ${preview.project_id}, not ${project.id}`);
  if (preview.id === project.id) problems.push("the preview id is the project's id");
  if (preview.database_name === project.database_name) problems.push("the preview's database is the production database");
  if (preview.role_name === project.role_name) problems.push("the preview's user is the production role");
  if (url) {
    const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
    const user = decodeURIComponent(url.username);
    if (database !== preview.database_name) problems.push(`the connection URI names database ${database}, not the preview's ${preview.database_name}`);
    if (database === project.database_name) problems.push("the connection URI points at the production database");
    if (user === project.role_name) problems.push("the connection URI logs in as the production role");
  }
  if (problems.length) {
    throw new ActionError(`Refusing to hand out these credentials: ${problems.join("; ")}. This is a CapyDB server bug; nothing was output.`);
  }
}

export async function fetchCredentials(client: CapyClient, preview: PreviewDatabase, project: Project): Promise<Credentials> {
  assertNotProduction(preview, project);
  const pooledWanted = preview.pooled_port > 0;
  const [direct, pooled] = await Promise.all([
    client.getPreviewConnectionUri(preview.id, { pooled: false }),
    pooledWanted
      ? client.getPreviewConnectionUri(preview.id, { pooled: true }).catch((err: unknown) => {
          // No PgBouncer in front of this cluster: only the direct URL then.
          if (err instanceof CapyApiError && err.code === "pooling_unavailable") return null;
          throw err;
        })
      : Promise.resolve(null),
  ]);
  const directUrl = maskUrl(direct);
  const pooledUrl = pooled === null ? null : maskUrl(pooled);
  assertNotProduction(preview, project, directUrl);
  if (pooledUrl) assertNotProduction(preview, project, pooledUrl);
  return {
    host: directUrl.hostname,
    port: Number(directUrl.port || 5432),
    pooledPort: pooledUrl ? Number(pooledUrl.port || 5432) : null,
    database: decodeURIComponent(directUrl.pathname.replace(/^\//, "")),
    user: decodeURIComponent(directUrl.username),
    password: decodeURIComponent(directUrl.password),
    databaseUrl: direct,
    pooledDatabaseUrl: pooled,
  };
}

/** What a comment or a summary may show: the same object without its secrets. */
export function publicPart(c: ConnectionInfo): ConnectionInfo {
  return { host: c.host, port: c.port, pooledPort: c.pooledPort, database: c.database, user: c.user };
}
