/**
 * The wire side of live sessions on graphql-ws (src/realtime/live-sessions.ts holds the registry):
 *
 * - Renewal is a graphql-ws `ping` whose payload carries a fresh token, the same way `connection_init` does:
 *   `{"type":"ping","payload":{"authorization":"Bearer <access token>"}}`. The server answers
 *   `{"type":"pong","payload":{"renewed":true,"expiresAt":"<ISO time>"}}`, or closes with 4403 and a reason.
 *   A ping is a message every graphql-ws client may send at any time and every server must answer (PROTOCOL.md), so
 *   a standard client keeps working unchanged, and the renewal needs no operation id, no subscription slot, no rate
 *   limit charge, and cannot be queued behind a slow subscription's events. A mutation over the socket was the
 *   alternative: it would run with the old token (which may be about to expire), count as an operation, and its
 *   result would arrive among the subscriptions' events.
 * - Revocation and expiry close the socket with 4403 Forbidden and a reason (LiveSessions' CloseReason), and a client
 *   that does not answer the close frame is cut off a second later, so its connection slot is free at once.
 */
import { CloseCode } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { AccessClaims } from '../auth/tokens.js';

/** Close reasons of a refused renewal (all with 4403). */
export const RENEWAL_REFUSED = {
  invalid: 'renewal refused: invalid token',
  otherSession: 'renewal refused: token of another user or session',
  notSignedIn: 'renewal refused: connection not signed in',
} as const;

/** How long a closed socket may take to answer the close frame before it is cut off. */
const CLOSE_HANDSHAKE_MS = 1_000;

const PING = /"type"\s*:\s*"ping"/;

/** The token of a renewal `ping` ('' when its `authorization` is not a string), or null for any other message. */
export function renewalRequest(data: unknown): string | null {
  const text = String(data);
  if (!PING.test(text)) return null;
  try {
    const message = JSON.parse(text) as { type?: unknown; payload?: unknown } | null;
    if (message?.type !== 'ping' || typeof message.payload !== 'object' || message.payload === null) return null;
    if (!('authorization' in message.payload)) return null;
    const authorization = (message.payload as { authorization?: unknown }).authorization;
    return typeof authorization === 'string' ? authorization : '';
  } catch {
    return null;
  }
}

/** The `pong` that confirms a renewal. */
export function renewedPong(claims: AccessClaims): string {
  return JSON.stringify({ type: 'pong', payload: { renewed: true, expiresAt: new Date(claims.exp * 1_000).toISOString() } });
}

/** Closes with 4403 and the reason (at most 123 bytes, RFC 6455 §5.5), cutting the socket off if it does not answer. */
export function closeForbidden(socket: WebSocket, reason: string): void {
  if (socket.readyState === socket.CLOSED) return;
  if (socket.readyState !== socket.CLOSING) socket.close(CloseCode.Forbidden, reason.slice(0, 123));
  setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
}
