import DataLoader from 'dataloader';
import type { UserRow } from '../../db/tables.js';
import type { UserRepo } from './user.repo.js';

/** Batches user lookups of one request into one `WHERE id IN (…)`, answering in key order. */
export function userLoader(repo: UserRepo): DataLoader<string, UserRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await repo.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
