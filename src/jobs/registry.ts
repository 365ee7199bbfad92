/** The job kinds a server runs. Tests (and embedders) pass `jobHandlers` to createApp to add or replace kinds. */
import type { Config } from '../config.js';
import type { ItemRepo } from '../schema/item/item.repo.js';
import type { JobRepo } from '../schema/job/job.repo.js';
import { cleanup } from './handlers/cleanup.js';
import { newsletter, sendEmail } from './handlers/email.js';
import { exportItems } from './handlers/export-items.js';
import { notify, type Notify } from './handlers/notify.js';
import { salesReport } from './handlers/sales-report.js';
import type { JobDefinition } from './types.js';

export interface JobDeps {
  jobs: JobRepo;
  items: ItemRepo;
  config: Config['jobs'];
  /** Stores and pushes notifications (the notification service). */
  notify: Notify;
}

export function defaultJobDefinitions(deps: JobDeps): JobDefinition[] {
  return [
    exportItems(deps),
    salesReport(deps),
    sendEmail({ jobs: deps.jobs, emailDelayMs: deps.config.emailDelayMs }),
    newsletter({ jobs: deps.jobs, emailDelayMs: deps.config.emailDelayMs }),
    cleanup(deps),
    notify(deps),
  ];
}

/** A kind's definition; later definitions replace earlier ones of the same kind. */
export function jobRegistry(definitions: readonly JobDefinition[]): ReadonlyMap<string, JobDefinition> {
  return new Map(definitions.map((definition) => [definition.kind, definition]));
}
