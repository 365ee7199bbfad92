/**
 * Attachment lists are Relay connections (DESIGN.md, API conventions): keyset pages in attachment order with
 * first/after and last/before, totalCount, the page-size limit, and one statement for the attachments of every post
 * of a list, totalCount included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { statements } from '../domain/fixtures.js';
import { uploadFile } from './helpers.js';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer({ FILE_MAX_PER_ENTITY: '5' });
  [alice, bob] = await Promise.all([createUser(server), createUser(server)]);
});

afterAll(async () => {
  await server?.close();
});

async function ok(query: string, variables: Record<string, unknown>, user: TestUser) {
  const { body } = await server.gql(query, variables, { token: user.token });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

async function createPost(title: string): Promise<string> {
  const data = await ok(
    'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }',
    { input: { title, body: 'x' } },
    alice,
  );
  return (data.createPost as { post: { id: string } }).post.id;
}

/** Uploads `count` text files and attaches them to the post one after the other; their ids in attachment order. */
async function attachFiles(postId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const file = await uploadFile(
      server,
      alice.token,
      { filename: `note-${index}.txt`, contentType: 'text/plain', purpose: 'ATTACHMENT' },
      Buffer.from(`note ${index} of ${postId}\n`),
    );
    const data = await ok(
      'mutation($input: AttachFileInput!) { attachFile(input: $input) { userErrors { message } } }',
      { input: { fileId: file.id, targetId: postId } },
      alice,
    );
    expect(data.attachFile).toEqual({ userErrors: [] });
    ids.push(file.id);
  }
  return ids;
}

const PAGE = /* GraphQL */ `
  query Page($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    node(id: $id) {
      ... on Post {
        attachments(first: $first, after: $after, last: $last, before: $before) {
          totalCount
          edges { cursor node { id } }
          nodes { id }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        }
      }
    }
  }
`;

interface Page {
  totalCount: number;
  edges: Array<{ cursor: string; node: { id: string } }>;
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

async function page(postId: string, args: Record<string, unknown>, user: TestUser = bob): Promise<Page> {
  const data = await ok(PAGE, { id: postId, ...args }, user);
  return (data.node as { attachments: Page }).attachments;
}

describe('Post.attachments as a connection', () => {
  let postId: string;
  let files: string[];

  beforeAll(async () => {
    postId = await createPost('Paged');
    files = await attachFiles(postId, 5);
  });

  it('pages forward with first/after in attachment order, with totalCount on every page, and back with last/before', async () => {
    // Bob reads the post, so he reads its files.
    const one = await page(postId, { first: 2 });
    expect(one.nodes.map((n) => n.id)).toEqual(files.slice(0, 2));
    expect(one.edges.map((e) => e.node.id)).toEqual(files.slice(0, 2));
    expect(one.totalCount).toBe(5);
    expect(one.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: one.edges[0]!.cursor });

    const two = await page(postId, { first: 2, after: one.pageInfo.endCursor });
    expect(two.nodes.map((n) => n.id)).toEqual(files.slice(2, 4));
    expect(two.totalCount).toBe(5);
    expect(two.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });

    const three = await page(postId, { first: 2, after: two.pageInfo.endCursor });
    expect(three.nodes.map((n) => n.id)).toEqual(files.slice(4));
    expect(three.totalCount).toBe(5);
    expect(three.pageInfo.hasNextPage).toBe(false);

    const all = await page(postId, {});
    expect(all.nodes.map((n) => n.id)).toEqual(files);
    expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });

    const tail = await page(postId, { last: 2 });
    expect(tail.nodes.map((n) => n.id)).toEqual(files.slice(3));
    expect(tail.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const before = await page(postId, { last: 2, before: tail.pageInfo.startCursor });
    expect(before.nodes.map((n) => n.id)).toEqual(files.slice(1, 3));
    expect(before.totalCount).toBe(5);
  });

  it('refuses a page over 100 and a forged cursor with BAD_USER_INPUT', async () => {
    const big = await server.gql(PAGE, { id: postId, first: 101 }, { token: bob.token });
    expect(big.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forged = await server.gql(PAGE, { id: postId, first: 2, after: 'not-a-cursor' }, { token: bob.token });
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('batching', () => {
  const LIST = /* GraphQL */ `
    query List($authorId: ID!, $withFiles: Boolean!) {
      posts(first: 20, authorId: $authorId) {
        nodes { id attachments(first: 2) @include(if: $withFiles) { totalCount nodes { id } } }
      }
    }
  `;

  async function measure(author: TestUser, withFiles: boolean) {
    const response = await server.gql(LIST, { authorId: author.id, withFiles }, { token: bob.token });
    expect(response.body.errors).toBeUndefined();
    return {
      count: statements(response),
      nodes: response.body.data!.posts.nodes as Array<{ id: string; attachments?: { totalCount: number; nodes: Array<{ id: string }> } }>,
    };
  }

  it('loads the first page and totalCount of every post in the list in one statement, however many posts', async () => {
    const author = await createUser(server);
    // Four posts of this author, with 0 to 3 files each.
    const expected = new Map<string, string[]>();
    for (const count of [0, 1, 2, 3]) {
      const data = await server.gql(
        'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }',
        { input: { title: `Batch ${count}`, body: 'x' } },
        { token: author.token },
      );
      const id = (data.body.data!.createPost as { post: { id: string } }).post.id;
      const ids: string[] = [];
      for (let index = 0; index < count; index += 1) {
        const file = await uploadFile(
          server,
          author.token,
          { filename: `b-${index}.txt`, contentType: 'text/plain', purpose: 'ATTACHMENT' },
          Buffer.from(`batch ${count}/${index}\n`),
        );
        const attached = await server.gql(
          'mutation($input: AttachFileInput!) { attachFile(input: $input) { userErrors { message } } }',
          { input: { fileId: file.id, targetId: id } },
          { token: author.token },
        );
        expect(attached.body.data!.attachFile).toEqual({ userErrors: [] });
        ids.push(file.id);
      }
      expected.set(id, ids);
    }

    const without = await measure(author, false);
    const withFiles = await measure(author, true);
    expect(withFiles.nodes).toHaveLength(4);
    for (const node of withFiles.nodes) {
      const ids = expected.get(node.id)!;
      expect(node.attachments).toEqual({ totalCount: ids.length, nodes: ids.slice(0, 2).map((fileId) => ({ id: fileId })) });
    }
    // Four posts' pages and counts: one statement more than the list alone, as for Alice's one post.
    expect(withFiles.count).toBe(without.count + 1);
    const single = await measure(alice, true);
    expect(single.nodes).toHaveLength(1);
    expect(single.nodes[0]!.attachments!.totalCount).toBe(5);
    expect(single.count).toBe((await measure(alice, false)).count + 1);
  });
});
