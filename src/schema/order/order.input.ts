import { Field, ID, InputType, Int } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import { OrderStatus, type Order } from './order.type.js';

/** Units one order may take; the service checks it and the description states it. */
export const MAX_QUANTITY = 10_000;

@InputType({ description: 'An order to place. The total is computed by the server; a client never sends one.' })
export class PlaceOrderInput implements InputOf<Order> {
  @Field(() => ID, { description: 'The catalog item to order.' })
  itemId!: string;

  @Field(() => Int, { description: `Units to order: 1 to ${MAX_QUANTITY}, and no more than the item has in stock.` })
  quantity!: number;

  @Field(() => String, {
    nullable: true,
    description: 'A discount code: four or five upper-case letters and two digits, from the configured list (e.g. SAVE10).',
  })
  discountCode?: string | null;
}

@InputType({ description: 'A status change of an order.' })
export class UpdateOrderStatusInput implements InputOf<Order> {
  @Field(() => ID, { description: 'The order to change.' })
  id!: string;

  @Field(() => OrderStatus, {
    description: 'The new status: PENDING → PAID → SHIPPED, or CANCELLED from PENDING or PAID (returns the units to stock).',
  })
  status!: OrderStatus;
}
