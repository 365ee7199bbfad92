import { byIdLoader } from '../shared/loaders.js';
import type { ItemRepo } from './item.repo.js';

/** The item domain's per-request loaders, each built on first use. */
export const itemLoaders = (repo: ItemRepo) => ({
  item: () => byIdLoader((ids) => repo.findByIds(ids)),
});
