/**
 * What a domain folder contributes to the schema, in one object: its resolvers, and how `node(id)` finds each of
 * its types. `src/schema/domains.ts` lists the domains; the schema and `node(id)` iterate that list.
 */
import type { Context } from '../context.js';
import type { NodeSource } from './node.js';

export interface NodeType {
  /** Scopes `node(id)` requires, as the type's own query declares them (none: signed in). */
  scopes: readonly string[];
  /** The object when it exists and the viewer may see it (the service's rule); null otherwise. */
  fetch(ctx: Context, id: string): Promise<NodeSource | null>;
}

export interface DomainModule {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeGraphQL takes resolver classes as Function
  resolvers: readonly Function[];
  /** Node types by their global-id type name. */
  nodes?: Readonly<Record<string, NodeType>>;
}
