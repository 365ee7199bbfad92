import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { requireScopes } from './shared/authorize.js';
import type { Context } from './context.js';
import { User } from './user/user.type.js';
import { Item } from './item/item.type.js';
import { mayReadOrder } from './order/order.service.js';
import { Order } from './order/order.type.js';
import { Comment, Post } from './post/post.type.js';
import { mayReadTask } from './task/task.service.js';
import { Task } from './task/task.type.js';
import { badUserInput } from './shared/errors.js';
import { Message, Room } from './chat/chat.type.js';
import { Notification } from './notification/notification.type.js';
import { decodeGlobalId } from './shared/global-id.js';
import { Node, type NodeSource } from './shared/node.js';

type NodeFetcher = (ctx: Context, id: string) => Promise<NodeSource | null>;

/**
 * How `node(id)` loads each type: through the request's DataLoaders, so `nodes(ids)` batches per type. Each fetcher
 * applies the rule its type's own query has (`requireScopes` throws like `@Authorized`).
 */
const fetchers: Record<string, NodeFetcher> = {
  // Rooms are listed to every chat:read holder (so they can be found and joined).
  Room: async (ctx, id) => {
    requireScopes(ctx, ['chat:read']);
    const row = await ctx.loaders.room.load(id);
    return row && Room.fromRow(row);
  },
  // A room message to the room's members; a direct message to its author and recipient. Others get null.
  Message: async (ctx, id) => {
    requireScopes(ctx, ['chat:read']);
    const row = await ctx.loaders.message.load(id);
    if (!row) return null;
    const viewerId = ctx.viewer!.id;
    const visible = row.roomId
      ? await ctx.loaders.membership.load({ roomId: row.roomId, userId: viewerId })
      : row.authorId === viewerId || row.recipientId === viewerId;
    return visible ? Message.fromRow(row) : null;
  },
  // Only the recipient's own.
  Notification: async (ctx, id) => {
    requireScopes(ctx, ['notifications:read']);
    const row = await ctx.loaders.notification.load(id);
    return row && row.userId === ctx.viewer!.id ? Notification.fromRow(row) : null;
  },
  Item: async (ctx, id) => {
    requireScopes(ctx, ['items:read']);
    const row = await ctx.loaders.item.load(id);
    return row && Item.fromRow(row);
  },
  // Any signed-in user may look up an account (e-mail stays hidden by User.email's own rule).
  User: async (ctx, id) => {
    requireScopes(ctx, []);
    const row = await ctx.loaders.user.load(id);
    return row && User.fromRow(row);
  },
  // Orders and tasks of other people are null, as if they did not exist (the `orders`/`tasks` lists hide them too).
  Order: async (ctx, id) => {
    requireScopes(ctx, []);
    const row = await ctx.loaders.order.load(id);
    return row && mayReadOrder(ctx, row) ? Order.fromRow(row) : null;
  },
  Task: async (ctx, id) => {
    requireScopes(ctx, ['tasks:read']);
    const row = await ctx.loaders.task.load(id);
    return row && mayReadTask(ctx, row) ? Task.fromRow(row) : null;
  },
  Post: async (ctx, id) => {
    requireScopes(ctx, ['posts:read']);
    const row = await ctx.loaders.posts.post.load(id);
    return row && Post.fromRow(row);
  },
  Comment: async (ctx, id) => {
    requireScopes(ctx, ['posts:read']);
    const row = await ctx.loaders.posts.comment.load(id);
    return row && Comment.fromRow(row);
  },
  // Own jobs; everyone's with jobs:read (as the `jobs` list).
  Job: async (ctx, id) => {
    requireScopes(ctx, []);
    return ctx.services.jobs.fromRow(ctx, await ctx.loaders.job.load(id));
  },
};

function fetchNode(ctx: Context, globalId: string): Promise<NodeSource | null> {
  const decoded = decodeGlobalId(globalId);
  const fetcher = decoded && fetchers[decoded.type];
  if (!decoded || !fetcher) throw badUserInput(`Invalid ID: ${JSON.stringify(globalId.slice(0, 100))}`, { argument: 'id' });
  return fetcher(ctx, decoded.id);
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
