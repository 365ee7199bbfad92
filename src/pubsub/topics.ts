/**
 * Typed pub/sub topics. Payloads are small and JSON-safe (ISO dates, ids), because with REDIS_URL they cross
 * processes as JSON. Each subscriber's own context decides what it may see.
 */
export enum Topic {
  ItemChanged = 'ITEM_CHANGED',
  OrderPlaced = 'ORDER_PLACED',
  PostPublished = 'POST_PUBLISHED',
  /** Routed by job id. */
  JobUpdated = 'JOB_UPDATED',
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

/** An order as it travels through pub/sub, published once its transaction committed. */
export interface OrderEvent {
  order: {
    id: string;
    itemId: string;
    placedBy: string;
    quantity: number;
    unitPriceCents: number;
    discountCode: string | null;
    discountPercent: number;
    totalCents: number;
    status: string;
    createdAt: string;
    updatedAt: string;
  };
}

/** A post as it travels through pub/sub, published once it committed. */
export interface PostEvent {
  post: { id: string; authorId: string; title: string; body: string; createdAt: string; updatedAt: string };
}

/** A job's state as it travels through pub/sub. `revision` grows with every change, so older events can be dropped. */
export interface JobEvent {
  id: string;
  kind: string;
  status: string;
  progress: number;
  result: unknown;
  error: string | null;
  ownerId: string | null;
  attempts: number;
  revision: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export type Topics = {
  [Topic.ItemChanged]: [ItemEvent];
  [Topic.OrderPlaced]: [OrderEvent];
  [Topic.PostPublished]: [PostEvent];
  [Topic.JobUpdated]: [jobId: string, job: JobEvent];
};
