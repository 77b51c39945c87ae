// The environment of every process we start (PostgreSQL, PgBouncer, pg_dump,
// pg_restore, psql, pg_config, id): built from an allow-list, never copied from
// ours. Our environment holds CAPYDB_SECRET_KEY, the bootstrap API key and cloud
// credentials, and a child's environment is readable from /proc/<pid>/environ by
// its OS user — for PostgreSQL that is the `postgres` user, whom a tenant reaching
// COPY ... TO PROGRAM would be.

/** What a child inherits from us: where programs are, and its locale and time zone. */
const INHERITED = /^(PATH|TZ|LANG|LANGUAGE|LC_[A-Z]+)$/;

/**
 * What a caller may set for a child itself: a PostgreSQL tool's own PG* variables
 * (a password reaches a tool this way, never in argv) and the locale. Anything
 * else is refused, so a secret of ours cannot be handed on by a slip.
 */
const SETTABLE = /^(PG[A-Z_]+|PATH|TZ|LANG|LANGUAGE|LC_[A-Z]+)$/;

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * PGPASSFILE for libpq tools: a path below a device, which can never exist, so
 * libpq reads no password file and a server we are sent to without a password
 * (an import source) is never offered one from our ~/.pgpass.
 */
export const NO_PASSFILE = "/dev/null/no-passfile";

export class ChildEnvRefused extends Error {}

/**
 * The environment for a child: PATH, TZ and locale from ours, then `own` (the
 * variables the tool needs, set explicitly; undefined values are left out).
 */
export function childEnv(own: Record<string, string | undefined> = {}, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && INHERITED.test(name)) env[name] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  for (const [name, value] of Object.entries(own)) {
    if (!SETTABLE.test(name))
      throw new ChildEnvRefused(`refusing to pass ${name} to a child process: only PATH, TZ, the locale and PG* variables are passed on`);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
