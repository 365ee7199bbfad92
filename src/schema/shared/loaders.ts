import DataLoader from 'dataloader';

/** Batches one request's lookups by id into one `WHERE id IN (…)`, answering in key order (null when absent). */
export function byIdLoader<Row extends { id: string }>(fetch: (ids: readonly string[]) => Promise<Row[]>): DataLoader<string, Row | null> {
  return new DataLoader(async (ids) => {
    const byId = new Map((await fetch(ids)).map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/**
 * Puts a row a mutation already holds (its RETURNING row) into the request's loader, replacing what the loader had: a
 * later read of that id in the same request (a field after the mutation, `node(id)`) costs no statement and sees the
 * row as written. Null records a deleted row. Call it only once the change is committed.
 */
export function primeRow<Row extends { id: string }>(loader: DataLoader<string, Row | null> | undefined, id: string, row: Row | null): void {
  loader?.clear(id).prime(id, row);
}
