import type { PubSub } from '../../pubsub/pubsub.js';
import type { Authentication } from '../../auth/identity.js';
import type { Database } from '../../db/client.js';
import type { ItemRow, OrderRow } from '../../db/tables.js';
import { Topic, type OrderEvent, type Topics } from '../../pubsub/topics.js';
import type { ConnectionHandle } from '../../realtime/connections.js';
import { orderedStream, REPLAY_PAGE_SIZE, type Positioned } from '../../realtime/ordered.js';
import { bounded } from '../../realtime/queue.js';
import { encodeStreamCursor, resumePosition, type ReplayLimits } from '../shared/stream-cursor.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { parseGlobalId } from '../shared/global-id.js';
import { UserErrorCode, UserErrors } from '../shared/user-error.js';
import { DISCOUNT_CODE_PATTERN, type DiscountCodes } from '../../config.js';
import { MAX_QUANTITY, type PlaceOrderInput, type UpdateOrderStatusInput } from './order.input.js';
import { ORDER_STREAM, orderSort, type OrderRepo } from './order.repo.js';
import { enqueueNotification, type JobQueue } from '../../jobs/side-effects.js';
import { Order, OrderStatus, type OrderPayload } from './order.type.js';

/** Staff scope: read everyone's orders; with orders:write, move any order through its statuses. */
export const READ_ALL_ORDERS = 'orders:read';

/** The legal status moves. Cancelling returns the units to stock. */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  [OrderStatus.PENDING]: [OrderStatus.PAID, OrderStatus.CANCELLED],
  [OrderStatus.PAID]: [OrderStatus.SHIPPED, OrderStatus.CANCELLED],
  [OrderStatus.SHIPPED]: [],
  [OrderStatus.CANCELLED]: [],
};

/** Total in cents: unit price × quantity less the discount, rounded half up to the cent. Integer arithmetic only. */
export function orderTotalCents(unitPriceCents: number, quantity: number, discountPercent: number): number {
  return Math.round((unitPriceCents * quantity * (100 - discountPercent)) / 100);
}

function isStaff(auth: Authentication): boolean {
  return auth.scopes.has(READ_ALL_ORDERS) && auth.scopes.has('orders:write');
}

export interface OrderServiceDeps {
  db: Database;
  repo: OrderRepo;
  pubsub: PubSub<Topics>;
  discountCodes: DiscountCodes;
  jobs: JobQueue;
  /** Undelivered events one subscription may hold before its connection is dropped. */
  queueLimit: number;
  /** How far back a resuming subscription may start. */
  replay: ReplayLimits;
}

function toEvent(row: OrderRow, prev: number): OrderEvent {
  return { order: { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() }, prev };
}

/** Orders: server-computed totals, discount codes, stock that never goes below zero, status moves. */
export class OrderService {
  constructor(private readonly deps: OrderServiceDeps) {}

  /** The viewer's own orders, or everyone's for holders of orders:read; newest first. */
  /** Everyone sees their own orders; holders of orders:read see all. Anything else is "not found" to the viewer. */
  visible(auth: Authentication, row: Pick<OrderRow, 'placedBy'>): boolean {
    return auth.viewer !== null && (row.placedBy === auth.viewer.id || auth.scopes.has(READ_ALL_ORDERS));
  }

  async list(auth: Authentication, args: ConnectionArgs): Promise<Connection<Order>> {
    const placedBy = auth.scopes.has(READ_ALL_ORDERS) ? null : auth.viewer!.id;
    const page = pageRequest(args, orderSort.kind);
    const rows = await this.deps.repo.page(placedBy, page);
    return toConnection(rows, page, orderSort, Order.fromRow, () => this.deps.repo.count(placedBy));
  }

