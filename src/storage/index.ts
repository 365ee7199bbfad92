/** The storage backend FILE_STORAGE names. */
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { PostgresStorage } from './postgres.js';
import type { ObjectStorage } from './storage.js';

export function createStorage(config: Config['files'], db: Executor): ObjectStorage {
  return new PostgresStorage(db);
}
