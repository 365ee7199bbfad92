import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { OrderRow } from '../../db/tables.js';
import type { OrderEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { encodeStreamCursor } from '../shared/stream-cursor.js';
import { ORDER_STREAM } from './order.repo.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';

export enum OrderStatus {
  PENDING = 'PENDING',
  PAID = 'PAID',
  SHIPPED = 'SHIPPED',
  CANCELLED = 'CANCELLED',
}

registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description: 'Where an order is: PENDING → PAID → SHIPPED, or CANCELLED from PENDING or PAID.',
  valuesConfig: {
    PENDING: { description: 'Placed, stock reserved, not paid yet.' },
    PAID: { description: 'Paid, waiting to be shipped.' },
    SHIPPED: { description: 'Shipped; final.' },
    CANCELLED: { description: 'Cancelled; its units went back to stock. Final.' },
  },
});

@ObjectType({ implements: Node, description: 'An order of a catalog item.' })
export class Order implements Node {
  readonly __typename = 'Order';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders and services. */
  rowId!: string;

  itemId!: string;
  placedById!: string;

  @Field(() => Int, { description: 'Units ordered, at least 1.' })
  quantity!: number;

  @Field(() => Float, { description: 'Unit price when the order was placed.' })
  unitPrice!: number;

  @Field(() => String, { nullable: true, description: 'The discount code applied, if any.' })
  discountCode!: string | null;

  @Field(() => Int, { description: 'Percent taken off by the discount code; 0 without one.' })
  discountPercent!: number;

  @Field(() => Float, {
    description: 'Amount due, computed by the server: unit price × quantity less the discount, rounded to the cent.',
  })
  total!: number;

  @Field(() => OrderStatus, { description: 'Where the order is.' })
  status!: OrderStatus;

  @Field(() => DateTimeScalar, { description: 'When the order was placed.' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When the order last changed status.' })
  updatedAt!: Date;

  @Field(() => String, {
    description: 'Opaque resume point in the stream of orders placed: `orderPlaced(after:)` delivers the orders placed after this one.',
  })
  streamCursor!: string;

  static fromRow(row: OrderRow): Order {
    return Object.assign(new Order(), {
      id: toGlobalId('Order', row.id),
      rowId: row.id,
      itemId: row.itemId,
      placedById: row.placedBy,
      quantity: row.quantity,
      unitPrice: row.unitPriceCents / 100,
      discountCode: row.discountCode,
      discountPercent: row.discountPercent,
      total: row.totalCents / 100,
      status: row.status as OrderStatus,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      streamCursor: encodeStreamCursor(ORDER_STREAM, row.seq),
    });
  }

  static fromEvent(event: OrderEvent['order']): Order {
    return Order.fromRow({
      ...event,
      status: event.status as OrderRow['status'],
      createdAt: new Date(event.createdAt),
      updatedAt: new Date(event.updatedAt),
    });
  }
}

@ObjectType({ description: 'Result of placing an order or changing its status.' })
export class OrderPayload {
  @Field(() => Order, { nullable: true, description: 'The order as stored; null when the mutation failed.' })
  order!: Order | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
