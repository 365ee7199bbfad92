/**
 * Posts and comments: validation, ownership, the postPublished subscription, node(id), and the SQL budget of nested
 * connections (one statement per level, however many posts exist).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { eventMatching, ok, statements, warmUp } from './fixtures.js';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let moderator: TestUser;

beforeAll(async () => {
  server = await startServer();
  [alice, bob, moderator] = await Promise.all([createUser(server), createUser(server), createUser(server, { role: 'MODERATOR' })]);
});
afterAll(() => server?.close());

const CREATE = /* GraphQL */ `
  mutation($input: CreatePostInput!) {
    createPost(input: $input) { post { id title body author { id username } createdAt } userErrors { field message code } }
  }
`;
const UPDATE = /* GraphQL */ `
  mutation($input: UpdatePostInput!) { updatePost(input: $input) { post { id title body } userErrors { field message code } } }
`;
const DELETE = /* GraphQL */ `mutation($id: ID!) { deletePost(id: $id) { deletedId userErrors { field message code } } }`;
const COMMENT = /* GraphQL */ `
  mutation($input: AddCommentInput!) {
    addComment(input: $input) { comment { id body author { username } post { id } } userErrors { field message code } }
  }
`;
const DELETE_COMMENT = /* GraphQL */ `mutation($id: ID!) { deleteComment(id: $id) { deletedId userErrors { field message code } } }`;

async function createPost(user: TestUser, input: Record<string, unknown> = { title: 'Hello', body: 'World' }) {
  return (await ok(server, user, CREATE, { input })).createPost;
}

async function addComment(user: TestUser, postId: string, body = 'Nice') {
  return (await ok(server, user, COMMENT, { input: { postId, body } })).addComment;
}

describe('createPost and addComment validation', () => {
  it('stores a post by the viewer with trimmed fields', async () => {
    const { post, userErrors } = await createPost(alice, { title: '  Opening hours ', body: ' Closed on Monday ' });
    expect(userErrors).toEqual([]);
    expect(post).toMatchObject({ title: 'Opening hours', body: 'Closed on Monday', author: { id: alice.id, username: alice.username } });
  });

  it.each([
    [{ title: '   ' }, ['input', 'title'], 'Title must not be empty'],
    [{ title: 't'.repeat(201) }, ['input', 'title'], 'Title must be at most 200 characters'],
    [{ body: '' }, ['input', 'body'], 'Body must not be empty'],
    [{ body: 'b'.repeat(10_001) }, ['input', 'body'], 'Body must be at most 10000 characters'],
  ])('rejects a post with %j with a user error on its field', async (override, field, message) => {
    const { post, userErrors } = await createPost(alice, { title: 'Title', body: 'Body', ...override });
    expect(post).toBeNull();
    expect(userErrors).toEqual([{ field, message, code: 'INVALID' }]);
  });

  it('accepts the limits of 200 and 10000 characters', async () => {
    const { userErrors } = await createPost(alice, { title: 't'.repeat(200), body: 'b'.repeat(10_000) });
    expect(userErrors).toEqual([]);
  });

  it.each([
    ['', 'Body must not be empty'],
    ['c'.repeat(2_001), 'Body must be at most 2000 characters'],
  ])('rejects a comment body of %j characters with a user error', async (body, message) => {
    const { post } = await createPost(alice);
    const { comment, userErrors } = await addComment(bob, post.id, body);
    expect(comment).toBeNull();
    expect(userErrors).toEqual([{ field: ['input', 'body'], message, code: 'INVALID' }]);
  });

  it('reports a comment on a missing post as NOT_FOUND on postId', async () => {
    const { post } = await createPost(alice);
    await ok(server, alice, DELETE, { id: post.id });
    const { comment, userErrors } = await addComment(bob, post.id);
    expect(comment).toBeNull();
    expect(userErrors).toEqual([{ field: ['input', 'postId'], message: 'Post not found', code: 'NOT_FOUND' }]);
  });

  it('adds a comment by the viewer that links back to its post', async () => {
    const { post } = await createPost(alice);
    const { comment, userErrors } = await addComment(bob, post.id, ' Agreed ');
    expect(userErrors).toEqual([]);
    expect(comment).toMatchObject({ body: 'Agreed', author: { username: bob.username }, post: { id: post.id } });
  });
});

