import { byIdLoader } from '../shared/loaders.js';
import type { UserRepo } from './user.repo.js';

/** The user domain's per-request loaders, each built on first use. */
export const userLoaders = (repo: UserRepo) => ({
  user: () => byIdLoader((ids) => repo.findByIds(ids)),
});
