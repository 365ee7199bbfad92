import { byIdLoader } from '../shared/loaders.js';
import type { OrderRepo } from './order.repo.js';

/** The order domain's per-request loaders, each built on first use. */
export const orderLoaders = (repo: OrderRepo) => ({
  order: () => byIdLoader((ids) => repo.findByIds(ids)),
});