  async place(auth: Authentication, input: PlaceOrderInput): Promise<OrderPayload> {
    const errors = new UserErrors();
    const itemId = parseGlobalId(input.itemId, 'Item');
    if (!itemId) errors.add(['input', 'itemId'], 'Item not found', UserErrorCode.NOT_FOUND);
    if (!(input.quantity > 0)) errors.add(['input', 'quantity'], 'Quantity must be greater than 0');
    else if (input.quantity > MAX_QUANTITY) errors.add(['input', 'quantity'], `Quantity must be at most ${MAX_QUANTITY}`);
    let discountPercent = 0;
    const discountCode = input.discountCode ?? null;
    if (discountCode !== null) {
      const percent = this.deps.discountCodes.get(discountCode);
      if (!DISCOUNT_CODE_PATTERN.test(discountCode)) errors.add(['input', 'discountCode'], 'Invalid discount code format');
      else if (percent === undefined) errors.add(['input', 'discountCode'], 'Invalid discount code');
      else discountPercent = percent;
    }
    if (errors.any) return { order: null, userErrors: errors.list };

    const placedBy = auth.viewer!.id;
    // The stock decrement and the insert commit together or not at all; the decrement is conditional (see
    // OrderRepo.takeStock), so concurrent orders can never take more units than there are.
    const result = await this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      const item = await repo.takeStock(itemId!, input.quantity);
      if (!item) return { error: (await repo.itemExists(itemId!)) ? ('stock' as const) : ('item' as const) };
      const { row: order, prev } = await repo.insert({
        itemId: item.id,
        placedBy,
        quantity: input.quantity,
        unitPriceCents: item.priceCents,
        discountCode,
        discountPercent,
        totalCents: orderTotalCents(item.priceCents, input.quantity, discountPercent),
      });
      return { order, prev, item };
    });
    if ('error' in result) {
      if (result.error === 'item') errors.add(['input', 'itemId'], 'Item not found', UserErrorCode.NOT_FOUND);
      else errors.add(['input', 'quantity'], 'Not enough stock', UserErrorCode.LIMIT_EXCEEDED);
      return { order: null, userErrors: errors.list };
    }
    // After commit: subscribers never hear of an order that could still roll back.
    this.deps.pubsub.publish(Topic.OrderPlaced, toEvent(result.order, result.prev));
    this.publishStock(result.item);
    return { order: Order.fromRow(result.order), userErrors: [] };
  }

  /**
   * Moves an order to another status. The owner may cancel their own PENDING order; holders of orders:read and
   * orders:write make every legal move. Runs in one transaction with the order row locked, so two moves of one
   * order are serialized, and a cancellation's stock return commits with it; side effects of a status change (a
   * notification to the customer) belong inside it too.
   */
  async updateStatus(auth: Authentication, input: UpdateOrderStatusInput): Promise<OrderPayload> {
    const errors = new UserErrors();
    const id = parseGlobalId(input.id, 'Order');
    if (!id) return { order: null, userErrors: errors.add(['input', 'id'], 'Order not found', UserErrorCode.NOT_FOUND).list };
    const target = input.status;
    const result = await this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      const order = await repo.findForUpdate(id);
      if (!order || !this.visible(auth, order)) {
        errors.add(['input', 'id'], 'Order not found', UserErrorCode.NOT_FOUND);
        return null;
      }
      const from = order.status as OrderStatus;
      if (!TRANSITIONS[from].includes(target)) {
        errors.add(['input', 'status'], `Cannot change an order from ${from} to ${target}`);
        return null;
      }
      const ownCancel = order.placedBy === auth.viewer!.id && from === OrderStatus.PENDING && target === OrderStatus.CANCELLED;
      if (!ownCancel && !isStaff(auth)) {
        errors.add(
          ['input', 'status'],
          'Only staff can make this status change; you can cancel your own pending orders',
          UserErrorCode.FORBIDDEN,
        );
        return null;
      }
      const updated = await repo.setStatus(order.id, target);
      // The customer hears of a change someone else made, through the queue, in this transaction.
      if (order.placedBy !== auth.viewer!.id) {
        await enqueueNotification(this.deps.jobs, tx, [order.placedBy], {
          kind: target === OrderStatus.CANCELLED ? 'WARNING' : 'INFO',
          title: `Your order is ${target.toLowerCase()}`,
          body: `Your order of ${order.quantity} unit(s) moved from ${from} to ${target}.`,
        });
      }
      const item = target === OrderStatus.CANCELLED ? await repo.returnStock(order.itemId, order.quantity) : null;
      return { updated, item };
    });
    if (!result) return { order: null, userErrors: errors.list };
    if (result.item) this.publishStock(result.item);
    return { order: Order.fromRow(result.updated), userErrors: [] };
  }

  /**
   * `orderPlaced`: every order placed from now (or, with `after`, from that cursor: the stored ones first), in `seq`
   * order (src/realtime/ordered.ts). The resolver requires orders:read.
   */
  async placedStream(after?: string | null, connection?: ConnectionHandle): Promise<AsyncIterableIterator<Positioned<OrderEvent>>> {
    const { repo } = this.deps;
    const from = await resumePosition(after ?? connection?.lastEventId, ORDER_STREAM, repo.streamStore(), this.deps.replay);
    const live = bounded(this.deps.pubsub.subscribe(Topic.OrderPlaced), this.deps.queueLimit, connection);
    return orderedStream(live, {
      positionOf: (event) => ({ seq: event.order.seq, prev: event.prev }),
      start: async () => from ?? (await repo.streamHead()),
      replay: from !== null,
      load: async (afterSeq, before, limit) => (await repo.streamPage(afterSeq, before, limit)).map((row) => toEvent(row, 0)),
      pageSize: REPLAY_PAGE_SIZE,
      onDeliver: (position) => connection?.delivered?.(encodeStreamCursor(ORDER_STREAM, position)),
    });
  }

  /** The item's stock changed: catalog subscribers hear of it like of any other item change. */
  private publishStock(row: ItemRow): void {
    this.deps.pubsub.publish(Topic.ItemChanged, {
      change: 'UPDATED',
      item: { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() },
    });
  }
}
