import { hashPassword } from '../../auth/passwords.js';
import type { Role } from '../../auth/scopes.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { Database, Executor } from '../../db/client.js';
import type { UserRow } from '../../db/tables.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { UserErrorCode, UserErrors, type UserError } from '../shared/user-error.js';
import { checkLength } from '../shared/validation.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './user.input.js';
import { userSort, type UserRepo } from './user.repo.js';
import { FULL_NAME_MAX, FULL_NAME_MIN, User, USERNAME_MAX, USERNAME_MIN } from './user.type.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9_]+$/;
/** A plain e-mail pattern, with `+` allowed in the local part and a letters-only top-level domain. */
export const EMAIL_PATTERN = /^[\w.+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;

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
}

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
    if ([...password].length < PASSWORD_MIN) errors.add(field('password'), `Password must be at least ${PASSWORD_MIN} characters`);
    else if ([...password].length > PASSWORD_MAX) errors.add(field('password'), `Password must be at most ${PASSWORD_MAX} characters`);
    if (!/[A-Z]/.test(password)) errors.add(field('password'), 'Password must contain at least one uppercase letter');
    if (!/[a-z]/.test(password)) errors.add(field('password'), 'Password must contain at least one lowercase letter');
    if (!/\d/.test(password)) errors.add(field('password'), 'Password must contain at least one digit');

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

  async list(args: ConnectionArgs): Promise<Connection<User>> {
    const page = pageRequest(args, userSort.kind);
    const rows = await this.deps.repo.page(page);
    return toConnection(rows, page, userSort, User.fromRow, () => this.deps.repo.count());
  }

  /** Deactivating takes effect at once: the context builder checks the row on every request and operation. */
  setActive(userId: string, isActive: boolean): Promise<UserRow | null> {
    return this.deps.repo.setActive(userId, isActive);
  }

  setRole(userId: string, role: Role): Promise<UserRow | null> {
    return this.deps.repo.setRole(userId, role);
  }

  findByIds(ids: readonly string[]): Promise<UserRow[]> {
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