describe('ownership of posts and comments', () => {
  it("refuses to change someone else's post", async () => {
    const { post } = await createPost(alice);
    const { updatePost } = await ok(server, bob, UPDATE, { input: { id: post.id, title: 'Mine now' } });
    expect(updatePost).toEqual({
      post: null,
      userErrors: [{ field: ['input', 'id'], message: 'You can only change your own posts', code: 'FORBIDDEN' }],
    });
  });

  it("refuses to delete someone else's post without posts:delete", async () => {
    const { post } = await createPost(alice);
    const { deletePost } = await ok(server, bob, DELETE, { id: post.id });
    expect(deletePost).toEqual({
      deletedId: null,
      userErrors: [{ field: ['id'], message: 'You can only delete your own posts', code: 'FORBIDDEN' }],
    });
  });

  it("refuses to delete someone else's comment without posts:delete", async () => {
    const { post } = await createPost(alice);
    const { comment } = await addComment(alice, post.id);
    const { deleteComment } = await ok(server, bob, DELETE_COMMENT, { id: comment.id });
    expect(deleteComment.userErrors).toEqual([{ field: ['id'], message: 'You can only delete your own comments', code: 'FORBIDDEN' }]);
  });

  it('lets the author change and delete their own post, leaving absent fields as they are', async () => {
    const { post } = await createPost(alice, { title: 'Draft', body: 'Keep me' });
    const { updatePost } = await ok(server, alice, UPDATE, { input: { id: post.id, title: 'Final' } });
    expect(updatePost).toEqual({ post: { id: post.id, title: 'Final', body: 'Keep me' }, userErrors: [] });
    const { deletePost } = await ok(server, alice, DELETE, { id: post.id });
    expect(deletePost).toEqual({ deletedId: post.id, userErrors: [] });
  });

  it("lets a holder of posts:delete delete anyone's post and comment", async () => {
    const { post } = await createPost(alice);
    const { comment } = await addComment(bob, post.id);
    expect((await ok(server, moderator, DELETE_COMMENT, { id: comment.id })).deleteComment).toEqual({
      deletedId: comment.id,
      userErrors: [],
    });
    expect((await ok(server, moderator, DELETE, { id: post.id })).deletePost).toEqual({ deletedId: post.id, userErrors: [] });
  });

  it('refuses createPost to a token without posts:write', async () => {
    const reader = await createUser(server, { scopes: ['posts:read'] });
    const { body } = await server.gql(CREATE, { input: { title: 'x', body: 'y' } }, { token: reader.token });
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['posts:write'] });
  });
});

