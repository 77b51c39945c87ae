// The scheduler: one leader across all server processes (a session advisory lock
// on the control-plane database) runs the periodic tasks registered at start-up
// (server.ts: preview expiry, scheduled backups, retention, the reconciler, ...).
// A process that loses its connection loses the lock, and another process takes over.
import pg from "pg";
import { errorMessage } from "./jobs/errors.js";
import type { Logger } from "./jobs/worker.js";

// An arbitrary constant of ours: the advisory lock key of the scheduler leader.
const LEADER_LOCK_KEY = 7_140_240_902;

export interface ScheduledTask {
  name: string;
  run(): Promise<unknown>;
}

export class Scheduler {
  private tasks: ScheduledTask[] = [];
  private leaderClient: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  add(task: ScheduledTask): void {
    this.tasks.push(task);
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
      });
    };
    loop();
  }

  get isLeader(): boolean {
    return this.leaderClient !== null;
  }

  private async becomeLeader(): Promise<boolean> {
    if (this.leaderClient) return true;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: "capydb-scheduler" });
    client.on("error", () => {
      // The connection (and with it the lock) is gone: stand down.
      if (this.leaderClient === client) this.leaderClient = null;
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [LEADER_LOCK_KEY]);
      if (rows[0].ok) {
        this.leaderClient = client;
        this.log.info({}, "scheduler: this process is the leader");
        return true;
      }
    } catch {
      // the control-plane database is unavailable: try again next tick
    }
    await client.end().catch(() => {});
    return false;
  }

  /** One pass over every task, if this process leads. */
  async tick(): Promise<void> {
    if (!(await this.becomeLeader())) return;
    for (const task of this.tasks) {
      if (this.stopped) return;
      try {
        await task.run();
      } catch (err) {
        this.log.warn({ task: task.name, err: errorMessage(err) }, "scheduled task failed");
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.leaderClient?.end().catch(() => {});
    this.leaderClient = null;
  }
}
