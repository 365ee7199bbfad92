import DataLoader from 'dataloader';
import type { FileRow } from '../../db/tables.js';
import { byIdLoader } from '../shared/loaders.js';
import type { AttachmentTarget, FileRepo } from './file.repo.js';

/** The files attached to each object of one kind, in one `WHERE attached_id IN (…)` per request. */
function attachedLoader(repo: FileRepo, type: AttachmentTarget): DataLoader<string, FileRow[]> {
  return new DataLoader(async (ids) => {
    const byParent = new Map<string, FileRow[]>();
    for (const row of await repo.attachedTo(type, ids)) {
      const list = byParent.get(row.attachedId!) ?? [];
      list.push(row);
      byParent.set(row.attachedId!, list);
    }
    return ids.map((id) => byParent.get(id) ?? []);
  });
}

/** The file domain's per-request loaders, each built on first use. */
export const fileLoaders = (repo: FileRepo) => ({
  file: () => byIdLoader((ids) => repo.findFilesByIds(ids)),
  itemImages: () => attachedLoader(repo, 'Item'),
  taskAttachments: () => attachedLoader(repo, 'Task'),
  postAttachments: () => attachedLoader(repo, 'Post'),
  userAvatar: () => attachedLoader(repo, 'User'),
});
