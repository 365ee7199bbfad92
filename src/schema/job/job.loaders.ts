import type { JobRepo } from '../../jobs/job.repo.js';
import { byIdLoader } from '../shared/loaders.js';

/** The job domain's per-request loaders, each built on first use. */
export const jobLoaders = (repo: JobRepo) => ({
  job: () => byIdLoader((ids) => repo.findByIds(ids)),
});
