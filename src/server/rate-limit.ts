/**
 * The operation core's rate-limit step (src/server/operation.ts), the same on every transport: charge an operation
 * once it is parsed, validated and costed, before anything executes; refuse it with RATE_LIMITED when the budget is
 * spent; report the charge in `extensions.cost`. An operation that asks only for `rateLimit`
 * (and `__typename`) is not charged, so a client can always see where it stands. An operation refused before that is
 * charged the minimum price to its address.
 */
import { GraphQLError, Kind, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Context } from '../schema/context.js';
import type { RateLimitContext, RateLimitService, RateLimitTicket } from '../schema/rate-limit/rate-limit.service.js';
import { rateLimited } from '../schema/shared/errors.js';
import { toGraphQLError } from './errors.js';

const FREE_ROOT_FIELDS = new Set(['rateLimit', '__typename']);

// Admitted documents are cached and never change, so an operation's answer is worked out once.
const freeOperations = new WeakMap<OperationDefinitionNode, boolean>();

/** True when every root field of the operation, through fragments, is `rateLimit` or `__typename`. */
export function isFreeOperation(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  let free = freeOperations.get(operation);
  if (free === undefined) freeOperations.set(operation, (free = onlyFreeFields(document, operation)));
  return free;
}

function onlyFreeFields(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition.selectionSet] as const] : [],
    ),
  );
  const visited = new Set<string>();
  const onlyFree = (selectionSet: SelectionSetNode): boolean =>
    selectionSet.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) return FREE_ROOT_FIELDS.has(selection.name.value);
      if (selection.kind === Kind.INLINE_FRAGMENT) return onlyFree(selection.selectionSet);
      if (visited.has(selection.name.value)) return true;
      visited.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      return fragment ? onlyFree(fragment) : false;
    });
  return onlyFree(operation.selectionSet);
}

export interface CostExtension {
  requested: number;
  charged: number;
  remaining: number;
  resetAt: string;
}

export function costExtension(ticket: RateLimitTicket): CostExtension {
  return { requested: ticket.requested, charged: ticket.charged, remaining: ticket.remaining, resetAt: isoOf(ticket.resetAt) };
}

/** A window's end as ISO text: the same for every request of a window, so the last one is kept. */
let lastEnd = { ms: Number.NaN, iso: '' };
function isoOf(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastEnd.ms) lastEnd = { ms, iso: date.toISOString() };
  return lastEnd.iso;
}

/** GitHub's rate-limit headers, on every charged HTTP response. */
export function rateLimitHeaders(ticket: RateLimitTicket): Record<string, string> {
  return {
    'x-ratelimit-limit': String(ticket.subject.limit),
    'x-ratelimit-remaining': String(ticket.remaining),
    'x-ratelimit-used': String(ticket.subject.limit - ticket.remaining),
    'x-ratelimit-reset': String(Math.ceil(ticket.resetAt.getTime() / 1_000)),
  };
}

function rateLimitedError(ticket: RateLimitTicket): { error: GraphQLError; retryAfter: number } {
  const retryAfter = Math.max(1, Math.ceil((ticket.resetAt.getTime() - Date.now()) / 1_000));
  const { limit } = ticket.subject;
  const error = toGraphQLError(
    rateLimited(
      `Rate limit exceeded: this operation costs ${ticket.points} point${ticket.points === 1 ? '' : 's'} and ${ticket.remaining} of ${limit} remain until ${ticket.resetAt.toISOString()}.`,
      retryAfter,
      {
        resetAt: ticket.resetAt.toISOString(),
        limit,
        remaining: ticket.remaining,
        cost: ticket.points,
      },
    ),
  );
  return { error, retryAfter };
}

export interface ChargeRequest {
  context: Context & RateLimitContext;
  clientIp: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  cost: number;
}

export function createRateLimitGuard(service: RateLimitService) {
  return {
    /** Charges the operation and records the ticket on the context; returns the RATE_LIMITED error when refused. */
    async charge({
      context,
      clientIp,
      document,
      operation,
      cost,
    }: ChargeRequest): Promise<{ error: GraphQLError; retryAfter: number } | null> {
      const subject = service.subject(context.viewer, clientIp);
      const ticket = isFreeOperation(document, operation) ? await service.peek(subject, cost) : await service.charge(subject, cost);
      context.rateLimit = ticket;
      return ticket.allowed ? null : rateLimitedError(ticket);
    },

    /**
     * Charges an operation refused before authentication (it does not parse, validate, resolve or fit the limits, or
     * its token is not valid) the minimum price, to the client address's budget: nobody was authenticated, and
     * authenticating would cost the database lookup the early checks exist to spare. A flood of refusals thus spends
     * a budget like any other traffic, and is refused with RATE_LIMITED once it is spent.
     */
    async chargeRefusal(clientIp: string): Promise<{ ticket: RateLimitTicket; refused: { error: GraphQLError; retryAfter: number } | null }> {
      const ticket = await service.charge(service.subject(null, clientIp), 0);
      return { ticket, refused: ticket.allowed ? null : rateLimitedError(ticket) };
    },
  };
}

export type RateLimitGuard = ReturnType<typeof createRateLimitGuard>;
