import type { CommentRow, PostRow } from '../../db/tables.js';
import { byIdLoader } from '../shared/loaders.js';
import { countLoader, nestedPageLoader } from './nested.js';
import type { PostRepo, WithAuthor } from './post.repo.js';

/** The post domain's per-request loaders: by id, nested pages per parent, and grouped counts. */
export const postLoaders = (repo: PostRepo) => ({
  posts: () => ({
    post: byIdLoader<PostRow>((ids) => repo.findByIds(ids)),
    comment: byIdLoader<CommentRow>((ids) => repo.findCommentsByIds(ids)),
    commentsByPost: nestedPageLoader<WithAuthor<CommentRow>>((ids, page) => repo.commentsByPosts(ids, page)),
    commentCount: countLoader((ids) => repo.countCommentsByPosts(ids)),
    postsByAuthor: nestedPageLoader<PostRow>((ids, page) => repo.pageByAuthors(ids, page)),
    postCount: countLoader((ids) => repo.countByAuthors(ids)),
  }),
});
