import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { LoginLimiter } from '../../auth/login-limiter.js';
import { prepareDummyHash, verifyAgainstDummy, verifyPassword } from '../../auth/passwords.js';
import { ALL_SCOPES, grantScopes, isScope, SCOPE_CATALOGUE, type Role } from '../../auth/scopes.js';
import { hashRefreshToken, type TokenService } from '../../auth/tokens.js';
import type { SessionRow, UserProfileRow } from '../../db/tables.js';
import { rateLimited } from '../shared/errors.js';
import { parseGlobalId, toGlobalId } from '../shared/global-id.js';
import { signedIn } from '../shared/authorize.js';
import type { Authentication } from '../../auth/identity.js';
import { userError, UserErrorCode, UserErrors, type UserError } from '../shared/user-error.js';
import type { SessionRepo } from './session.repo.js';
import type { NewUser, UserService } from './user.service.js';
import { enqueueWelcomeEmail, type JobQueue } from '../../jobs/side-effects.js';
import { User, type AuthPayload, type RevokeSessionsPayload, type Scope, type Session } from './user.type.js';
import { CloseReason, type LiveSessions } from '../../realtime/live-sessions.js';

const failed = (userErrors: UserError[]): AuthPayload => ({
  accessToken: null,
  refreshToken: null,
  expiresIn: null,
  scopes: null,
  user: null,
  userErrors,
});

/** One message for an unknown login and a wrong password, so the answer does not reveal which accounts exist. */
const INVALID_CREDENTIALS = 'Incorrect username or password';
const INVALID_REFRESH = 'Invalid refresh token';

export interface AuthServiceDeps {
  db: Database;
  users: UserService;
  sessions: SessionRepo;
  tokens: TokenService;
  config: Pick<Config, 'jwt' | 'loginRateLimit'>;
  jobs: JobQueue;
  /** Live connections: revoked sessions' connections end on every process; `sessions` shows their activity. */
  live: Pick<LiveSessions, 'revoke' | 'activityOf'>;
}

/** Sessions: login, registration, refresh-token rotation with reuse detection, logout. */
export class AuthService {
  readonly limiter: LoginLimiter;

  constructor(private readonly deps: AuthServiceDeps) {
    this.limiter = new LoginLimiter(deps.sessions, deps.config.loginRateLimit);
    void prepareDummyHash();
  }

  /** Creates a USER account and signs it in; the welcome e-mail is queued in the account's transaction. */
  async register(input: Omit<NewUser, 'role'>): Promise<AuthPayload> {
    const { user, userErrors } = await this.deps.users.create({ ...input, role: 'USER' }, ['input'], (tx, row) =>
      enqueueWelcomeEmail(this.deps.jobs, tx, row),
    );
    if (!user) return failed(userErrors);
    return this.startSession(user, null);
  }

  async login(input: { login: string; password: string; scopes?: readonly string[] | null }, clientAddress: string): Promise<AuthPayload> {
    const errors = new UserErrors();
    for (const scope of input.scopes ?? []) {
      if (!isScope(scope)) errors.add(['input', 'scopes'], `Unknown scope: ${scope.slice(0, 50)}`);
    }
    if (errors.any) return failed(errors.list);

    const fromAddress = await this.limiter.attemptFrom(clientAddress);
    if (!fromAddress.allowed) throw rateLimited('Too many login attempts; try again later', fromAddress.retryAfterSeconds);
    const user = await this.deps.users.findByLogin(input.login.slice(0, 254));
    const key = LoginLimiter.key(user?.id ?? null, input.login);
    const attempt = await this.limiter.attempt(key);
    if (!attempt.allowed) {
      throw rateLimited('Too many login attempts; try again later', attempt.retryAfterSeconds);
    }
    // Unknown accounts are checked against a dummy hash: both paths cost one scrypt.
    const valid = user ? await verifyPassword(input.password, user.passwordHash) : await verifyAgainstDummy(input.password);
    if (!user || !valid) return failed([userError(null, INVALID_CREDENTIALS, UserErrorCode.INVALID_CREDENTIALS)]);
    await this.limiter.succeeded(key);
    if (!user.isActive) return failed([userError(null, 'Inactive user', UserErrorCode.FORBIDDEN)]);
    await this.deps.sessions.deleteExpired(new Date(), user.id);
    return this.startSession(user, input.scopes ?? null);
  }

