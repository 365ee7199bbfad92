import { byIdLoader } from '../shared/loaders.js';
import type { NotificationRepo } from './notification.repo.js';

/** The notification domain's per-request loaders, each built on first use. */
export const notificationLoaders = (repo: NotificationRepo) => ({
  notification: () => byIdLoader((ids) => repo.findByIds(ids)),
});
