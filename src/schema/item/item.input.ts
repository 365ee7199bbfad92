import { Field, Float, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { SortDirection } from '../shared/connection.js';
import { Bounded, FILTER_LIST_MAX, FILTER_TEXT_MAX, MAX_TAGS, type InputOf } from '../shared/validation.js';
import { Category, DESCRIPTION_MAX, MAX_PRICE, NAME_MAX, type Item } from './item.type.js';

/** The highest price a filter may name: in cents it still fits the 32-bit `price_cents` column (21,474,836.47). */
export const FILTER_PRICE_MAX = (2 ** 31 - 1) / 100;

export enum ItemOrderField {
  CREATED_AT = 'CREATED_AT',
  NAME = 'NAME',
  PRICE = 'PRICE',
}

registerEnumType(ItemOrderField, {
  name: 'ItemOrderField',
  description: 'Fields the catalog can be sorted by.',
  valuesConfig: {
    CREATED_AT: { description: 'Creation time.' },
    NAME: { description: 'Name.' },
    PRICE: { description: 'Unit price.' },
  },
});

@InputType({ description: 'Filters for the catalog; all given filters must match.' })
export class ItemFilter {
  @Bounded({ maxLength: FILTER_TEXT_MAX })
  @Field(() => String, {
    nullable: true,
    description: `Part of the name, matched case-insensitively; at most ${FILTER_TEXT_MAX} characters.`,
  })
  search?: string | null;

  @Bounded({ maxItems: FILTER_LIST_MAX })
  @Field(() => [Category], { nullable: true, description: `Any of these categories (at most ${FILTER_LIST_MAX}).` })
  categories?: Category[] | null;

  @Bounded({ min: 0, max: FILTER_PRICE_MAX })
  @Field(() => Float, { nullable: true, description: `Lowest price, inclusive; 0 to ${FILTER_PRICE_MAX}.` })
  minPrice?: number | null;

  @Bounded({ min: 0, max: FILTER_PRICE_MAX })
  @Field(() => Float, { nullable: true, description: `Highest price, inclusive; 0 to ${FILTER_PRICE_MAX}.` })
  maxPrice?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'True: only items in stock; false: only items out of stock.' })
  inStock?: boolean | null;
}

@InputType({ description: 'Sort order of the catalog.' })
export class ItemOrder {
  @Field(() => ItemOrderField, { description: 'The field to sort by; ties are broken by id.' })
  field!: ItemOrderField;

  @Field(() => SortDirection, { description: 'The direction.' })
  direction!: SortDirection;
}

@InputType({ description: 'A new catalog item.' })
export class CreateItemInput implements InputOf<Item> {
  @Field(() => String, { description: 'Two upper-case letters and four digits, unique, e.g. AB1234.' })
  sku!: string;

  @Field(() => String, { description: `Display name, 1 to ${NAME_MAX} characters.` })
  name!: string;

  @Field(() => String, { nullable: true, description: `At most ${DESCRIPTION_MAX} characters.` })
  description?: string | null;

  @Field(() => Float, { description: `Greater than 0 and at most ${MAX_PRICE}; rounded to the cent.` })
  price!: number;

  @Field(() => Category, { description: 'Department of the catalog.' })
  category!: Category;

  @Field(() => [String], { nullable: true, description: `At most ${MAX_TAGS}; trimmed, lower-cased, de-duplicated, empties dropped.` })
  tags?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Units in stock, 0 or more; 0 when absent.' })
  stock?: number | null;
}

@InputType({ description: 'Changes to a catalog item; absent fields stay as they are.' })
export class UpdateItemInput implements InputOf<Item> {
  @Field(() => ID, { description: 'The item to change.' })
  id!: string;

  @Field(() => String, { nullable: true, description: `Display name, 1 to ${NAME_MAX} characters.` })
  name?: string | null;

  @Field(() => String, { nullable: true, description: `At most ${DESCRIPTION_MAX} characters; null clears it.` })
  description?: string | null;

  @Field(() => Float, { nullable: true, description: `Greater than 0 and at most ${MAX_PRICE}; rounded to the cent.` })
  price?: number | null;

  @Field(() => Category, { nullable: true, description: 'Department of the catalog.' })
  category?: Category | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the tags; same rules as on creation.' })
  tags?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Units in stock, 0 or more.' })
  stock?: number | null;
}
