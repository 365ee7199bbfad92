/**
 * Password-guessing limit per account: at most `maxAttempts` password checks per fixed window (default 20 per
 * minute). The counters live in Postgres (`login_attempts`), not in process memory, so every server instance
 * shares them and a restart does not reset an attacker's budget.
 *
 * Every attempt is counted before the password is checked (an atomic upsert), so a burst of parallel guesses cannot
 * slip past the limit; a successful login clears the counter. Once the budget is spent every attempt, right or
 * wrong, is refused with RATE_LIMITED until the window ends — then the next attempt starts a fresh window, so the
 * owner is never locked out for longer than one window. The key is the account (user id) when the login names one,
 * else the normalised login, so unknown logins are limited the same way and the answer reveals nothing.
 *
 * A second budget per client address (`maxAttemptsPerAddress`) caps guesses spread over many accounts. It is not
 * cleared by a success (one known account would reset it) and it does not depend on the request's bearer token, which
 * is charged to its own account's cost budget and so could otherwise be used to guess from a fresh budget.
 */
import type { SessionRepo } from '../schema/user/session.repo.js';

export interface LoginLimiterOptions {
  maxAttempts: number;
  maxAttemptsPerAddress: number;
  windowMs: number;
}

export interface LoginAttempt {
  allowed: boolean;
  /** Seconds until the window ends (for `extensions.retryAfter`). */
  retryAfterSeconds: number;
}

export class LoginLimiter {
  /** The clock; replaceable so tests can pass the window without waiting for it. */
  now: () => number = Date.now;

  constructor(
    private readonly repo: SessionRepo,
    readonly options: LoginLimiterOptions,
  ) {}

  static key(userId: string | null, login: string): string {
    return userId ? `user:${userId}` : `login:${login.trim().toLowerCase().slice(0, 254)}`;
  }

  static addressKey(clientAddress: string): string {
    return `ip:${clientAddress.slice(0, 100)}`;
  }

  /** Counts one password check against `key`'s budget (`maxAttempts` unless given). */
  async attempt(key: string, maxAttempts = this.options.maxAttempts): Promise<LoginAttempt> {
    const now = this.now();
    const { attempts, windowStartedAt } = await this.repo.countAttempt(key, new Date(now), this.options.windowMs);
    const retryAfterSeconds = Math.max(1, Math.ceil((windowStartedAt.getTime() + this.options.windowMs - now) / 1_000));
    return { allowed: attempts <= maxAttempts, retryAfterSeconds };
  }

  /** Counts one password check from this address. */
  attemptFrom(clientAddress: string): Promise<LoginAttempt> {
    return this.attempt(LoginLimiter.addressKey(clientAddress), this.options.maxAttemptsPerAddress);
  }

  succeeded(key: string): Promise<void> {
    return this.repo.clearAttempts(key);
  }
}
