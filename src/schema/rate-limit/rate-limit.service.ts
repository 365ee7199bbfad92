/**
 * Cost-based rate limiting, as GitHub does it for GraphQL: every subject (a signed-in user, or the client IP of an
 * anonymous caller) has a budget of points per window; an operation is charged max(1, ceil(cost / 100)) points from
 * its static cost (src/server/limits.ts), so a page of 100 nodes costs one point, like a plain query. The transports
 * charge before anything executes and attach the outcome to the context (`RateLimitContext`), which is what the
 * `rateLimit` query reports.
 */
import type { RateLimitConfig } from '../../config.js';
import type { RateLimitStore } from './rate-limit.store.js';
import { COST_PER_POINT } from './rate-limit.type.js';

/** Points an operation of this static cost is charged. */
export function pointsFor(cost: number): number {
  return Math.max(1, Math.ceil(cost / COST_PER_POINT));
}

export interface RateLimitSubject {
  /** Store key: `user:<id>` or `ip:<address>`. */
  key: string;
  limit: number;
}

/** The outcome of charging one operation (or of looking at the budget, for an operation that is not charged). */
export interface RateLimitTicket {
  subject: RateLimitSubject;
  allowed: boolean;
  /** Static cost of the operation. */
  requested: number;
  /** Points spent by this operation (0 when refused or free). */
  charged: number;
  /** Points that would have been charged, including when refused. */
  points: number;
  remaining: number;
  resetAt: Date;
}

/** What the transports attach to the context once an operation is charged. */
export interface RateLimitContext {
  rateLimit?: RateLimitTicket;
}

export interface RateLimitStatus {
  limit: number;
  remaining: number;
  cost: number;
  resetAt: Date;
}

export interface RateLimitServiceDeps {
  store: RateLimitStore;
  config: RateLimitConfig;
}

export class RateLimitService {
  constructor(private readonly deps: RateLimitServiceDeps) {}

  get config(): RateLimitConfig {
    return this.deps.config;
  }

  /** The budget a caller draws from: a user's by role, or the client IP's when anonymous. */
  subject(viewer: { id: string; role: string } | null, clientIp: string): RateLimitSubject {
    if (!viewer) return { key: `ip:${clientIp}`, limit: this.config.anonymous };
    const limit = viewer.role === 'ADMIN' ? this.config.admin : viewer.role === 'MODERATOR' ? this.config.moderator : this.config.user;
    return { key: `user:${viewer.id}`, limit };
  }

  /** Spends the operation's points, or refuses (spending nothing) when they exceed what remains. */
  async charge(subject: RateLimitSubject, cost: number): Promise<RateLimitTicket> {
    const points = pointsFor(cost);
    const result = await this.deps.store.consume(subject.key, points, subject.limit, this.config.windowMs);
    return {
      subject,
      allowed: result.allowed,
      requested: cost,
      charged: result.allowed ? points : 0,
      points,
      remaining: Math.max(0, subject.limit - result.used),
      resetAt: result.resetAt,
    };
  }

  /** The budget as it stands, for an operation that is not charged (only `rateLimit` and `__typename`). */
  async peek(subject: RateLimitSubject, cost: number): Promise<RateLimitTicket> {
    const window = await this.deps.store.peek(subject.key, this.config.windowMs);
    return {
      subject,
      allowed: true,
      requested: cost,
      charged: 0,
      points: 0,
      remaining: Math.max(0, subject.limit - window.used),
      resetAt: window.resetAt,
    };
  }

  /** What the `rateLimit` query reports: the state after this operation's charge, which is its `cost`. */
  status(ticket: RateLimitTicket | undefined): RateLimitStatus {
    if (!ticket) throw new Error('rateLimit resolved without a rate-limit ticket: the transport did not charge the operation');
    return { limit: ticket.subject.limit, remaining: ticket.remaining, cost: ticket.charged, resetAt: ticket.resetAt };
  }

  close(): Promise<void> {
    return this.deps.store.close();
  }
}
