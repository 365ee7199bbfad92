/**
 * Browser-facing protections: the CORS allow-list (CORS_ORIGINS) for HTTP, the same list for WebSocket upgrades
 * (CORS does not apply to WebSockets, so a page on any site could otherwise open a socket with the user's cookies —
 * cross-site WebSocket hijacking), and security headers on every response. API responses get a Content-Security-
 * Policy that allows nothing; the GraphiQL page gets one that allows only its own same-origin scripts, styles and
 * connections.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** Headers a browser client may send and read across origins. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'];
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-used',
  'x-ratelimit-reset',
];

/** Nothing may load from or frame an API response. */
export const API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * GraphiQL 3 runs from same-origin files only (/graphiql/*.js, .css). It sets inline styles (the page's own
 * <style>, CodeMirror's and React's style attributes), so styles need 'unsafe-inline'; scripts do not need it, nor
 * 'unsafe-eval'. `connect-src 'self'` covers fetch to /graphql and the same-origin ws:// or wss:// socket (CSP 3).
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** '*' in CORS_ORIGINS allows every origin (without credentials); an empty list allows only same-origin pages. */
export function isAllowedOrigin(origin: string, corsOrigins: readonly string[]): boolean {
  return corsOrigins.includes('*') || corsOrigins.includes(origin);
}

/**
 * The WebSocket upgrade check. Browsers always send `Origin` on a WebSocket handshake; other clients (servers,
 * CLIs) usually do not, and are not at risk of hijacking, so a missing Origin is allowed. A present Origin must be
 * the server's own (same host) or in the allow-list.
 */
export function isAllowedWebSocketOrigin(origin: string | undefined, host: string | undefined, corsOrigins: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (isAllowedOrigin(origin, corsOrigins)) return true;
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

export async function registerSecurity(fastify: FastifyInstance, options: { corsOrigins: readonly string[] }): Promise<void> {
  const anyOrigin = options.corsOrigins.includes('*');
  await fastify.register(cors, {
    // Browsers refuse a credentialed response to '*', so credentials (the refresh cookie) need an explicit list.
    origin: anyOrigin ? '*' : (origin, callback) => callback(null, origin !== undefined && isAllowedOrigin(origin, options.corsOrigins)),
    credentials: !anyOrigin,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600, // s a browser may cache a preflight
  });
  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: false, // set below, per kind of response
    xFrameOptions: { action: 'deny' },
  });
  fastify.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    void reply.header('content-security-policy', type.startsWith('text/html') ? GRAPHIQL_CSP : API_CSP);
    return payload;
  });
}
