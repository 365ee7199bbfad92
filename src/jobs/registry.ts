/** The job kinds a server runs. Tests (and embedders) pass `jobHandlers` to createApp to add or replace kinds. */
import type { Config } from '../config.js';
import type { ItemRepo } from '../schema/item/item.repo.js';
import type { NotificationRepo } from '../schema/notification/notification.repo.js';
import type { OrderRepo } from '../schema/order/order.repo.js';
import type { SessionRepo } from '../schema/user/session.repo.js';
import type { UserRepo } from '../schema/user/user.repo.js';
import type { FileRepo } from '../schema/file/file.repo.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { JobRepo } from './job.repo.js';
import type { OutboxRepo } from './outbox.repo.js';
import { cleanup } from './handlers/cleanup.js';
import { newsletter, sendEmail } from './handlers/email.js';
import { exportItems } from './handlers/export-items.js';
import { fileProcessing } from './handlers/file-processing.js';
import { notify, type Notify } from './handlers/notify.js';
import { salesReport } from './handlers/sales-report.js';
import type { JobDefinition } from './types.js';

/** The repositories the handlers write and read: each table's SQL stays with the repository that owns it. */
export interface JobDeps {
  jobs: JobRepo;
  outbox: OutboxRepo;
  items: ItemRepo;
  orders: OrderRepo;
  users: UserRepo;
  sessions: SessionRepo;
  notifications: NotificationRepo;
  files: FileRepo;
  /** Where file bytes live (src/storage). */
  storage: ObjectStorage;
  config: Config['jobs'];
  /** Grace period of files attached to nothing before the clean-up removes them. */
  fileOrphanGraceMs: number;
  /** HTTP_REQUEST_TIMEOUT_MS: how long after its URL expired an upload may still be receiving. */
  uploadSettleMs: number;
  /** Stores and pushes notifications (the notification service). */
  notify: Notify;
}

export function defaultJobDefinitions(deps: JobDeps): JobDefinition[] {
  return [
    exportItems(deps),
    salesReport(deps),
    sendEmail({ ...deps, emailDelayMs: deps.config.emailDelayMs }),
    newsletter({ ...deps, emailDelayMs: deps.config.emailDelayMs }),
    cleanup(deps),
    notify(deps),
    fileProcessing(deps),
  ];
}

/** A kind's definition; later definitions replace earlier ones of the same kind. */
export function jobRegistry(definitions: readonly JobDefinition[]): ReadonlyMap<string, JobDefinition> {
  return new Map(definitions.map((definition) => [definition.kind, definition]));
}
