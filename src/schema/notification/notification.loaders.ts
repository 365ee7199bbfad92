import DataLoader from 'dataloader';
import type { NotificationRow } from '../../db/tables.js';
import type { NotificationRepo } from './notification.repo.js';

export function notificationLoader(repo: NotificationRepo): DataLoader<string, NotificationRow | null> {
  return new DataLoader(async (ids) => {
    const byId = new Map((await repo.findByIds(ids)).map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