  /**
   * Rotation: the presented token is marked used and a new one issued in the same family. Presenting a token that
   * was already used means it was copied — by an attacker or from a stolen backup — so the whole family is revoked
   * and both holders have to sign in again (RFC 9700 §4.14.2).
   */
  async refresh(refreshToken: string): Promise<AuthPayload> {
    const invalid = (message = INVALID_REFRESH) => failed([userError(['refreshToken'], message, UserErrorCode.INVALID)]);
    const row = await this.deps.sessions.findByTokenHash(hashRefreshToken(refreshToken));
    const now = new Date();
    if (!row) return invalid();
    if (row.revokedAt) return invalid('Token revoked');
    if (row.rotatedAt) {
      await this.deps.sessions.revokeFamily(row.familyId, now);
      await this.deps.live.revoke({ userId: row.userId, sessionId: row.familyId, reason: CloseReason.REFRESH_REUSED });
      return invalid('Refresh token already used; the session has been revoked');
    }
    if (row.expiresAt <= now) return invalid('Refresh token expired');
    const [user] = await this.userRows([row.userId]);
    if (!user || !user.isActive) {
      await this.deps.sessions.revokeFamily(row.familyId, now);
      await this.deps.live.revoke({ userId: row.userId, sessionId: row.familyId, reason: CloseReason.DEACTIVATED });
      return failed([userError(null, 'Inactive user', UserErrorCode.FORBIDDEN)]);
    }
    const scopes = grantScopes(user.role as Role, row.scopes);
    const next = this.deps.tokens.newRefreshToken();
    const rotated = await this.deps.db.transaction(async (tx) => {
      const sessions = this.deps.sessions.in(tx);
      if (!(await sessions.markRotated(row.id, now))) return false;
      await sessions.insert({
        familyId: row.familyId,
        userId: user.id,
        tokenHash: next.hash,
        scopes,
        familyCreatedAt: row.familyCreatedAt,
        expiresAt: new Date(now.getTime() + this.deps.config.jwt.refreshTtlSeconds * 1_000),
      });
      return true;
    });
    if (!rotated) {
      // Another request used this token first: the same reuse, seen concurrently.
      await this.deps.sessions.revokeFamily(row.familyId, now);
      await this.deps.live.revoke({ userId: row.userId, sessionId: row.familyId, reason: CloseReason.REFRESH_REUSED });
      return invalid('Refresh token already used; the session has been revoked');
    }
    const access = await this.deps.tokens.signAccessToken({ userId: user.id, sessionId: row.familyId, scopes });
    return {
      accessToken: access.token,
      refreshToken: next.token,
      expiresIn: access.expiresIn,
      scopes,
      user: User.signedInFromRow(user),
      userErrors: [],
    };
  }

  /** Ends the session the refresh token belongs to; false when it was not a live session. */
  async logout(refreshToken: string): Promise<boolean> {
    const row = await this.deps.sessions.findByTokenHash(hashRefreshToken(refreshToken));
    if (!row) return false;
    const live = await this.deps.sessions.revokeFamily(row.familyId, new Date());
    await this.deps.live.revoke({ userId: row.userId, sessionId: row.familyId, reason: CloseReason.LOGGED_OUT });
    return live;
  }

  /** Ends every session of the user; returns how many were live. */
  async logoutAll(userId: string): Promise<number> {
    const count = await this.deps.sessions.revokeAllForUser(userId, new Date());
    await this.deps.live.revoke({ userId, reason: CloseReason.LOGGED_OUT_EVERYWHERE });
    return count;
  }

