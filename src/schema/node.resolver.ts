import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { Context } from './context.js';
import { domains } from './domains.js';
import { requireScopes } from './shared/authorize.js';
import type { NodeType } from './shared/domain.js';
import { badUserInput } from './shared/errors.js';
import { decodeGlobalId } from './shared/global-id.js';
import { Node, type NodeSource } from './shared/node.js';

/**
 * How `node(id)` loads each type, from the domains' own node types: through the request's DataLoaders, so
 * `nodes(ids)` batches per type, with the scopes the type's own query declares (`requireScopes` throws like
 * `@Authorized`) and the visibility rule of its service.
 */
const nodeTypes: ReadonlyMap<string, NodeType> = new Map(domains.flatMap((domain) => Object.entries(domain.nodes ?? {})));

function fetchNode(ctx: Context, globalId: string): Promise<NodeSource | null> {
  const decoded = decodeGlobalId(globalId);
  const type = decoded && nodeTypes.get(decoded.type);
  if (!decoded || !type) throw badUserInput(`Invalid ID: ${JSON.stringify(globalId.slice(0, 100))}`, { argument: 'id' });
  requireScopes(ctx, type.scopes);
  return type.fetch(ctx, decoded.id);
}

@Resolver()
export class NodeResolver {
  @Query(() => Node, { nullable: true, description: 'Fetches any object by its global id; null when it does not exist.' })
  node(@Arg('id', () => ID, { description: 'A global id.' }) id: string, @Ctx() ctx: Context) {
    return fetchNode(ctx, id);
  }

  @Query(() => [Node], {
    nullable: 'items',
    description: 'Fetches objects by their global ids, in the same order; null for each that does not exist.',
  })
  nodes(@Arg('ids', () => [ID], { description: 'Global ids, at most 100.' }) ids: string[], @Ctx() ctx: Context) {
    if (ids.length > 100) throw badUserInput('At most 100 ids', { argument: 'ids' });
    return Promise.all(ids.map((id) => fetchNode(ctx, id)));
  }
}
