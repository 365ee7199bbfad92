/**
 * Connections nested inside lists (the first 3 comments of each of 20 posts, the posts of each user in a list),
 * batched: one DataLoader key per (parent, page arguments); one query per distinct page arguments answers every
 * parent at once with a window function (row_number() over (partition by parent …)), so a level costs one statement
 * however many parents it has.
 */
import DataLoader from 'dataloader';
import {
  pageRequest,
  toConnection,
  type Connection,
  type ConnectionArgs,
  type PageRequest,
  type SortSpec,
  type SortValueKind,
} from '../shared/connection.js';

/** One parent's slice of a window query: up to limit + 1 rows in keyset order, and the parent's total when known. */
export interface NestedRows<Row> {
  rows: Row[];
  /** Rows of the parent in the whole list; null when a cursor restricted the query (then a grouped count runs). */
  total: number | null;
}

export interface NestedKey {
  parentId: string;
  page: PageRequest;
  /** The page arguments as a string: keys with equal arguments share one query. */
  pageKey: string;
}

/** Validates the page arguments (BAD_USER_INPUT on the field that has them) and builds the loader key. */
export function nestedKey(parentId: string, args: ConnectionArgs, kind: SortValueKind): NestedKey {
  const page = pageRequest(args, kind);
  return {
    parentId,
    page,
    pageKey: JSON.stringify([args.first ?? null, args.after ?? null, args.last ?? null, args.before ?? null]),
  };
}

/** A window-query row: the row's own fields, its parent, and the window's partition count. */
export type Windowed<Row> = Row & { parentId: string; total: number };

export function nestedPageLoader<Row>(
  fetch: (parentIds: string[], page: PageRequest) => Promise<Windowed<Row>[]>,
): DataLoader<NestedKey, NestedRows<Row>, string> {
  return new DataLoader<NestedKey, NestedRows<Row>, string>(
    async (keys) => {
      const groups = new Map<string, NestedKey[]>();
      for (const key of keys) {
        const group = groups.get(key.pageKey);
        if (group) group.push(key);
        else groups.set(key.pageKey, [key]);
      }
      const results = new Map<string, NestedRows<Row>>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const page = group[0]!.page;
          const parentIds = [...new Set(group.map((key) => key.parentId))];
          const rows = await fetch(parentIds, page);
          const cursorBound = page.after !== null || page.before !== null;
          // One pass splits the rows by parent, each parent's in keyset order (the statement orders them by rn).
          const byParent = new Map<string, Windowed<Row>[]>(parentIds.map((parentId) => [parentId, []]));
          for (const row of rows) byParent.get(row.parentId)?.push(row);
          for (const [parentId, own] of byParent) {
            results.set(`${parentId}|${group[0]!.pageKey}`, {
              rows: own,
              total: cursorBound ? null : (own[0]?.total ?? 0),
            });
          }
        }),
      );
      return keys.map((key) => results.get(`${key.parentId}|${key.pageKey}`)!);
    },
    { cacheKeyFn: (key) => `${key.parentId}|${key.pageKey}` },
  );
}

/** Counts per parent in one grouped query, answering in key order (0 for a parent without rows). */
export function countLoader(fetch: (parentIds: readonly string[]) => Promise<Array<{ parentId: string; count: number }>>) {
  return new DataLoader<string, number>(async (parentIds) => {
    const rows = await fetch(parentIds);
    const byParent = new Map(rows.map((row) => [row.parentId, Number(row.count)]));
    return parentIds.map((id) => byParent.get(id) ?? 0);
  });
}

/** The connection for one parent, from its nested page; totalCount uses the window's count or a grouped count. */
export async function nestedConnection<Row, T>(
  pages: DataLoader<NestedKey, NestedRows<Row>, string>,
  counts: DataLoader<string, number>,
  key: NestedKey,
  sort: SortSpec<Row>,
  toNode: (row: Row) => T,
): Promise<Connection<T>> {
  const { rows, total } = await pages.load(key);
  return toConnection(rows, key.page, sort, toNode, () => (total !== null ? Promise.resolve(total) : counts.load(key.parentId)));
}
