import { and, desc, eq, gt, isNull, lt, ne } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { loginAttempts, sessions, type SessionRow } from '../../db/tables.js';
import { sql } from 'drizzle-orm';

export type NewSessionRow = typeof sessions.$inferInsert;

/** SQL for refresh-token sessions and failed-login counters. */
export class SessionRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): SessionRepo {
    return new SessionRepo(tx);
  }

  async insert(values: NewSessionRow): Promise<SessionRow> {
    const [row] = await this.db.insert(sessions).values(values).returning();
    return row!;
  }

  async findByTokenHash(tokenHash: string): Promise<SessionRow | null> {
    const [row] = await this.db.select().from(sessions).where(eq(sessions.tokenHash, tokenHash)).limit(1);
    return row ?? null;
  }

  /**
   * Marks a refresh token used. Conditional on it being unused and unrevoked, so of two concurrent refreshes with
   * one token exactly one wins; the loser is treated as a reuse.
   */
  async markRotated(id: string, at: Date): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ rotatedAt: at })
      .where(and(eq(sessions.id, id), isNull(sessions.rotatedAt), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  /** Revokes every token of a family; returns true when the family had a live (unrotated, unexpired) token. */
  async revokeFamily(familyId: string, at: Date): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: at })
      .where(and(eq(sessions.familyId, familyId), isNull(sessions.revokedAt)))
      .returning({ rotatedAt: sessions.rotatedAt, expiresAt: sessions.expiresAt });
    return rows.some((row) => row.rotatedAt === null && row.expiresAt > at);
  }

  /** The user a session family belongs to, or null when there is no such session. */
  async familyOwner(familyId: string): Promise<string | null> {
    const [row] = await this.db.select({ userId: sessions.userId }).from(sessions).where(eq(sessions.familyId, familyId)).limit(1);
    return row?.userId ?? null;
  }

  /** Revokes every session of a user (but `exceptFamilyId`); returns how many were live. */
  async revokeAllForUser(userId: string, at: Date, exceptFamilyId?: string | null): Promise<number> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: at })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), exceptFamilyId ? ne(sessions.familyId, exceptFamilyId) : undefined))
      .returning({ familyId: sessions.familyId, rotatedAt: sessions.rotatedAt, expiresAt: sessions.expiresAt });
    return new Set(rows.filter((row) => row.rotatedAt === null && row.expiresAt > at).map((row) => row.familyId)).size;
  }

  /** The live token of each of the user's sessions, newest session first. */
  async listLive(userId: string, now: Date): Promise<SessionRow[]> {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), isNull(sessions.rotatedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.familyCreatedAt), desc(sessions.id));
  }

  /** Deletes expired tokens (rotated ones are kept until they expire, for reuse detection); returns the count. */
  async deleteExpired(now: Date, userId?: string): Promise<number> {
    const rows = await this.db
      .delete(sessions)
      .where(and(lt(sessions.expiresAt, now), userId ? eq(sessions.userId, userId) : undefined))
      .returning({ id: sessions.id });
    return rows.length;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Failed-login counters (src/auth/login-limiter.ts)

  /**
   * Counts one login attempt for `key` in a fixed window starting at `now` when the previous window has ended.
   * One atomic upsert, so concurrent attempts cannot under-count. Returns the attempts in the current window.
   */
  async countAttempt(key: string, now: Date, windowMs: number): Promise<{ attempts: number; windowStartedAt: Date }> {
    const windowEnded = sql`${loginAttempts.windowStartedAt} <= ${new Date(now.getTime() - windowMs).toISOString()}::timestamptz`;
    const [row] = await this.db
      .insert(loginAttempts)
      .values({ key, windowStartedAt: now, attempts: 1 })
      .onConflictDoUpdate({
        target: loginAttempts.key,
        set: {
          attempts: sql`case when ${windowEnded} then 1 else ${loginAttempts.attempts} + 1 end`,
          windowStartedAt: sql`case when ${windowEnded} then ${now.toISOString()}::timestamptz else ${loginAttempts.windowStartedAt} end`,
        },
      })
      .returning({ attempts: loginAttempts.attempts, windowStartedAt: loginAttempts.windowStartedAt });
    return row!;
  }

  async clearAttempts(key: string): Promise<void> {
    await this.db.delete(loginAttempts).where(eq(loginAttempts.key, key));
  }

  async deleteStaleAttempts(before: Date): Promise<void> {
    await this.db.delete(loginAttempts).where(lt(loginAttempts.windowStartedAt, before));
  }
}
