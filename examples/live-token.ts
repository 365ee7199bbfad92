/**
 * Client recipe: keep a graphql-ws connection's access token fresh without reconnecting, so its subscriptions run on
 * past the token's expiry. Works with a plain graphql-ws client and with Apollo Client (wrap the client in
 * `GraphQLWsLink`); test/realtime/token-renewal.test.ts runs both against the real server.
 *
 * The protocol (README, "Live sessions"): `connection_ack` carries `{"expiresAt":"…"}`, the token's expiry; send
 * `{"type":"ping","payload":{"authorization":"Bearer <token>"}}` on the open socket before then; the server answers
 * `{"type":"pong","payload":{"renewed":true,"expiresAt":"…"}}`. A token of another user or session closes the socket with 4403. Without renewal the server
 * closes the socket with 4403 "token expired" at `exp`.
 *
 * ```ts
 * // Plain graphql-ws
 * const client = createLiveTokenClient({ url: 'wss://ops.example.com/graphql', getToken: () => auth.freshAccessToken(), renewEveryMs: 25 * 60_000 });
 * // Apollo Client
 * const link = new GraphQLWsLink(createLiveTokenClient({ url, getToken, renewEveryMs }));
 * ```
 */
import { createClient, type Client, type ClientOptions } from 'graphql-ws';

export interface LiveTokenOptions extends Omit<ClientOptions, 'connectionParams'> {
  /** A valid access token of the session, e.g. from the app's `refreshSession` flow (called at connect and at each renewal). */
  getToken(): string | Promise<string>;
  /** How often the token is renewed on the open socket: comfortably less than the token's lifetime (`expiresIn`). */
  renewEveryMs: number;
  /** Called with the new expiry each time the server confirms a renewal. */
  onRenewed?(expiresAt: string): void;
  /** Called when getting a token failed; the next renewal tries again. */
  onRenewalError?(error: unknown): void;
}

/** The renewal message of a token (exported for clients that manage their own socket). */
export function renewalMessage(token: string): string {
  return JSON.stringify({ type: 'ping', payload: { authorization: `Bearer ${token}` } });
}

export function createLiveTokenClient(options: LiveTokenOptions): Client {
  const { getToken, renewEveryMs, onRenewed, onRenewalError, on, ...clientOptions } = options;
  let socket: { send(data: string): void; readyState: number } | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The current token's expiry (from `connection_ack` and each renewal's `pong`), in ms since the epoch. */
  let expiresAt = Number.POSITIVE_INFINITY;

  // The next renewal: every `renewEveryMs`, and always by half the current token's remaining life, which leaves the
  // other half for getting a token (a refresh round trip) even when the token is nearly spent already.
  const schedule = () => {
    clearTimeout(timer);
    if (!socket) return;
    const delay = Math.max(0, Math.min(renewEveryMs, (expiresAt - Date.now()) / 2));
    timer = setTimeout(() => {
      renew().catch((error: unknown) => {
        onRenewalError?.(error);
        schedule();
      });
    }, delay);
  };

  const renew = async () => {
    const token = await getToken();
    // OPEN is 1 in every WebSocket implementation (browsers, `ws`).
    if (socket?.readyState === 1) socket.send(renewalMessage(token));
  };

  const expiryOf = (payload: unknown): number | null => {
    const value = (payload as { expiresAt?: unknown } | undefined)?.expiresAt;
    return typeof value === 'string' ? Date.parse(value) : null;
  };

  return createClient({
    ...clientOptions,
    // Read again at every (re)connect, so a retry after a close uses a fresh token too.
    connectionParams: async () => ({ authorization: `Bearer ${await getToken()}` }),
    on: {
      ...on,
      connected: (connected, payload, wasRetry) => {
        socket = connected as typeof socket;
        expiresAt = expiryOf(payload) ?? Number.POSITIVE_INFINITY;
        schedule();
        on?.connected?.(connected, payload, wasRetry);
      },
      closed: (event) => {
        socket = null;
        clearTimeout(timer);
        on?.closed?.(event);
      },
      pong: (received, payload) => {
        const renewed = expiryOf(payload);
        if (received && (payload as { renewed?: unknown } | undefined)?.renewed === true && renewed !== null) {
          expiresAt = renewed;
          schedule();
          onRenewed?.(new Date(renewed).toISOString());
        }
        on?.pong?.(received, payload);
      },
    },
  });
}
