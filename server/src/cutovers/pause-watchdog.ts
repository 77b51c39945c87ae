// A data cutover's write pause outlives nothing: PgBouncer's PAUSE and the database's
// connection limit of 0 stay until someone lifts them, and a server killed inside the pause
// (SIGKILL, OOM) would leave production's clients waiting until its job is retried. So the
// pause is watched by a small process of its own, started before it: it holds the read end of
// a pipe from the server and, when that pipe closes without the word that the pause ended
// (the server died), resumes PgBouncer and lifts the connection limit at once. Production then
// serves whatever data its instance holds (the old data until the swap, the new after it);
// the retried job starts the carry-over again from where the preview's replay origin stands.
//
// The child is `node -e` with the script below and nothing else: the addresses and passwords
// come on its stdin (never argv, never its environment); psql gets a password through PGPASSWORD
// in its own allow-listed environment.
import { spawn, type ChildProcess } from "node:child_process";
import { childEnv } from "../platform/dataplane/child-env.js";

export interface WatchedPause {
  psql: string;
  /** PgBouncer's admin console and the database to resume; null when there is no pooler. */
  pooler: { host: string; port: number; user: string; password: string; database: string } | null;
  /** Production's instance (a superuser, its maintenance database) and the database whose limit to lift. */
  production: { host: string; port: number; user: string; password: string; maintenanceDb: string; database: string };
}

const SCRIPT = String.raw`
const { spawnSync } = require("node:child_process");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const lines = input.split("\n");
  if (lines.includes("ended")) return; // the server lifted the pause itself
  let w;
  try { w = JSON.parse(lines[0]); } catch { return; }
  const base = { PATH: process.env.PATH || "/usr/local/bin:/usr/bin:/bin", PGCONNECT_TIMEOUT: "5", PGPASSFILE: "/dev/null/no-passfile" };
  const psql = (host, port, user, password, db, sql) =>
    spawnSync(w.psql, ["-X", "-q", "-h", host, "-p", String(port), "-U", user, "-d", db, "-c", sql], {
      env: { ...base, PGPASSWORD: password }, stdio: "ignore", timeout: 10000,
    });
  const ident = (s) => '"' + s.replace(/"/g, '""') + '"';
  // the limit first: resumed, PgBouncer logs in to production again (a refused login would hold its clients for server_login_retry)
  const p = w.production;
  psql(p.host, p.port, p.user, p.password, p.maintenanceDb, "ALTER DATABASE " + ident(p.database) + " WITH CONNECTION LIMIT -1");
  if (w.pooler) psql(w.pooler.host, w.pooler.port, w.pooler.user, w.pooler.password, "pgbouncer", "RESUME " + w.pooler.database);
});
`;

/** A started watchdog: `ended()` tells it the pause was lifted by the server (it then exits doing nothing). */
export interface PauseWatchdog {
  ended(): void;
}

export function watchPause(pause: WatchedPause): PauseWatchdog {
  const child: ChildProcess = spawn(process.execPath, ["-e", SCRIPT], {
    detached: true, // its own process group: a signal to the server's group does not reach it
    stdio: ["pipe", "ignore", "ignore"],
    env: childEnv(),
  });
  child.on("error", () => {});
  child.stdin!.on("error", () => {});
  child.stdin!.write(JSON.stringify(pause) + "\n");
  child.unref();
  return {
    ended() {
      child.stdin!.end("ended\n");
    },
  };
}
