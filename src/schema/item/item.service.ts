import type { PubSub } from '../../pubsub/pubsub.js';
import type DataLoader from 'dataloader';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import type { ItemRow } from '../../db/tables.js';
import { Topic, type ChangeKind, type Topics } from '../../pubsub/topics.js';
import { pageRequest, SortDirection, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { parseGlobalId } from '../shared/global-id.js';
import { primeRow } from '../shared/loaders.js';
import type { DeletePayload } from '../shared/payloads.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import { checkLength, normalizeTags } from '../shared/validation.js';
import type { CreateItemInput, ItemFilter, ItemOrder, UpdateItemInput } from './item.input.js';
import { ItemOrderField } from './item.input.js';
import { itemSort, type ItemChanges, type ItemRepo, type ItemSortField } from './item.repo.js';
import { DESCRIPTION_MAX, Item, MAX_PRICE, NAME_MAX, type ItemPayload } from './item.type.js';

export const SKU_PATTERN = /^[A-Z]{2}\d{4}$/;

/** The request's item loader: a mutation primes it with the row it wrote (shared/loaders.ts `primeRow`). */
type ItemLoader = DataLoader<string, ItemRow | null>;

const SORT_FIELDS: Record<ItemOrderField, ItemSortField> = {
  [ItemOrderField.CREATED_AT]: 'createdAt',
  [ItemOrderField.NAME]: 'name',
  [ItemOrderField.PRICE]: 'priceCents',
};

function toCents(price: number): number {
  return Math.round(price * 100);
}

export interface ItemServiceDeps {
  repo: ItemRepo;
  pubsub: PubSub<Topics>;
}

/** The catalog's rules: validation, uniqueness, and change events after commit. */
export class ItemService {
  constructor(private readonly deps: ItemServiceDeps) {}

  async list(args: ConnectionArgs, filter: ItemFilter | null | undefined, orderBy: ItemOrder | null | undefined) {
    const sort = itemSort(
      SORT_FIELDS[orderBy?.field ?? ItemOrderField.CREATED_AT],
      orderBy?.direction ?? (orderBy ? SortDirection.ASC : SortDirection.DESC),
    );
    const page = pageRequest(args, sort.kind);
    const query = {
      search: filter?.search?.trim() || null,
      categories: filter?.categories ?? null,
      minPriceCents: filter?.minPrice != null ? Math.ceil(filter.minPrice * 100 - 1e-9) : null,
      maxPriceCents: filter?.maxPrice != null ? Math.floor(filter.maxPrice * 100 + 1e-9) : null,
      inStock: filter?.inStock ?? null,
    };
    const rows = await this.deps.repo.page(query, sort, page);
    return toConnection(rows, page, sort, Item.fromRow, () => this.deps.repo.count(query)) satisfies Connection<Item>;
  }

  async create(input: CreateItemInput, loader?: ItemLoader): Promise<ItemPayload> {
    const errors = new UserErrors();
    const sku = input.sku.trim();
    if (!SKU_PATTERN.test(sku)) errors.add(['input', 'sku'], 'SKU must be 2 uppercase letters followed by 4 digits');
    const name = checkLength(input.name, errors, ['input', 'name'], 'Name', 1, NAME_MAX);
    const description = this.description(input.description, errors);
    const priceCents = this.price(input.price, errors);
    const tags = normalizeTags(input.tags ?? [], errors, ['input', 'tags']);
    const stock = this.stock(input.stock ?? 0, errors);
    if (errors.any) return { item: null, userErrors: errors.list };

    try {
      const row = await this.deps.repo.insert({ sku, name, description, priceCents, category: input.category, tags, stock });
      primeRow(loader, row.id, row);
      return this.changed('CREATED', row);
    } catch (error) {
      if (isUniqueViolation(error, 'items_sku_unique')) {
        return { item: null, userErrors: errors.add(['input', 'sku'], 'SKU already exists', UserErrorCode.TAKEN).list };
      }
      throw error;
    }
  }

  async update(input: UpdateItemInput, loader?: ItemLoader): Promise<ItemPayload> {
    const errors = new UserErrors();
    const id = parseGlobalId(input.id, 'Item');
    if (!id) return { item: null, userErrors: errors.add(['input', 'id'], 'Item not found', UserErrorCode.NOT_FOUND).list };
    const changes: ItemChanges = {};
    // An absent field or an explicit null leaves a required field as it is; description accepts null to clear it.
    if (input.name != null) changes.name = checkLength(input.name, errors, ['input', 'name'], 'Name', 1, NAME_MAX);
    if (input.description !== undefined) changes.description = this.description(input.description, errors);
    if (input.price != null) changes.priceCents = this.price(input.price, errors);
    if (input.category != null) changes.category = input.category;
    if (input.tags != null) changes.tags = normalizeTags(input.tags, errors, ['input', 'tags']);
    if (input.stock != null) changes.stock = this.stock(input.stock, errors);
    if (errors.any) return { item: null, userErrors: errors.list };

    const row = await this.deps.repo.update(id, changes);
    if (!row) return { item: null, userErrors: errors.add(['input', 'id'], 'Item not found', UserErrorCode.NOT_FOUND).list };
    primeRow(loader, row.id, row);
    return this.changed('UPDATED', row);
  }

  async delete(globalId: string, loader?: ItemLoader): Promise<DeletePayload> {
    const id = parseGlobalId(globalId, 'Item');
    let row: ItemRow | null;
    try {
      row = id ? await this.deps.repo.delete(id) : null;
    } catch (error) {
      // Orders keep their item (Order.item is non-null): an ordered item stays in the catalog.
      if (isForeignKeyViolation(error)) {
        return { deletedId: null, userErrors: [userError(['id'], 'Item has orders and cannot be deleted', UserErrorCode.INVALID)] };
      }
      throw error;
    }
    if (!row) {
      return { deletedId: null, userErrors: [userError(['id'], 'Item not found', UserErrorCode.NOT_FOUND)] };
    }
    primeRow(loader, row.id, null);
    this.changed('DELETED', row);
    return { deletedId: globalId, userErrors: [] };
  }

  /** Called after the change committed: subscribers never see a change that could still roll back. */
  private changed(change: ChangeKind, row: ItemRow): ItemPayload {
    this.deps.pubsub.publish(Topic.ItemChanged, {
      change,
      item: { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() },
    });
    return { item: Item.fromRow(row), userErrors: [] };
  }

  private description(value: string | null | undefined, errors: UserErrors): string | null {
    if (value == null) return null;
    const trimmed = value.trim();
    if ([...trimmed].length > DESCRIPTION_MAX) {
      errors.add(['input', 'description'], `Description must be at most ${DESCRIPTION_MAX} characters`);
    }
    return trimmed === '' ? null : trimmed;
  }

  private price(price: number, errors: UserErrors): number {
    const cents = toCents(price);
    if (!(price > 0) || cents < 1) errors.add(['input', 'price'], 'Price must be greater than 0');
    else if (price > MAX_PRICE) errors.add(['input', 'price'], `Price must be at most ${MAX_PRICE}`);
    return cents;
  }

  private stock(stock: number, errors: UserErrors): number {
    if (stock < 0) errors.add(['input', 'stock'], 'Stock must not be negative');
    return stock;
  }
}
