/**
 * Typed pub/sub topics. Payloads are small and JSON-safe (ISO dates, ids), because with REDIS_URL they cross
 * processes as JSON. Each subscriber's own context decides what it may see.
 */
export enum Topic {
  ItemChanged = 'ITEM_CHANGED',
}

export type ChangeKind = 'CREATED' | 'UPDATED' | 'DELETED';

/** An item as it travels through pub/sub. */
export interface ItemEvent {
  change: ChangeKind;
  item: {
    id: string;
    sku: string;
    name: string;
    description: string | null;
    priceCents: number;
    category: string;
    tags: string[];
    stock: number;
    createdAt: string;
    updatedAt: string;
  };
}

export type Topics = {
  [Topic.ItemChanged]: [ItemEvent];
};
