import DataLoader from 'dataloader';

/** Batches one request's lookups by id into one `WHERE id IN (…)`, answering in key order (null when absent). */
export function byIdLoader<Row extends { id: string }>(fetch: (ids: readonly string[]) => Promise<Row[]>): DataLoader<string, Row | null> {
  return new DataLoader(async (ids) => {
    const byId = new Map((await fetch(ids)).map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
