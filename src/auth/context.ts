/**
 * The one context builder for both transports: HTTP builds it per request, graphql-ws per operation (and refreshes
 * its loaders per subscription event). Resolvers and services see this typed object, never a socket or a request.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Container, Loaders, Services } from '../schema/container.js';

export type Transport = 'http' | 'ws';

export interface Viewer {
  id: string;
  username: string;
  role: string;
}

export interface Context {
  requestId: string;
  transport: Transport;
  viewer: Viewer | null;
  scopes: ReadonlySet<string>;
  services: Services;
  loaders: Loaders;
  log: FastifyBaseLogger;
}

export interface ContextRequest {
  requestId: string;
  transport: Transport;
  /** The `Authorization` header (HTTP) or the `authorization` field of `connection_init` (graphql-ws). */
  authorization: string | null;
  log: FastifyBaseLogger;
}

export function createContextBuilder(container: Container) {
  return {
    async build(request: ContextRequest): Promise<Context> {
      return {
        requestId: request.requestId,
        transport: request.transport,
        viewer: null,
        scopes: new Set<string>(),
        services: container.services,
        loaders: container.newLoaders(),
        log: request.log,
      };
    },
    /** A copy with fresh DataLoaders, so a subscription event never reads another event's cached rows. */
    forEvent(context: Context): Context {
      return { ...context, loaders: container.newLoaders() };
    },
  };
}

export type ContextBuilder = ReturnType<typeof createContextBuilder>;
