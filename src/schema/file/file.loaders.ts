import DataLoader from 'dataloader';
import type { FileRow } from '../../db/tables.js';
import { countLoader, nestedPageLoader } from '../post/nested.js';
import { byIdLoader } from '../shared/loaders.js';
import type { AttachmentTarget, FileRepo } from './file.repo.js';

/** The files attached to each object of one kind, in one `WHERE attached_id IN (…)` per request (the avatar). */
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

/**
 * One page of the files attached to each object of one kind: one window statement per distinct page arguments for
 * every parent of a request, and a grouped count only when a cursor-bound page asks for totalCount.
 */
function attachedPagesLoader(repo: FileRepo, type: AttachmentTarget) {
  return {
    pages: nestedPageLoader<FileRow>((ids, page) => repo.attachedPages(type, ids, page)),
    counts: countLoader((ids) => repo.countAttachedTo(type, ids)),
  };
}

/** The file domain's per-request loaders, each built on first use. */
export const fileLoaders = (repo: FileRepo) => ({
  file: () => byIdLoader((ids) => repo.findFilesByIds(ids)),
  itemImages: () => attachedPagesLoader(repo, 'Item'),
  taskAttachments: () => attachedPagesLoader(repo, 'Task'),
  postAttachments: () => attachedPagesLoader(repo, 'Post'),
  userAvatar: () => attachedLoader(repo, 'User'),
});
