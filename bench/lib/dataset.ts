/**
 * The fixed data set: 1,000 items, 200 users, 2,000 posts with 2–6 comments each, 5,000 orders. Deterministic (same
 * rows, same order, same timestamps every run) so every response of a read workload is byte-identical across
 * candidates. Rows go in as bulk Drizzle inserts, 500 per statement, through the same table definitions as the app.
 * A part that fails to seed is reported, and every workload that needs it is reported as not available.
 */
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../../src/db/client.js';
import { comments, items, orders, posts, users } from '../../src/db/tables.js';

export const COUNTS = { items: 1_000, users: 200, posts: 2_000, orders: 5_000 } as const;

const CATEGORIES = ['ELECTRONICS', 'BOOKS', 'CLOTHING', 'HOME'] as const;
const ADJECTIVES = ['Compact', 'Classic', 'Sturdy', 'Portable', 'Deluxe', 'Basic', 'Quiet', 'Bright'];
const NOUNS = ['lamp', 'cable', 'notebook', 'jacket', 'kettle', 'speaker', 'mug', 'backpack', 'chair', 'novel'];
/** Rows are created one second apart from here, oldest first. */
const EPOCH = Date.UTC(2025, 0, 1);

/** The bench's own sign-in: an ADMIN (every scope), so one token reads and writes everything. */
export const BENCH_ADMIN = { username: 'bench_admin', email: 'bench_admin@bench.invalid', password: 'Bench-Passw0rd' } as const;

export interface SeedContext {
  db: Database;
  /** Row ids of earlier parts, for foreign keys. */
  ids: Record<string, string[]>;
}

export interface Part {
  name: string;
  table: PgTable;
  /** Parts whose row ids this part refers to. */
  needs: string[];
  rows(context: SeedContext): Promise<object[]> | object[];
}

export type PartStatus = { name: string; rows: number; ok: true } | { name: string; ok: false; reason: string };

const at = (second: number) => new Date(EPOCH + second * 1_000);

export const SEED_SKU_PREFIX = 'AA';

function itemRows(): (typeof items.$inferInsert)[] {
  return Array.from({ length: COUNTS.items }, (_, i) => {
    const category = CATEGORIES[i % CATEGORIES.length]!;
    const name = `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[(i * 7) % NOUNS.length]} ${String(i).padStart(4, '0')}`;
    return {
      sku: `${SEED_SKU_PREFIX}${String(i).padStart(4, '0')}`,
      name,
      description: `${name}, seeded for the benchmark.`,
      priceCents: 100 + ((i * 7_919) % 99_900),
      category,
      tags: ['bench', category.toLowerCase(), i % 3 === 0 ? 'sale' : 'new'],
      stock: i % 5 === 0 ? 0 : ((i * 13) % 50) + 1,
      createdAt: at(i),
      updatedAt: at(i),
    };
  });
}

/** Every part, in foreign-key order. */
export function parts(options: { passwordHash: () => Promise<string> }): Part[] {
  return [
    {
      name: 'items',
      table: items,
      needs: [],
      rows: itemRows,
    },
    {
      name: 'users',
      table: users,
      needs: [],
      async rows(): Promise<(typeof users.$inferInsert)[]> {
        // One hash for every account: hashing 200 passwords would cost seconds and prove nothing here.
        const passwordHash = await options.passwordHash();
        return Array.from({ length: COUNTS.users }, (_, i) => {
          const username = i === 0 ? BENCH_ADMIN.username : `bench_user_${String(i).padStart(3, '0')}`;
          return {
            username,
            email: i === 0 ? BENCH_ADMIN.email : `${username}@bench.invalid`,
            passwordHash,
            fullName: `Bench User ${i}`,
            role: i === 0 ? ('ADMIN' as const) : ('USER' as const),
            createdAt: at(i),
            updatedAt: at(i),
          };
        });
      },
    },
    {
      name: 'posts',
      table: posts,
      needs: ['users'],
      rows: ({ ids }): (typeof posts.$inferInsert)[] =>
        Array.from({ length: COUNTS.posts }, (_, i) => ({
          authorId: ids.users![i % ids.users!.length]!,
          title: `Post ${i}`,
          body: `Body of post ${i}, seeded for the benchmark.`,
          createdAt: at(i),
        })),
    },
    {
      name: 'comments',
      table: comments,
      needs: ['posts', 'users'],
      rows: ({ ids }): (typeof comments.$inferInsert)[] =>
        ids.posts!.flatMap((postId, p) =>
          Array.from({ length: 2 + (p % 5) }, (_, c) => ({
            postId,
            authorId: ids.users![(p * 7 + c * 31) % ids.users!.length]!,
            body: `Comment ${c} on post ${p}.`,
            createdAt: at(p * 10 + c),
          })),
        ),
    },
    {
      name: 'orders',
      table: orders,
      needs: ['items', 'users'],
      rows: ({ ids }): (typeof orders.$inferInsert)[] =>
        Array.from({ length: COUNTS.orders }, (_, i) => {
          const quantity = 1 + (i % 3);
          const unitPriceCents = 100 + ((((i * 17) % COUNTS.items) * 7_919) % 99_900);
          return {
            itemId: ids.items![(i * 17) % ids.items!.length]!,
            placedBy: ids.users![i % ids.users!.length]!,
            quantity,
            unitPriceCents,
            totalCents: quantity * unitPriceCents,
            status: (['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'] as const)[i % 4],
            createdAt: at(i),
          };
        }),
    },
  ];
}

const BATCH = 500;

/** Seeds every part; one that fails (or whose parent part failed) is reported with the reason. */
export async function seed(db: Database, partList: Part[]): Promise<{ statuses: PartStatus[]; ids: Record<string, string[]> }> {
  const context: SeedContext = { db, ids: {} };
  const statuses: PartStatus[] = [];
  for (const part of partList) {
    const { table } = part;
    const absent = part.needs.filter((name) => !context.ids[name]);
    if (absent.length > 0) {
      statuses.push({ name: part.name, ok: false, reason: `needs ${absent.join(', ')}` });
      continue;
    }
    try {
      const rows = await part.rows(context);
      const ids: string[] = [];
      for (let start = 0; start < rows.length; start += BATCH) {
        const inserted = (await db
          .insert(table as never)
          .values(rows.slice(start, start + BATCH) as never)
          .returning()) as Array<{ id: string }>;
        ids.push(...inserted.map((row) => row.id));
      }
      context.ids[part.name] = ids;
      statuses.push({ name: part.name, rows: rows.length, ok: true });
    } catch (error) {
      statuses.push({ name: part.name, ok: false, reason: `seeding failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return { statuses, ids: context.ids };
}
