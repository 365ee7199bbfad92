import DataLoader from 'dataloader';
import type { ItemRow } from '../../db/tables.js';
import type { ItemRepo } from './item.repo.js';

/** Batches item lookups of one request into one `WHERE id IN (…)`, answering in key order. */
export function itemLoader(repo: ItemRepo): DataLoader<string, ItemRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await repo.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
