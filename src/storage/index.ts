/** The storage backend FILE_STORAGE names. */
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { PostgresStorage } from './postgres.js';
import { S3Storage } from './s3.js';
import type { ObjectStorage } from './storage.js';

export function createStorage(config: Config['files'], db: Executor): ObjectStorage {
  // config.ts refuses FILE_STORAGE=s3 without S3_BUCKET.
  return config.storage === 's3' && config.s3 ? new S3Storage(config.s3) : new PostgresStorage(db);
}
