import { byIdLoader } from '../shared/loaders.js';
import type { FileRepo } from './file.repo.js';

/** The file domain's per-request loaders, each built on first use. */
export const fileLoaders = (repo: FileRepo) => ({
  file: () => byIdLoader((ids) => repo.findFilesByIds(ids)),
});
