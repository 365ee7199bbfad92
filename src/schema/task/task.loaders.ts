import DataLoader from 'dataloader';
import type { TaskRow } from '../../db/tables.js';
import type { TaskRepo } from './task.repo.js';

/** Batches task lookups of one request (node(id), nodes(ids)) into one `WHERE id IN (…)`, in key order. */
export function taskLoader(repo: TaskRepo): DataLoader<string, TaskRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await repo.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