describe('reading posts', () => {
  it('lists posts newest first, filtered by author, with User.posts and node(id) for posts and comments', async () => {
    const author = await createUser(server);
    const first = (await createPost(author, { title: 'First', body: '1' })).post;
    const second = (await createPost(author, { title: 'Second', body: '2' })).post;
    const { comment } = await addComment(bob, second.id, 'On second');

    const data = await ok(
      server,
      bob,
      `query($author: ID!, $post: ID!, $comment: ID!) {
        posts(first: 10, authorId: $author) { totalCount nodes { title comments(first: 5) { totalCount nodes { body } } } }
        node(id: $post) { ... on Post { title author { username posts(first: 1) { totalCount nodes { title } } } } }
        comment: node(id: $comment) { ... on Comment { body post { title } } }
      }`,
      { author: author.id, post: first.id, comment: comment.id },
    );
    expect(data.posts).toEqual({
      totalCount: 2,
      nodes: [
        { title: 'Second', comments: { totalCount: 1, nodes: [{ body: 'On second' }] } },
        { title: 'First', comments: { totalCount: 0, nodes: [] } },
      ],
    });
    expect(data.node).toEqual({
      title: 'First',
      author: { username: author.username, posts: { totalCount: 2, nodes: [{ title: 'Second' }] } },
    });
    expect(data.comment).toEqual({ body: 'On second', post: { title: 'Second' } });
  });

  it('pages through the comments of a post with cursors, newest first', async () => {
    const { post } = await createPost(alice);
    for (const body of ['c1', 'c2', 'c3', 'c4', 'c5']) await addComment(bob, post.id, body);
    const query = `query($id: ID!, $after: String) {
      node(id: $id) { ... on Post { comments(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { body } } } }
    }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page += 1) {
      const data = await ok(server, alice, query, { id: post.id, after });
      const connection = data.node.comments;
      expect(connection.totalCount).toBe(5);
      seen.push(...connection.nodes.map((node: { body: string }) => node.body));
      after = connection.pageInfo.endCursor;
      expect(connection.pageInfo.hasNextPage).toBe(page < 2);
    }
    expect(seen).toEqual(['c5', 'c4', 'c3', 'c2', 'c1']);
  });
});

describe('postPublished', () => {
  it('delivers each new post to a subscriber holding posts:read', async () => {
    const client = server.wsClient({ authorization: `Bearer ${bob.token}` });
    const sub = collect(client, { query: 'subscription { postPublished { id title author { username } } }' });
    try {
      await warmUp(sub, async () => (await createPost(alice, { title: 'Warm-up', body: 'x' })).post.id);
      const { post } = await createPost(alice, { title: 'Announcement', body: 'x' });
      const event = await eventMatching(sub, (e) => e.data?.postPublished.id === post.id);
      expect(event.data!.postPublished).toEqual({ id: post.id, title: 'Announcement', author: { username: alice.username } });
    } finally {
      sub.dispose();
    }
  });
});

describe('SQL budget of nested connections', () => {
  const QUERY = /* GraphQL */ `
    query($total: Boolean!) {
      posts(first: 20) {
        totalCount @include(if: $total)
        nodes {
          author { username }
          comments(first: 3) { totalCount @include(if: $total) nodes { author { username } } }
        }
      }
    }
  `;

  /** Bulk rows through the repository: hundreds of HTTP mutations would only slow the test down. */
  async function seedPosts(count: number, authors: TestUser[]) {
    const repo = server.app.container.repos.posts;
    for (let index = 0; index < count; index += 1) {
      const post = await repo.insert({ authorId: authors[index % authors.length]!.rowId, title: `Bulk ${index}`, body: 'x' });
      await Promise.all(
        [0, 1, 2, 3].map((c) =>
          repo.insertComment({ postId: post.id, authorId: authors[(index + c + 1) % authors.length]!.rowId, body: `c${c}` }),
        ),
      );
    }
  }

  async function measure(total: boolean) {
    const response = await server.gql(QUERY, { total }, { token: bob.token });
    expect(response.body.errors).toBeUndefined();
    const nodes = response.body.data!.posts.nodes as Array<{ author: { username: string }; comments: { nodes: unknown[] } }>;
    expect(nodes).toHaveLength(20);
    for (const node of nodes) expect(node.comments.nodes.length).toBeLessThanOrEqual(3);
    return { count: statements(response), data: response.body.data! };
  }

  it('costs 2 statements for 20 posts with 3 comments each and their authors (joined in), with 20 and with 100 posts stored, and one more with totalCount', async () => {
    const authors = await Promise.all([0, 1, 2, 3, 4].map(() => createUser(server)));
    const existing = (await ok(server, bob, '{ posts { totalCount } }')).posts.totalCount as number;
    await seedPosts(Math.max(0, 20 - existing), authors);

    const small = await measure(false);
    expect(small.count).toBeLessThanOrEqual(2);
    const smallTotal = await measure(true);
    expect(smallTotal.count).toBeLessThanOrEqual(small.count + 1);

    await seedPosts(100, authors);
    const large = await measure(false);
    expect(large.count).toBeLessThanOrEqual(2);
    const largeTotal = await measure(true);
    expect(largeTotal.count).toBeLessThanOrEqual(large.count + 1);
    expect(largeTotal.data.posts.totalCount).toBeGreaterThanOrEqual(120);
    for (const node of largeTotal.data.posts.nodes) {
      expect(node.comments.totalCount).toBe(4);
      expect(node.comments.nodes).toHaveLength(3);
    }
  });

  it('costs one statement per level for users with their posts', async () => {
    const admin = await createUser(server, { role: 'ADMIN' });
    const response = await server.gql(
      '{ users(first: 20) { nodes { username posts(first: 2) { totalCount nodes { title comments(first: 2) { nodes { body } } } } } } }',
      {},
      { token: admin.token },
    );
    expect(response.body.errors).toBeUndefined();
    expect(statements(response)).toBeLessThanOrEqual(3);
  });
});
