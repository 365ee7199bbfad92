import DataLoader from 'dataloader';
import type { JobRow } from '../../db/tables.js';
import type { JobRepo } from '../../jobs/job.repo.js';

/** Jobs by uuid, batched per request. */
export function jobLoader(repo: JobRepo): DataLoader<string, JobRow | null> {
  return new DataLoader(async (ids) => {
    const rows = await repo.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
