import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context.js';
import { Topic, type ItemEvent } from '../../pubsub/topics.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { DeletePayload } from '../shared/payloads.js';
import { CreateItemInput, ItemFilter, ItemOrder, UpdateItemInput } from './item.input.js';
import { Item, ItemPayload } from './item.type.js';
import { SharedEvents } from '../shared/shared-events.js';

export const { ConnectionType: ItemConnection } = connectionTypes(Item, 'Item', 'catalog items');

@Resolver(() => Item)
export class ItemResolver {
  @Authorized('items:read')
  @Query(() => ItemConnection, { description: 'The catalog, filtered and sorted (newest first by default).' })
  items(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('filter', () => ItemFilter, { nullable: true, description: 'Only items matching every given filter.' })
    filter: ItemFilter | null,
    @Arg('orderBy', () => ItemOrder, { nullable: true, description: 'Sort order; CREATED_AT DESC when absent.' })
    orderBy: ItemOrder | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.items.list(args, filter, orderBy);
  }

  @Authorized('items:write')
  @Mutation(() => ItemPayload, { description: 'Adds an item to the catalog.' })
  createItem(@Arg('input', () => CreateItemInput, { description: 'The item to add.' }) input: CreateItemInput, @Ctx() ctx: Context) {
    return ctx.services.items.create(input, ctx.loaders.item);
  }

  @Authorized('items:write')
  @Mutation(() => ItemPayload, { description: 'Changes an item; absent fields stay as they are.' })
  updateItem(
    @Arg('input', () => UpdateItemInput, { description: 'The item and the fields to change.' }) input: UpdateItemInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.items.update(input, ctx.loaders.item);
  }

  @Authorized('items:write', 'items:delete')
  @Mutation(() => DeletePayload, { description: 'Removes an item from the catalog.' })
  deleteItem(@Arg('id', () => ID, { description: 'The item to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.items.delete(id, ctx.loaders.item);
  }

  @SharedEvents()
  @Authorized('items:read')
  @Subscription(() => Item, {
    topics: Topic.ItemChanged,
    description: 'Every item created, changed or deleted, after the change is committed.',
  })
  itemChanged(@Root() event: ItemEvent): Item {
    return Item.fromEvent(event.item);
  }
}
