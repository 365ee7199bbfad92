import { Arg, Args, Authorized, Ctx, Extensions, FieldResolver, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { REPLAY_PAGE_SIZE } from '../../realtime/ordered.js';
import { REPLAY_PAGE_EXTENSION } from '../shared/stream-cursor.js';
import type { Context } from '../context.js';
import type { OrderEvent } from '../../pubsub/topics.js';
import type { RealtimeContext } from '../../realtime/connections.js';
import { Item } from '../item/item.type.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { User } from '../user/user.type.js';
import { PlaceOrderInput, UpdateOrderStatusInput } from './order.input.js';
import { Order, OrderPayload } from './order.type.js';

export const { ConnectionType: OrderConnection } = connectionTypes(Order, 'Order', 'orders');

@Resolver(() => Order)
export class OrderResolver {
  @Authorized()
  @Query(() => OrderConnection, {
    description: "The viewer's own orders, or everyone's for holders of `orders:read`; newest first.",
  })
  orders(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    return ctx.services.orders.list(ctx, args);
  }

  @Authorized('orders:write')
  @Mutation(() => OrderPayload, {
    description:
      'Orders units of an item for the viewer: the total is computed from the price, the quantity and the discount code, and the stock is taken in the same transaction.',
  })
  placeOrder(@Arg('input', () => PlaceOrderInput, { description: 'The order.' }) input: PlaceOrderInput, @Ctx() ctx: Context) {
    return ctx.services.orders.place(ctx, input);
  }

  @Authorized('orders:write')
  @Mutation(() => OrderPayload, {
    description:
      'Moves an order PENDING → PAID → SHIPPED, or cancels it from PENDING or PAID (its units return to stock). The owner may cancel their own pending order; every other move needs `orders:read` and `orders:write`.',
  })
  updateOrderStatus(
    @Arg('input', () => UpdateOrderStatusInput, { description: 'The order and its new status.' }) input: UpdateOrderStatusInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.orders.updateStatus(ctx, input);
  }

  @Authorized('orders:read')
  @Extensions({ [REPLAY_PAGE_EXTENSION]: REPLAY_PAGE_SIZE })
  @Subscription(() => Order, {
    description:
      'Every order placed, once its transaction committed, in the order they were stored (for dashboards; needs ' +
      "`orders:read`); with `after` (an order's `streamCursor`), those placed after it are replayed first.",
    subscribe: ({ args, context }) => {
      const ctx = context as Context & RealtimeContext;
      return ctx.services.orders.placedStream(args.after as string | null | undefined, ctx.connection);
    },
  })
  orderPlaced(
    @Root() event: OrderEvent,
    @Arg('after', () => String, {
      nullable: true,
      description:
        "Resume after this order's `streamCursor`. CURSOR_EXPIRED when older than the retention; BAD_USER_INPUT when " +
        'it is not a cursor of this stream.',
    })
    _after: string | null,
  ): Order {
    return Order.fromEvent(event.order);
  }

  @FieldResolver(() => Item, { description: 'The item ordered.' })
  async item(@Root() order: Order, @Ctx() ctx: Context): Promise<Item> {
    const row = await ctx.loaders.item.load(order.itemId);
    // The foreign key restricts deleting an ordered item; a missing row is a broken invariant.
    if (!row) throw new Error(`item ${order.itemId} not found`);
    return Item.fromRow(row);
  }

  @FieldResolver(() => User, { description: 'Who placed the order.' })
  async placedBy(@Root() order: Order, @Ctx() ctx: Context): Promise<User> {
    const row = await ctx.loaders.user.load(order.placedById);
    if (!row) throw new Error(`user ${order.placedById} not found`);
    return User.fromRow(row);
  }
}
