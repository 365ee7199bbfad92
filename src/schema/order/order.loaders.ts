import DataLoader from 'dataloader';
import type { OrderRow } from '../../db/tables.js';
import type { OrderRepo } from './order.repo.js';

/** Batches order lookups of one request (node(id), nodes(ids)) into one `WHERE id IN (…)`, in key order. */
export function orderLoader(repo: OrderRepo): DataLoader<string, OrderRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await repo.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
