import type { DomainModule } from '../shared/domain.js';
import { CommentResolver, PostResolver, UserPostsResolver } from './post.resolver.js';
import { Comment, Post } from './post.type.js';

export const postModule: DomainModule = {
  resolvers: [PostResolver, CommentResolver, UserPostsResolver],
  nodes: {
    Post: {
      scopes: ['posts:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.posts.post.load(id);
        return row && Post.fromRow(row);
      },
    },
    Comment: {
      scopes: ['posts:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.posts.comment.load(id);
        return row && Comment.fromRow(row);
      },
    },
  },
};
