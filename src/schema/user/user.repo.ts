import { and, asc, count, eq, gt, ilike, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { sessions, userProfile, users, type UserProfileRow, type UserRow } from '../../db/tables.js';
import { createdAtSort, keysetCondition, keysetOrder, type PageRequest, type SortDirection, type SortSpec } from '../shared/connection.js';
import { likePattern } from '../shared/validation.js';
import { anyId, once } from '../shared/prepared.js';

export type NewUserRow = typeof users.$inferInsert;

/** The orders of the user directory: creation time or username, ties broken by id. */
export function userSortBy(field: 'createdAt' | 'username', direction: SortDirection): SortSpec<UserRow> {
  if (field === 'createdAt') return createdAtSort<UserRow>(users, direction);
  return { column: users.username, id: users.id, kind: 'string', direction, valueOf: (row) => row.username, idOf: (row) => row.id };
}

/** The user directory's filters; null means "any". */
export interface UserQuery {
  search: string | null;
  role: UserRow['role'] | null;
  isActive: boolean | null;
}

/** What the context builder needs about a token's user and session, in one indexed lookup. */
export interface AuthState {
  id: string;
  username: string;
  role: UserRow['role'];
  isActive: boolean;
  /** True when the token's session family has not been revoked and has not expired. */
  sessionLive: boolean;
  /** When the live session expires (ms since the epoch); absent when it is not live. */
  sessionExpiresAt?: number;
}

export class UserRepo {
  constructor(private readonly db: Executor) {}

  /** The loader's lookup by id, prepared once (shared/prepared.ts). */
  private readonly rowsByIds = once(() => this.db.select(userProfile).from(users).where(anyId(users.id)).prepare('users_by_ids'));

  /** The same queries inside a transaction. */
  in(tx: Executor): UserRepo {
    return new UserRepo(tx);
  }

  async insert(values: NewUserRow): Promise<UserRow> {
    const [row] = await this.db.insert(users).values(values).returning();
    return row!;
  }

  /** Profiles by id (no password hash): the loader's, and every lookup of several users. */
  async findByIds(ids: readonly string[]): Promise<UserProfileRow[]> {
    if (ids.length === 0) return [];
    return this.rowsByIds(this.db).execute({ ids });
  }

  /** By username (ignoring case) or, when the login contains `@`, by e-mail; both use the lower() unique indexes. */
  async findByLogin(login: string): Promise<UserRow | null> {
    const normalized = login.trim().toLowerCase();
    const where = normalized.includes('@') ? eq(sql`lower(${users.email})`, normalized) : eq(sql`lower(${users.username})`, normalized);
    const [row] = await this.db.select().from(users).where(where).limit(1);
    return row ?? null;
  }

  async findByEmail(email: string): Promise<UserRow | null> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(eq(sql`lower(${users.email})`, email.toLowerCase()))
      .limit(1);
    return row ?? null;
  }

  /** Users and their sessions' liveness for several (user, session) pairs at once: one statement. */
  async authStates(keys: readonly { userId: string; sessionId: string }[]): Promise<Array<AuthState & { sessionId: string }>> {
    if (keys.length === 0) return [];
    const userIds = [...new Set(keys.map((key) => key.userId))];
    const sessionIds = [...new Set(keys.map((key) => key.sessionId))];
    const now = new Date();
    const rows = await this.db
      .select({
        id: users.id,
        username: users.username,
        role: users.role,
        isActive: users.isActive,
        familyId: sessions.familyId,
        expiresAt: sessions.expiresAt,
      })
      .from(users)
      .leftJoin(
        sessions,
        and(eq(sessions.userId, users.id), inArray(sessions.familyId, sessionIds), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)),
      )
      .where(inArray(users.id, userIds));
    // A broadcast event batches hundreds of keys: group once instead of scanning every row for every key. Per live
    // family, its latest expiry (a family has a row per rotation): until then the session stays live unless revoked.
    const byUser = new Map<string, { first: (typeof rows)[number]; families: Map<string, number> }>();
    for (const row of rows) {
      let entry = byUser.get(row.id);
      if (!entry) byUser.set(row.id, (entry = { first: row, families: new Map() }));
      if (row.familyId !== null && row.expiresAt !== null) {
        const expiresAt = row.expiresAt.getTime();
        if (expiresAt > (entry.families.get(row.familyId) ?? 0)) entry.families.set(row.familyId, expiresAt);
      }
    }
    return keys.map(({ userId, sessionId }) => {
      const entry = byUser.get(userId);
      if (!entry) return { id: userId, username: '', role: 'USER', isActive: false, sessionLive: false, sessionId };
      const { first, families } = entry;
      const sessionExpiresAt = families.get(sessionId);
      return {
        id: first.id,
        username: first.username,
        role: first.role,
        isActive: first.isActive,
        sessionLive: sessionExpiresAt !== undefined,
        ...(sessionExpiresAt !== undefined ? { sessionExpiresAt } : {}),
        sessionId,
      };
    });
  }

  async findById(id: string): Promise<UserRow | null> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return row ?? null;
  }

  async update(
    id: string,
    changes: Partial<Pick<UserRow, 'fullName' | 'bio' | 'phone' | 'birthDate' | 'passwordHash'>>,
  ): Promise<UserRow | null> {
    const [row] = await this.db
      .update(users)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(users.id, id))
      .returning();
    return row ?? null;
  }

  /** Locks the rows of every active admin (FOR UPDATE) and returns their ids: the last-admin rule's critical section. */
  async lockActiveAdmins(): Promise<string[]> {
    const rows = await this.db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.role, 'ADMIN'), eq(users.isActive, true)))
      .for('update');
    return rows.map((row) => row.id);
  }

  /** Deletes the user; what references them cascades or, for orders, refuses (the foreign keys hold the rule). */
  async delete(id: string): Promise<UserRow | null> {
    const [row] = await this.db.delete(users).where(eq(users.id, id)).returning();
    return row ?? null;
  }

  async search(query: UserQuery, sort: SortSpec<UserRow>, page: PageRequest): Promise<UserRow[]> {
    return this.db
      .select()
      .from(users)
      .where(and(this.matching(query), keysetCondition(sort, page)))
      .orderBy(...keysetOrder(sort, page))
      .limit(page.limit + 1);
  }

  async countMatching(query: UserQuery): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(users).where(this.matching(query));
    return row?.value ?? 0;
  }

  private matching(query: UserQuery): SQL | undefined {
    const pattern = query.search ? likePattern(query.search) : null;
    return and(
      pattern ? or(ilike(users.username, pattern), ilike(users.email, pattern), ilike(users.fullName, pattern)) : undefined,
      query.role ? eq(users.role, query.role) : undefined,
      query.isActive !== null ? eq(users.isActive, query.isActive) : undefined,
    );
  }

  async setActive(id: string, isActive: boolean): Promise<UserRow | null> {
    const [row] = await this.db.update(users).set({ isActive, updatedAt: new Date() }).where(eq(users.id, id)).returning();
    return row ?? null;
  }

  async setRole(id: string, role: UserRow['role']): Promise<UserRow | null> {
    const [row] = await this.db.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, id)).returning();
    return row ?? null;
  }

  async countByRole(role: UserRow['role']): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(users).where(eq(users.role, role));
    return row?.value ?? 0;
  }

  /** E-mail addresses of active users, sorted: these ids, or everyone when null (the NEWSLETTER job's recipients). */
  async activeEmails(ids: readonly string[] | null): Promise<string[]> {
    if (ids !== null && ids.length === 0) return [];
    const rows = await this.db
      .select({ email: users.email })
      .from(users)
      .where(and(eq(users.isActive, true), ids ? inArray(users.id, [...ids]) : undefined))
      .orderBy(asc(users.email));
    return rows.map((row) => row.email.toLowerCase());
  }
}
