/** Pub/sub events as the services publish them, for tests that publish straight into the pub/sub. */
import type { ItemEvent } from '../../src/pubsub/topics.js';

/** An `itemChanged` event (UPDATED) of a made-up item: the fields given, plausible values for the rest. */
export function itemEvent(fields: Partial<ItemEvent['item']> = {}): ItemEvent {
  return {
    change: 'UPDATED',
    item: {
      id: '00000000-0000-4000-8000-000000000001',
      sku: 'EV0001',
      name: 'Event',
      description: null,
      priceCents: 100,
      category: 'HOME',
      tags: [],
      stock: 1,
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
      ...fields,
    },
  };
}
