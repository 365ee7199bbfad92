/** CLEANUP: expired sessions, old read notifications, old finished jobs, abandoned uploads and orphaned files. */
import type { NotificationRepo } from '../../schema/notification/notification.repo.js';
import type { SessionRepo } from '../../schema/user/session.repo.js';
import type { FileRepo } from '../../schema/file/file.repo.js';
import type { ObjectStorage } from '../../storage/storage.js';
import type { JobRepo } from '../job.repo.js';
import { paramsObject } from '../params.js';
import { JobPriority, type JobDefinition } from '../types.js';

const DAY_MS = 24 * 60 * 60 * 1_000;
export const cleanupRetention = {
  readNotificationsDays: 30, // read notifications older than this go
  finishedJobsDays: 30, // completed, failed and cancelled jobs (with their files and outbox rows) older than this go
} as const;

export function cleanup(deps: {
  jobs: JobRepo;
  sessions: SessionRepo;
  notifications: NotificationRepo;
  files: FileRepo;
  storage: ObjectStorage;
  fileOrphanGraceMs: number;
  /** HTTP_REQUEST_TIMEOUT_MS: an upload whose URL expired longer ago than this cannot still be receiving bytes. */
  uploadSettleMs: number;
}): JobDefinition<Record<string, never>> {
  return {
    kind: 'CLEANUP',
    // Nobody waits for it; it runs when nothing else is due.
    priority: JobPriority.LOW,
    scopes: ['system:write'],
    forbiddenMessage: 'Insufficient permissions',
    maxAttempts: 3,
    parse(raw, errors, path) {
      paramsObject(raw, errors, path, []);
      return {};
    },
    async run({ progress }) {
      const now = Date.now();
      const sessions = await deps.sessions.deleteExpired(new Date(now));
      await progress(33);
      const notifications = await deps.notifications.deleteReadBefore(new Date(now - cleanupRetention.readNotificationsDays * DAY_MS));
      await progress(50);
      const jobs = await deps.jobs.deleteFinishedBefore(new Date(now - cleanupRetention.finishedJobsDays * DAY_MS));
      await progress(66);
      // Rows first, bytes after: a crash in between leaves bytes nothing names, never a file without its bytes.
      const uploadKeys = await deps.files.deleteExpiredUploads(new Date(now - deps.uploadSettleMs));
      await deps.storage.delete(uploadKeys);
      await progress(83);
      await deps.files.detachFromMissing(new Date(now));
      const fileKeys = await deps.files.deleteOrphans(new Date(now - deps.fileOrphanGraceMs));
      await deps.storage.delete(fileKeys);
      return {
        deleted: {
          sessions,
          notifications,
          jobs,
          uploads: uploadKeys.length,
          files: fileKeys.filter((key) => key.startsWith('files/')).length,
        },
      };
    },
  };
}
