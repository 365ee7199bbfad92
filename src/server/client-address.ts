/**
 * The client's address, as every per-address limit sees it (the anonymous rate-limit budget, the password-check
 * limit, the anonymous WebSocket caps). Behind a reverse proxy every request comes from the proxy, so TRUST_PROXY
 * names the proxies whose `X-Forwarded-For` is believed — with Fastify's own semantics (its `trustProxy` option takes
 * the same value), so HTTP's `request.ip` and a WebSocket upgrade, which Fastify never sees, agree.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** false: the socket's peer; true: every proxy; a number: that many hops; a list: these addresses, CIDRs or names. */
export type TrustProxy = boolean | number | string[];

export function trustFunction(trust: TrustProxy): ((address: string, hop: number) => boolean) | null {
  if (trust === false) return null;
  if (trust === true) return () => true;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile(trust);
}

export function clientAddressOf(trust: TrustProxy): (request: IncomingMessage) => string {
  const trusted = trustFunction(trust);
  return (request) => (trusted ? proxyAddr(request, trusted) : request.socket.remoteAddress) ?? 'unknown';
}
