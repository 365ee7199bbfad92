import type { PubSub } from '../../pubsub/pubsub.js';
import type { Authentication } from '../../auth/identity.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import type { Role } from '../../auth/scopes.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import { Topic, type Topics, type UserEvent } from '../../pubsub/topics.js';
import { CloseReason, type LiveSessions } from '../../realtime/live-sessions.js';
import { signedIn } from '../shared/authorize.js';
import { parseGlobalId, toGlobalId } from '../shared/global-id.js';
import type { DeletePayload } from '../shared/payloads.js';
import type { SessionRepo } from './session.repo.js';
import type { Database, Executor } from '../../db/client.js';
import type { UserProfileRow, UserRow } from '../../db/tables.js';
import { pageRequest, SortDirection, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { userError, UserErrorCode, UserErrors, type UserError } from '../shared/user-error.js';
import { checkLength } from '../shared/validation.js';
import {
  BIO_MAX,
  MIN_AGE_YEARS,
  PASSWORD_MAX,
  PASSWORD_MIN,
  UserOrderField,
  type ChangePasswordInput,
  type SetUserActiveInput,
  type SetUserRoleInput,
  type UpdateProfileInput,
  type UserFilter,
  type UserOrder,
} from './user.input.js';
import { userSortBy, type UserRepo } from './user.repo.js';
import { FULL_NAME_MAX, FULL_NAME_MIN, User, USERNAME_MAX, USERNAME_MIN, type ChangePasswordPayload, type UserPayload } from './user.type.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9_]+$/;
/** A plain e-mail pattern, with `+` allowed in the local part and a letters-only top-level domain. */
export const EMAIL_PATTERN = /^[\w.+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;

/** The password policy (seed 001 Q9, Q11, §24: the strictest variant), for registration and changePassword. */
function checkPassword(password: string, errors: UserErrors, field: string[]): void {
  if ([...password].length < PASSWORD_MIN) errors.add(field, `Password must be at least ${PASSWORD_MIN} characters`);
  else if ([...password].length > PASSWORD_MAX) errors.add(field, `Password must be at most ${PASSWORD_MAX} characters`);
  if (!/[A-Z]/.test(password)) errors.add(field, 'Password must contain at least one uppercase letter');
  if (!/[a-z]/.test(password)) errors.add(field, 'Password must contain at least one lowercase letter');
  if (!/\d/.test(password)) errors.add(field, 'Password must contain at least one digit');
}

function yearsAgo(years: number): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate()));
}

export interface NewUser {
  username: string;
  email: string;
  password: string;
  fullName?: string | null;
  role?: Role;
}

/**
 * Not a GraphQL payload: no operation returns it. It carries the stored row (password hash included) to register,
 * which turns it into an AuthPayload, and to the admin bootstrap and demo data, which never reach the wire.
 */
export interface CreatedUser {
  user: UserRow | null;
  userErrors: UserError[];
}

export interface UserServiceDeps {
  db: Database;
  repo: UserRepo;
  sessions: SessionRepo;
  pubsub: PubSub<Topics>;
  /** Ends the live connections of a changed account, on every process (src/realtime/live-sessions.ts). */
  live: Pick<LiveSessions, 'revoke'>;
}

/** Seed rule of the phone number (001 Q9, §24). */
export const PHONE_PATTERN = /^\+?1?\d{9,15}$/;

const LAST_ADMIN = 'The last active admin cannot be demoted, deactivated or deleted';
const HAS_ORDERS = 'User has placed orders and cannot be deleted; deactivate the account instead';
const USER_NOT_FOUND = 'User not found';

const failed = (userErrors: UserError[]) => ({ user: null, userErrors });

