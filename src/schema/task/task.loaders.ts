import { byIdLoader } from '../shared/loaders.js';
import type { TaskRepo } from './task.repo.js';

/** The task domain's per-request loaders, each built on first use. */
export const taskLoaders = (repo: TaskRepo) => ({
  task: () => byIdLoader((ids) => repo.findByIds(ids)),
});
