/**
 * Side effects of mutations, queued in the mutation's own transaction: they exist exactly when the change that
 * causes them commits, and run in the job runner afterwards, never inline.
 */
import type { Executor } from '../db/client.js';
import type { JobRow } from '../db/tables.js';
import type { NotificationKindName } from './handlers/notify.js';
import type { JobQueue as Queue } from './queue.js';

/** What other services need of the queue. */
export type JobQueue = Pick<Queue, 'enqueue'>;

/** A notification (INFO unless said otherwise) to these users, as a system NOTIFY job. */
export function enqueueNotification(
  queue: JobQueue,
  tx: Executor,
  userIds: readonly string[],
  content: { kind?: NotificationKindName; title: string; body: string },
): Promise<JobRow | null> {
  const clip = (value: string, max: number) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);
  return queue.enqueue(tx, {
    kind: 'NOTIFY',
    params: { userIds: [...userIds], kind: content.kind ?? 'INFO', title: clip(content.title, 200), body: clip(content.body, 2_000) },
  });
}

/** The welcome e-mail on registration, as a system SEND_EMAIL job. */
export function enqueueWelcomeEmail(queue: JobQueue, tx: Executor, user: { email: string; username: string }): Promise<JobRow | null> {
  return queue.enqueue(tx, {
    kind: 'SEND_EMAIL',
    params: { to: [user.email], subject: 'Welcome to Our Platform!', body: `Hello ${user.username}, welcome to our platform!` },
  });
}