/** Account rules: username, e-mail, password and full-name checks, uniqueness, roles and activation. */
export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  /** Validates, hashes the password (off the event loop) and inserts; uniqueness races end as TAKEN, not as errors. */
  /** `afterInsert` runs in the insert's transaction (side effects queued with the account, e.g. the welcome e-mail). */
  async create(
    input: NewUser,
    path: string[] = ['input'],
    afterInsert?: (tx: Executor, user: UserRow) => Promise<unknown>,
  ): Promise<CreatedUser> {
    const errors = new UserErrors();
    const field = (name: string) => [...path, name];
    const username = input.username.trim();
    const usernameLength = [...username].length;
    if (usernameLength < USERNAME_MIN) errors.add(field('username'), `Username must be at least ${USERNAME_MIN} characters`);
    else if (usernameLength > USERNAME_MAX) errors.add(field('username'), `Username must be at most ${USERNAME_MAX} characters`);
    else if (!USERNAME_PATTERN.test(username)) {
      errors.add(field('username'), 'Username can only contain letters, numbers, and underscores');
    }

    const email = input.email.trim().toLowerCase();
    if (email.length > 254 || !EMAIL_PATTERN.test(email)) errors.add(field('email'), 'Invalid email format');
    else if (usernameLength >= USERNAME_MIN && email.includes(username.toLowerCase())) {
      errors.add(field('email'), 'Username should not be part of email');
    }

    const password = input.password;
    checkPassword(password, errors, field('password'));

    const fullName =
      input.fullName == null ? null : checkLength(input.fullName, errors, field('fullName'), 'Full name', FULL_NAME_MIN, FULL_NAME_MAX);
    if (errors.any) return { user: null, userErrors: errors.list };

    const [byName, byEmail] = await Promise.all([this.deps.repo.findByLogin(username), this.deps.repo.findByEmail(email)]);
    if (byName) errors.add(field('username'), 'Username already exists', UserErrorCode.TAKEN);
    if (byEmail) errors.add(field('email'), 'Email already registered', UserErrorCode.TAKEN);
    if (errors.any) return { user: null, userErrors: errors.list };

    const passwordHash = await hashPassword(password);
    try {
      const values = { username, email, passwordHash, fullName, role: input.role ?? 'USER' };
      const user = afterInsert
        ? await this.deps.db.transaction(async (tx) => {
            const row = await this.deps.repo.in(tx).insert(values);
            await afterInsert(tx, row);
            return row;
          })
        : await this.deps.repo.insert(values);
      return { user, userErrors: [] };
    } catch (error) {
      // The unique indexes on lower(username) and lower(email) decide concurrent registrations.
      if (isUniqueViolation(error, 'users_username_lower_unique')) {
        return { user: null, userErrors: errors.add(field('username'), 'Username already exists', UserErrorCode.TAKEN).list };
      }
      if (isUniqueViolation(error, 'users_email_lower_unique')) {
        return { user: null, userErrors: errors.add(field('email'), 'Email already registered', UserErrorCode.TAKEN).list };
      }
      throw error;
    }
  }

  /**
   * Sets the flag without the API's rules (tests and tooling). The deactivation is revoked like the API's (the user's
   * connections close and every process's identity cache drops the user), so the next request sees it.
   */
  async setActive(userId: string, isActive: boolean): Promise<UserRow | null> {
    const row = await this.deps.repo.setActive(userId, isActive);
    if (row && !isActive) await this.deps.live.revoke({ userId, reason: CloseReason.DEACTIVATED });
    return row;
  }

  /** Sets the role without the API's rules (tests and tooling); revoked like the API's change, for the same reason. */
  async setRole(userId: string, role: Role): Promise<UserRow | null> {
    const row = await this.deps.repo.setRole(userId, role);
    if (row) await this.deps.live.revoke({ userId, reason: CloseReason.ROLE_CHANGED });
    return row;
  }

  /** Every account matching the filter, in the given order (newest first by default). */
  async search(
    args: ConnectionArgs,
    filter: UserFilter | null | undefined,
    orderBy: UserOrder | null | undefined,
  ): Promise<Connection<User>> {
    const sort = userSortBy(
      orderBy?.field === UserOrderField.USERNAME ? 'username' : 'createdAt',
      orderBy?.direction ?? (orderBy ? SortDirection.ASC : SortDirection.DESC),
    );
    const page = pageRequest(args, sort.kind);
    const query = { search: filter?.search?.trim() || null, role: filter?.role ?? null, isActive: filter?.isActive ?? null };
    const rows = await this.deps.repo.search(query, sort, page);
    return toConnection(rows, page, sort, User.fromRow, () => this.deps.repo.countMatching(query));
  }

  /** The viewer's own profile: full name, bio, phone and birth date; absent fields stay, null clears. */
  async updateProfile(auth: Authentication, input: UpdateProfileInput): Promise<UserPayload> {
    const viewer = signedIn(auth);
    const errors = new UserErrors();
    const changes: Partial<Pick<UserRow, 'fullName' | 'bio' | 'phone' | 'birthDate'>> = {};
    if (input.fullName !== undefined) {
      changes.fullName =
        input.fullName === null
          ? null
          : checkLength(input.fullName, errors, ['input', 'fullName'], 'Full name', FULL_NAME_MIN, FULL_NAME_MAX);
    }
    if (input.bio !== undefined)
      changes.bio = input.bio === null ? null : checkLength(input.bio, errors, ['input', 'bio'], 'Bio', 0, BIO_MAX);
    if (input.phone !== undefined) {
      const phone = input.phone?.trim() ?? null;
      if (phone !== null && !PHONE_PATTERN.test(phone)) errors.add(['input', 'phone'], 'Invalid phone number format');
      changes.phone = phone;
    }
    if (input.birthDate !== undefined) {
      const birthDate = input.birthDate?.trim() ?? null;
      if (birthDate !== null) {
        const parsed = /^\d{4}-\d{2}-\d{2}$/.test(birthDate) ? new Date(`${birthDate}T00:00:00Z`) : null;
        if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== birthDate) {
          errors.add(['input', 'birthDate'], 'Invalid date: use YYYY-MM-DD');
        } else if (parsed > yearsAgo(MIN_AGE_YEARS)) {
          errors.add(['input', 'birthDate'], `Must be at least ${MIN_AGE_YEARS} years old`);
        }
      }
      changes.birthDate = birthDate;
    }
    if (errors.any) return failed(errors.list);
    const row = Object.keys(changes).length > 0 ? await this.deps.repo.update(viewer.id, changes) : await this.deps.repo.findById(viewer.id);
    if (!row) return failed([userError(null, USER_NOT_FOUND, UserErrorCode.NOT_FOUND)]);
    this.published('UPDATED', row);
    return { user: User.fromRow(row), userErrors: [] };
  }

  /**
   * The viewer's password. The current one must be given; every other session of the user ends (a stolen session
   * does not survive the owner changing the password), the one that asked stays.
   */
  async changePassword(auth: Authentication, input: ChangePasswordInput): Promise<ChangePasswordPayload> {
    const viewer = signedIn(auth);
    const row = await this.deps.repo.findById(viewer.id);
    if (!row) return { user: null, revokedSessions: 0, userErrors: [userError(null, USER_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    const errors = new UserErrors();
    checkPassword(input.newPassword, errors, ['input', 'newPassword']);
    if (errors.any) return { user: null, revokedSessions: 0, userErrors: errors.list };
    if (!(await verifyPassword(input.currentPassword, row.passwordHash))) {
      return {
        user: null,
        revokedSessions: 0,
        userErrors: [userError(['input', 'currentPassword'], 'Incorrect password', UserErrorCode.INVALID_CREDENTIALS)],
      };
    }
    const passwordHash = await hashPassword(input.newPassword);
    const now = new Date();
    const { user, revoked } = await this.deps.db.transaction(async (tx) => {
      const user = await this.deps.repo.in(tx).update(viewer.id, { passwordHash });
      const revoked = await this.deps.sessions.in(tx).revokeAllForUser(viewer.id, now, auth.sessionId);
      return { user, revoked };
    });
    await this.deps.live.revoke({ userId: viewer.id, exceptSessionId: auth.sessionId, reason: CloseReason.PASSWORD_CHANGED });
    return { user: user && User.fromRow(user), revokedSessions: revoked, userErrors: [] };
  }

  /** ADMIN: another role for a user. The last active admin keeps theirs; the user's live connections close. */
  async setUserRole(auth: Authentication, input: SetUserRoleInput): Promise<UserPayload> {
    signedIn(auth);
    const userId = parseGlobalId(input.userId, 'User');
    if (!userId) return failed([userError(['input', 'userId'], USER_NOT_FOUND, UserErrorCode.NOT_FOUND)]);
    const outcome = await this.changeGuarded(userId, ['input', 'userId'], input.role !== 'ADMIN', (repo) => repo.setRole(userId, input.role));
    if ('error' in outcome) return failed([outcome.error]);
    if (outcome.before.role !== outcome.row.role) {
      await this.deps.live.revoke({ userId, reason: CloseReason.ROLE_CHANGED });
      this.published('UPDATED', outcome.row);
    }
    return { user: User.fromRow(outcome.row), userErrors: [] };
  }

  /** ADMIN: deactivates (or reactivates) a user. The last active admin stays active; a deactivated user's connections close. */
  async setUserActive(auth: Authentication, input: SetUserActiveInput): Promise<UserPayload> {
    signedIn(auth);
    const userId = parseGlobalId(input.userId, 'User');
    if (!userId) return failed([userError(['input', 'userId'], USER_NOT_FOUND, UserErrorCode.NOT_FOUND)]);
    const outcome = await this.changeGuarded(userId, ['input', 'userId'], !input.isActive, (repo) => repo.setActive(userId, input.isActive));
    if ('error' in outcome) return failed([outcome.error]);
    if (!input.isActive && outcome.before.isActive) await this.deps.live.revoke({ userId, reason: CloseReason.DEACTIVATED });
    if (outcome.before.isActive !== outcome.row.isActive) this.published('UPDATED', outcome.row);
    return { user: User.fromRow(outcome.row), userErrors: [] };
  }

  /**
   * ADMIN: deletes a user. The rule: a user who placed orders is not deleted (orders are the shop's records, kept with
   * who placed them; deactivate the account instead). Otherwise everything that is theirs goes with them — posts and
   * their comments, comments on others' posts, rooms they own (with those rooms' messages), their messages and room
   * memberships, tasks they own, notifications, jobs and sessions; tasks assigned to them become unassigned. The last
   * active admin cannot be deleted.
   */
  async delete(auth: Authentication, id: string): Promise<DeletePayload> {
    signedIn(auth);
    const userId = parseGlobalId(id, 'User');
    if (!userId) return { deletedId: null, userErrors: [userError(['id'], USER_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    let outcome;
    try {
      outcome = await this.changeGuarded(userId, ['id'], true, (repo) => repo.delete(userId));
    } catch (error) {
      // orders.placed_by is ON DELETE RESTRICT: the database holds the rule, even against an order placed concurrently.
      if (!isForeignKeyViolation(error)) throw error;
      outcome = { error: userError(['id'], HAS_ORDERS, UserErrorCode.FORBIDDEN) };
    }
    if ('error' in outcome) return { deletedId: null, userErrors: [outcome.error] };
    await this.deps.live.revoke({ userId, reason: CloseReason.DELETED });
    this.published('DELETED', outcome.row);
    return { deletedId: toGlobalId('User', userId), userErrors: [] };
  }

  /**
   * Runs a change to one user in a transaction that locks every active admin row first (`removesAdmin`: the change
   * demotes, deactivates or deletes). Two admins demoting each other concurrently are serialized by those locks, and
   * the second sees one active admin left, so there is always one (READ COMMITTED re-reads a locked row's condition).
   */
  private async changeGuarded(
    userId: string,
    field: string[],
    removesAdmin: boolean,
    change: (repo: UserRepo) => Promise<UserRow | null>,
  ): Promise<{ before: UserRow; row: UserRow } | { error: UserError }> {
    return this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      const admins = removesAdmin ? await repo.lockActiveAdmins() : [];
      const before = await repo.findById(userId);
      if (!before) return { error: userError(field, USER_NOT_FOUND, UserErrorCode.NOT_FOUND) };
      if (removesAdmin && admins.length <= 1 && admins.includes(userId))
        return { error: userError(field, LAST_ADMIN, UserErrorCode.FORBIDDEN) };
      const row = await change(repo);
      if (!row) return { error: userError(field, USER_NOT_FOUND, UserErrorCode.NOT_FOUND) };
      return { before, row };
    });
  }

  /** `userUpdated` for staff, after the change committed. */
  private published(change: UserEvent['change'], row: UserRow): void {
    void this.deps.pubsub.publish(Topic.UserUpdated, {
      change,
      user: {
        id: row.id,
        username: row.username,
        email: row.email,
        fullName: row.fullName,
        bio: row.bio,
        phone: row.phone,
        birthDate: row.birthDate,
        role: row.role,
        isActive: row.isActive,
        createdAt: row.createdAt.toISOString(),
      },
    });
  }

  findByIds(ids: readonly string[]): Promise<UserProfileRow[]> {
    return this.deps.repo.findByIds(ids);
  }

  findByLogin(login: string): Promise<UserRow | null> {
    return this.deps.repo.findByLogin(login);
  }

  /** `ADMIN_EMAIL`/`ADMIN_PASSWORD`: the first admin, created at start-up when no account has that e-mail. */
  async ensureAdmin(email: string, password: string): Promise<{ created: boolean; userErrors: UserError[] }> {
    if (await this.deps.repo.findByEmail(email)) return { created: false, userErrors: [] };
    const username = 'opshub_admin';
    const result = await this.create({ username, email, password, fullName: 'Administrator', role: 'ADMIN' }, []);
    return { created: result.user !== null, userErrors: result.userErrors };
  }
}
