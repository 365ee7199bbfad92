import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { ItemRow } from '../../db/tables.js';
import type { ItemEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';
import { MAX_TAGS } from '../shared/validation.js';

/** Field limits: the service checks them and the descriptions state them, so both read these. */
export const NAME_MAX = 200;
export const DESCRIPTION_MAX = 500;
export const MAX_PRICE = 10_000;

export enum Category {
  ELECTRONICS = 'ELECTRONICS',
  BOOKS = 'BOOKS',
  CLOTHING = 'CLOTHING',
  HOME = 'HOME',
}

registerEnumType(Category, {
  name: 'Category',
  description: 'Department of the catalog an item belongs to.',
  valuesConfig: {
    ELECTRONICS: { description: 'Devices, accessories and parts.' },
    BOOKS: { description: 'Printed and digital books.' },
    CLOTHING: { description: 'Apparel and shoes.' },
    HOME: { description: 'Furniture, kitchen and decoration.' },
  },
});

@ObjectType({ implements: Node, description: 'A product in the catalog.' })
export class Item implements Node {
  readonly __typename = 'Item';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders and services. */
  rowId!: string;

  @Field(() => String, { description: 'Stock-keeping unit: two upper-case letters and four digits, e.g. AB1234.' })
  sku!: string;

  @Field(() => String, { description: `Display name, 1 to ${NAME_MAX} characters.` })
  name!: string;

  @Field(() => String, { nullable: true, description: `Longer description, at most ${DESCRIPTION_MAX} characters.` })
  description!: string | null;

  @Field(() => Float, { description: `Unit price, greater than 0 and at most ${MAX_PRICE}, exact to the cent.` })
  price!: number;

  @Field(() => Category, { description: 'Department of the catalog.' })
  category!: Category;

  @Field(() => [String], { description: `Lower-case tags, at most ${MAX_TAGS}, without duplicates.` })
  tags!: string[];

  @Field(() => Int, { description: 'Units in stock, never negative.' })
  stock!: number;

  @Field(() => DateTimeScalar, { description: 'When the item was created.' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When the item was last changed.' })
  updatedAt!: Date;

  static fromRow(row: ItemRow): Item {
    return Object.assign(new Item(), {
      id: toGlobalId('Item', row.id),
      rowId: row.id,
      sku: row.sku,
      name: row.name,
      description: row.description,
      price: row.priceCents / 100,
      category: row.category as Category,
      tags: row.tags,
      stock: row.stock,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }

  static fromEvent(event: ItemEvent['item']): Item {
    return Item.fromRow({
      ...event,
      category: event.category as ItemRow['category'],
      createdAt: new Date(event.createdAt),
      updatedAt: new Date(event.updatedAt),
    });
  }
}

@ObjectType({ description: 'Result of creating or changing an item.' })
export class ItemPayload {
  @Field(() => Item, { nullable: true, description: 'The item as stored; null when the mutation failed.' })
  item!: Item | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
