import DataLoader from 'dataloader';
import type { CommentRow, PostRow } from '../../db/tables.js';
import { countLoader, nestedPageLoader } from './nested.js';
import type { PostRepo } from './post.repo.js';

function byIdLoader<Row extends { id: string }>(fetch: (ids: readonly string[]) => Promise<Row[]>) {
  return new DataLoader<string, Row | null>(async (ids) => {
    const rows = await fetch(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** The post domain's per-request loaders: by id, nested pages per parent, and grouped counts. */
export function postLoaders(repo: PostRepo) {
  return {
    post: byIdLoader<PostRow>((ids) => repo.findByIds(ids)),
    comment: byIdLoader<CommentRow>((ids) => repo.findCommentsByIds(ids)),
    commentsByPost: nestedPageLoader<CommentRow>((ids, page) => repo.commentsByPosts(ids, page)),
    commentCount: countLoader((ids) => repo.countCommentsByPosts(ids)),
    postsByAuthor: nestedPageLoader<PostRow>((ids, page) => repo.pageByAuthors(ids, page)),
    postCount: countLoader((ids) => repo.countByAuthors(ids)),
  };
}
