import type { Queryable } from "../../store/db.js";

/** Stores the last tool run's exit code and (already scrubbed, truncated) output on the job. */
export async function recordToolOutput(
  db: Queryable,
  jobId: string,
  leaseToken: string,
  out: { exitCode: number | null; stdout: string; stderr: string },
): Promise<void> {
  await db.query(
    `UPDATE jobs SET last_exit_code = $3, last_stdout = $4, last_stderr = $5, updated_at = now()
     WHERE id = $1 AND lease_token = $2`,
    [jobId, leaseToken, out.exitCode, out.stdout, out.stderr],
  );
}
