import DataLoader from 'dataloader';
import type { MessageRow, RoomRow } from '../../db/tables.js';
import type { ChatRepo } from './chat.repo.js';

export function roomLoader(repo: ChatRepo): DataLoader<string, RoomRow | null> {
  return new DataLoader(async (ids) => {
    const byId = new Map((await repo.findRoomsByIds(ids)).map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

export function messageLoader(repo: ChatRepo): DataLoader<string, MessageRow | null> {
  return new DataLoader(async (ids) => {
    const byId = new Map((await repo.findMessagesByIds(ids)).map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Is user U a member of room R: one query for every check of a request (or of one subscription event). */
export function membershipLoader(repo: ChatRepo): DataLoader<{ roomId: string; userId: string }, boolean, string> {
  return new DataLoader(
    async (keys) => {
      const found = await repo.memberships(keys);
      return keys.map((key) => found.has(`${key.roomId}:${key.userId}`));
    },
    { cacheKeyFn: (key) => `${key.roomId}:${key.userId}` },
  );
}
