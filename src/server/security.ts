/**
 * Browser-facing protections: CSRF prevention's rule for GraphQL over HTTP, the CORS allow-list (CORS_ORIGINS) for
 * HTTP, the same list for WebSocket upgrades
 * (CORS does not apply to WebSockets, so a page on any site could otherwise open a socket with the user's cookies —
 * cross-site WebSocket hijacking), and security headers on every response. API responses get a Content-Security-
 * Policy that allows nothing; the GraphiQL page gets one that allows only its own same-origin scripts, styles and
 * connections, and the dashboard sets a narrower one of its own (src/server/dashboard.ts), which is kept.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';

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

/**
 * CSRF prevention on GraphQL over HTTP (Apollo Server's rule, `preventCsrf.ts`, with one more header). A forged
 * request is one a page on another site makes the browser send; without a preflight a browser sends only "simple"
 * requests: GET or POST with CORS-safelisted headers and a content type an HTML form can send (Fetch §CORS protocol).
 * Anything else is preflighted, and the preflight fails for an origin outside CORS_ORIGINS, so the request is never
 * sent. A request is therefore served only if it cannot be simple: its content type is none of the form ones, or it
 * carries a non-empty header from CSRF_PREFLIGHT_HEADERS.
 *
 * `authorization` is on that list because no page can set it without a preflight (it is not CORS-safelisted), and it
 * is the only credential OpsHub reads: there is no cookie session for a forged request to ride on, so a request that
 * carries a token was sent by code that holds the token. The one way a browser attaches `Authorization` on its own
 * is HTTP authentication it has cached for the origin (Basic, Digest, Negotiate); OpsHub never asks for that (its
 * challenge is `Bearer`) and refuses any other scheme with 401 before anything runs (src/auth/identity.ts), so such a
 * request gains nothing. This is what lets clients that send queries as GET with a bearer token (urql's default)
 * through, without the Apollo-specific `apollo-require-preflight` header.
 */
export const CSRF_PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'];

/** Content types a browser form can send without a preflight. */
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/** Whether a browser would have preflighted this request cross-origin (see CSRF_PREFLIGHT_HEADERS). */
export function forcesPreflight(headers: IncomingHttpHeaders): boolean {
  const contentType = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== undefined && !SIMPLE_CONTENT_TYPES.has(contentType)) return true;
  return CSRF_PREFLIGHT_HEADERS.some((header) => Boolean(headers[header]));
}

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

/** The security headers' options: helmet's defaults with `X-Frame-Options: DENY`; the CSP is set per response below. */
export const HELMET_OPTIONS = { global: true, contentSecurityPolicy: false, xFrameOptions: { action: 'deny' } } as const;

/**
 * The headers @fastify/helmet sets with HELMET_OPTIONS, names as it spells them, in its order. With these options
 * they are constants, yet the plugin rebuilds helmet's middleware from its options on every request (and adds an async
 * hook); they are read once here, from the plugin itself on a throwaway instance, and replayed on every response, so
 * the bytes on the wire stay the plugin's.
 */
export async function helmetHeaders(): Promise<Array<[string, string]>> {
  const probe = Fastify({ logger: false });
  let headers: Array<[string, string]> = [];
  await probe.register(helmet, HELMET_OPTIONS);
  probe.addHook('onRequest', async (_request, reply) => {
    // getRawHeaderNames (Node 15.13+) keeps the spelling; @types/node does not declare it on ServerResponse.
    const raw = reply.raw as typeof reply.raw & { getRawHeaderNames(): string[] };
    headers = raw.getRawHeaderNames().map((name) => [name, String(raw.getHeader(name))]);
  });
  probe.get('/', async () => '');
  await probe.inject('/');
  await probe.close();
  return headers;
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
  const securityHeaders = await helmetHeaders();
  fastify.addHook('onRequest', (_request, reply, done) => {
    // On the raw response, as helmet sets them: before Fastify's own headers, in the same order and spelling.
    for (const [name, value] of securityHeaders) reply.raw.setHeader(name, value);
    done();
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    // A page that brings its own, narrower policy (the dashboard) keeps it.
    if (!reply.hasHeader('content-security-policy')) {
      const type = String(reply.getHeader('content-type') ?? '');
      void reply.header('content-security-policy', type.startsWith('text/html') ? GRAPHIQL_CSP : API_CSP);
    }
    done(null, payload);
  });
}