  /**
   * Ends one session and closes its live connections. The viewer's own sessions; anyone's with `user:write` (ADMIN).
   * A session that does not exist, or is someone else's without the scope, is NOT_FOUND (its existence is not
   * revealed).
   */
  async revokeSession(auth: Authentication, id: string): Promise<RevokeSessionsPayload> {
    const viewer = signedIn(auth);
    const notFound = { revokedSessions: 0, userErrors: [userError(['id'], 'Session not found', UserErrorCode.NOT_FOUND)] };
    const familyId = parseGlobalId(id, 'Session');
    if (!familyId) return notFound;
    const owner = await this.deps.sessions.familyOwner(familyId);
    if (!owner || (owner !== viewer.id && !auth.scopes.has('user:write'))) return notFound;
    const live = await this.deps.sessions.revokeFamily(familyId, new Date());
    await this.deps.live.revoke({ userId: owner, sessionId: familyId, reason: CloseReason.SESSION_REVOKED });
    return { revokedSessions: live ? 1 : 0, userErrors: [] };
  }

  /** ADMIN: ends every session of a user and closes their live connections. */
  async revokeUserSessions(auth: Authentication, userId: string): Promise<RevokeSessionsPayload> {
    signedIn(auth);
    const notFound = { revokedSessions: 0, userErrors: [userError(['userId'], 'User not found', UserErrorCode.NOT_FOUND)] };
    const id = parseGlobalId(userId, 'User');
    if (!id) return notFound;
    const [user] = await this.userRows([id]);
    if (!user) return notFound;
    const revokedSessions = await this.deps.sessions.revokeAllForUser(id, new Date());
    await this.deps.live.revoke({ userId: id, reason: CloseReason.SESSION_REVOKED });
    return { revokedSessions, userErrors: [] };
  }

  /** The user's live sessions, with their open connections on this process and their last activity. */
  async listSessions(userId: string, currentSessionId: string | null): Promise<Session[]> {
    const rows = await this.deps.sessions.listLive(userId, new Date());
    return rows.map((row: SessionRow) => {
      const activity = this.deps.live.activityOf(userId, row.familyId);
      // A refresh is activity too, seen by whichever process served it.
      const lastActivityAt = activity.lastActivityAt && activity.lastActivityAt > row.createdAt ? activity.lastActivityAt : row.createdAt;
      return {
        id: toGlobalId('Session', row.familyId),
        createdAt: row.familyCreatedAt,
        expiresAt: row.expiresAt,
        current: row.familyId === currentSessionId,
        openSockets: activity.openSockets,
        lastActivityAt,
      };
    });
  }

  scopeCatalogue(): Scope[] {
    return ALL_SCOPES.map((name) => ({ name, description: SCOPE_CATALOGUE[name] }));
  }

  /** Starts a session family for a user: a refresh token row and an access token. Also used by the token CLI. */
  async startSession(user: UserProfileRow, requestedScopes: readonly string[] | null): Promise<AuthPayload> {
    const scopes = grantScopes(user.role as Role, requestedScopes);
    const refresh = this.deps.tokens.newRefreshToken();
    const familyId = randomUUID();
    const now = new Date();
    await this.deps.sessions.insert({
      familyId,
      userId: user.id,
      tokenHash: refresh.hash,
      scopes,
      familyCreatedAt: now,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.config.jwt.refreshTtlSeconds * 1_000),
    });
    const access = await this.deps.tokens.signAccessToken({ userId: user.id, sessionId: familyId, scopes });
    return {
      accessToken: access.token,
      refreshToken: refresh.token,
      expiresIn: access.expiresIn,
      scopes,
      user: User.signedInFromRow(user),
      userErrors: [],
    };
  }

  /** Removes expired session rows and ended login-limit windows; for the periodic clean-up job. Returns the sessions removed. */
  async cleanupExpiredSessions(): Promise<number> {
    const now = new Date();
    await this.deps.sessions.deleteStaleAttempts(new Date(now.getTime() - this.deps.config.loginRateLimit.windowMs));
    return this.deps.sessions.deleteExpired(now);
  }

  private userRows(ids: string[]): Promise<UserProfileRow[]> {
    return this.deps.users.findByIds(ids);
  }
}
