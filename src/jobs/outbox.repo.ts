import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { emailOutbox } from '../db/tables.js';

/** SQL of `email_outbox`: what the e-mail jobs delivered, at most one row per job and recipient. */
export class OutboxRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): OutboxRepo {
    return new OutboxRepo(tx);
  }

  /** Idempotent per (job, recipient): true when this call wrote the row. */
  async send(jobId: string, recipient: string, subject: string, body: string): Promise<boolean> {
    const rows = await this.db
      .insert(emailOutbox)
      .values({ jobId, recipient, subject, body })
      .onConflictDoNothing({ target: [emailOutbox.jobId, emailOutbox.recipient] })
      .returning({ id: emailOutbox.id });
    return rows.length > 0;
  }

  async recipients(jobId: string): Promise<Set<string>> {
    const rows = await this.db.select({ recipient: emailOutbox.recipient }).from(emailOutbox).where(eq(emailOutbox.jobId, jobId));
    return new Set(rows.map((row) => row.recipient));
  }
}
