/** Small fixtures for the domain tests: everything through the real API unless a test needs bulk rows. */
import { expect } from 'vitest';
import type { TestUser } from '../helpers/auth.js';
import type { GqlResponse, TestServer } from '../helpers/server.js';

/** Runs a document as `user`, expecting no top-level errors, and returns `data`. */
export async function ok(server: TestServer, user: TestUser, query: string, variables?: Record<string, unknown>) {
  const response = await server.gql(query, variables, { token: user.token });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data as Record<string, any>;
}

/** The number of SQL statements the operation ran (DEBUG_SQL is on in tests). */
export function statements(response: GqlResponse): number {
  const count = response.body.extensions?.sql?.statements;
  expect(typeof count).toBe('number');
  return count as number;
}

let skuCounter = 0;
/** A catalog item with the given stock, created through the item service; returns its global id and uuid. */
export async function stockedItem(server: TestServer, stock: number, price = 10): Promise<{ id: string; rowId: string }> {
  skuCounter += 1;
  const sku = `DM${String(skuCounter).padStart(4, '0')}`;
  const { item, userErrors } = await server.app.container.services.items.create({
    sku,
    name: `Item ${sku}`,
    price,
    category: 'HOME' as never,
    stock,
  });
  expect(userErrors).toEqual([]);
  return { id: item!.id, rowId: item!.rowId };
}

/** Waits until an event matching `match` has arrived (events arrive in order; waitFor times out after 5 s). */
export async function eventMatching<T>(sub: { waitFor(count: number): Promise<T[]> }, match: (event: T) => boolean): Promise<T> {
  for (let count = 1; ; count += 1) {
    const events = await sub.waitFor(count);
    const found = events.find(match);
    if (found) return found;
  }
}

/**
 * graphql-ws gives no signal when a subscription is registered with the pub/sub: cause events until the first one
 * arrives. Returns the ids the warm-up created, so a test can tell them apart from its own.
 */
export async function warmUp(
  sub: { events: unknown[]; waitFor(count: number, timeoutMs?: number): Promise<unknown> },
  trigger: () => Promise<string>,
): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let attempt = 0; attempt < 40 && sub.events.length === 0; attempt += 1) {
    ids.add(await trigger());
    await sub.waitFor(1, 250).catch(() => undefined);
  }
  expect(sub.events.length).toBeGreaterThan(0);
  return ids;
}
