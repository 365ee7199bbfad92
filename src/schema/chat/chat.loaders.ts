import DataLoader from 'dataloader';
import { byIdLoader } from '../shared/loaders.js';
import type { ChatRepo } from './chat.repo.js';

/** The chat domain's per-request loaders, each built on first use. */
export const chatLoaders = (repo: ChatRepo) => ({
  room: () => byIdLoader((ids) => repo.findRoomsByIds(ids)),
  message: () => byIdLoader((ids) => repo.findMessagesByIds(ids)),
  /** Is user U a member of room R: one query for every check of a request (or of one subscription event). */
  membership: () =>
    new DataLoader<{ roomId: string; userId: string }, boolean, string>(
      async (keys) => {
        const found = await repo.memberships(keys);
        return keys.map((key) => found.has(`${key.roomId}:${key.userId}`));
      },
      { cacheKeyFn: (key) => `${key.roomId}:${key.userId}` },
    ),
});
