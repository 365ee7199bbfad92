/**
 * Fields where TypeGraphQL's per-call wrapper has nothing to run resolve directly (src/schema/direct-resolvers.ts).
 * Every field with an auth check or a middleware keeps TypeGraphQL's resolver and answers as it did; the rules on a
 * schema of their own are in direct-resolver-rules.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMetadataStorage } from 'type-graphql';
import { directFields } from '../../src/schema/direct-resolvers.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

type ClassRef = abstract new (...args: never[]) => unknown;

interface Guarded {
  roles?: unknown[];
  middlewares?: unknown[];
}

let server: TestServer;
let author: TestUser;
let reader: TestUser;

beforeAll(async () => {
  server = await startServer();
  author = await createUser(server);
  // Reads posts, and nothing of files.
  reader = await createUser(server, { scopes: ['posts:read'] });
  const created = await server.gql<{ createPost: { post: { id: string } } }>(
    'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }',
    { input: { title: 'Direct', body: 'Resolved without the wrapper' } },
    { token: author.token },
  );
  await server.gql(
    'mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }',
    { input: { postId: created.body.data!.createPost.post.id, body: 'A comment' } },
    { token: author.token },
  );
});
afterAll(() => server?.close());

describe('direct resolvers', () => {
  it('keeps TypeGraphQL resolvers on every field with an auth check or a middleware', () => {
    const schema = server.app.schema;
    const direct = new Set(directFields(schema));
    const storage = getMetadataStorage() as unknown as {
      objectTypes: Array<{ name: string; target: ClassRef; fields?: Array<Guarded & { schemaName: string }> }>;
      fieldResolvers: Array<Guarded & { schemaName: string; getObjectType?: () => ClassRef }>;
    };
    const guarded = (meta: Guarded) => meta.roles !== undefined || (meta.middlewares?.length ?? 0) > 0;
    const kept: string[] = [];
    for (const type of storage.objectTypes) {
      for (const field of type.fields ?? []) if (guarded(field)) kept.push(`${type.name}.${field.schemaName}`);
    }
    for (const resolver of storage.fieldResolvers) {
      const type = storage.objectTypes.find((candidate) => candidate.target === resolver.getObjectType?.());
      if (type && guarded(resolver)) kept.push(`${type.name}.${resolver.schemaName}`);
    }
    expect(kept).toEqual(expect.arrayContaining(['User.email', 'User.phone', 'Post.attachments']));
    expect(kept.filter((coordinate) => direct.has(coordinate))).toEqual([]);
    // The fields of a nested page resolve directly, `comments(first: 3)` with its page arguments too.
    expect([...direct]).toEqual(expect.arrayContaining(['Post.author', 'Post.comments', 'Comment.author', 'User.username', 'Post.title']));
  });

  it('answers as before through both kinds of field: direct ones, and guarded ones that still refuse and hide', async () => {
    const response = await server.gql<{
      posts: {
        nodes: Array<{
          title: string;
          author: { username: string; email: string | null };
          comments: { nodes: Array<{ body: string; author: { username: string } }> };
        }>;
      };
    }>(
      '{ posts(first: 5) { nodes { title author { username email } comments(first: 3) { nodes { body author { username } } } } } }',
      {},
      { token: reader.token },
    );
    expect(response.body.errors).toBeUndefined();
    const post = response.body.data!.posts.nodes.find((node) => node.title === 'Direct')!;
    // Someone else's e-mail stays hidden (a middleware on User.email).
    expect(post).toEqual({
      title: 'Direct',
      author: { username: author.username, email: null },
      comments: { nodes: [{ body: 'A comment', author: { username: author.username } }] },
    });
    const own = await server.gql<{ posts: { nodes: Array<{ author: { email: string | null } }> } }>(
      '{ posts(first: 1) { nodes { author { email } } } }',
      {},
      { token: author.token },
    );
    expect(own.body.data!.posts.nodes[0]!.author.email).toBe(author.email);
    // Its page arguments arrive as before: both `first` and `last` is refused on the field that has them.
    const both = await server.gql(
      '{ posts(first: 1) { nodes { comments(first: 1, last: 1) { nodes { body } } } } }',
      {},
      { token: reader.token },
    );
    expect(both.body.errors?.[0]).toMatchObject({ path: ['posts', 'nodes', 0, 'comments'], extensions: { code: 'BAD_USER_INPUT' } });
    // An @Authorized field resolver still checks its scope.
    const refused = await server.gql(
      '{ posts(first: 1) { nodes { title attachments(first: 1) { totalCount } } } }',
      {},
      { token: reader.token },
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
