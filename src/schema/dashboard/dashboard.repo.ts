import { count, eq } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { jobs } from '../../db/tables.js';

/** Figures the dashboard reads from other domains' tables. */
export class DashboardRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): DashboardRepo {
    return new DashboardRepo(tx);
  }

  async runningJobs(): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(jobs).where(eq(jobs.status, 'RUNNING'));
    return row?.value ?? 0;
  }
}
