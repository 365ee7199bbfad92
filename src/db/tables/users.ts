import { sql } from 'drizzle-orm';
import { boolean, date, index, integer, pgEnum, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';

export const roleEnum = pgEnum('role', ['USER', 'MODERATOR', 'ADMIN']);

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: varchar('username', { length: 20 }).notNull(),
    /** Stored lower-case. */
    email: varchar('email', { length: 254 }).notNull(),
    /** `scrypt$N$r$p$salt$hash` (see src/auth/passwords.ts); never leaves the repository layer. */
    passwordHash: text('password_hash').notNull(),
    fullName: varchar('full_name', { length: 100 }),
    /** Profile fields (updateProfile). */
    bio: varchar('bio', { length: 500 }),
    phone: varchar('phone', { length: 16 }),
    birthDate: date('birth_date', { mode: 'string' }),
    role: roleEnum('role').notNull().default('USER'),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // Uniqueness ignoring case lives in the database, so two concurrent registrations cannot both succeed.
    uniqueIndex('users_username_lower_unique').on(sql`lower(${t.username})`),
    uniqueIndex('users_email_lower_unique').on(sql`lower(${t.email})`),
    index('users_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

export type UserRow = typeof users.$inferSelect;

/**
 * The columns a user is shown and loaded with: every column but the password hash, which only the sign-in and
 * password paths read (by login or id, never through a loader), and `updated_at`, which no field shows. The user
 * loader, and the pages that join each post's or comment's author to prime it, select these.
 */
export const userProfile = {
  id: users.id,
  username: users.username,
  email: users.email,
  fullName: users.fullName,
  bio: users.bio,
  phone: users.phone,
  birthDate: users.birthDate,
  role: users.role,
  isActive: users.isActive,
  createdAt: users.createdAt,
} satisfies Record<keyof UserProfileRow, unknown>; // a column added to users must be added here, or left out above

export type UserProfileRow = Omit<UserRow, 'passwordHash' | 'updatedAt'>;

/**
 * Refresh-token sessions. A login starts a family (`family_id`, the session id clients see); every refresh inserts a
 * new row in the family and marks the old one rotated. Only a SHA-256 of the opaque refresh token is stored.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    familyId: uuid('family_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    /** Scopes granted at login; refreshes keep them (intersected with the role at the time). */
    scopes: text('scopes').array().notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    /** When the family started (the login), carried over on rotation. */
    familyCreatedAt: timestamptz('family_created_at').notNull().defaultNow(),
    expiresAt: timestamptz('expires_at').notNull(),
    rotatedAt: timestamptz('rotated_at'),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [
    uniqueIndex('sessions_token_hash_unique').on(t.tokenHash),
    index('sessions_family_idx').on(t.familyId),
    index('sessions_user_idx').on(t.userId),
    index('sessions_expires_at_idx').on(t.expiresAt),
  ],
);

export type SessionRow = typeof sessions.$inferSelect;

/** Failed-login counters per account, in a fixed window (see src/auth/login-limiter.ts). */
export const loginAttempts = pgTable('login_attempts', {
  key: varchar('key', { length: 300 }).primaryKey(),
  windowStartedAt: timestamptz('window_started_at').notNull(),
  attempts: integer('attempts').notNull(),
});
