/**
 * Attachments: Item.images, Task.attachments, Post.attachments and User.avatar, with the ownership rules of each
 * object (acceptance 3 for nested fields and attach/detach), the purpose rule and the per-object cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { absolute, noisePng, uploadFile } from './helpers.js';

const ATTACH = /* GraphQL */ `
  mutation Attach($input: AttachFileInput!) {
    attachFile(input: $input) { file { id } userErrors { field message code } }
  }
`;
const DETACH = /* GraphQL */ `
  mutation Detach($input: DetachFileInput!) {
    detachFile(input: $input) { file { id } userErrors { field message code } }
  }
`;

let server: TestServer;
let staff: TestUser;
let alice: TestUser;
let bob: TestUser;
let png: Buffer;

beforeAll(async () => {
  server = await startServer({ FILE_MAX_PER_ENTITY: '2' });
  [staff, alice, bob] = await Promise.all([createUser(server, { role: 'MODERATOR' }), createUser(server), createUser(server)]);
  png = await noisePng(40, 30);
});

afterAll(async () => {
  await server?.close();
});

async function mutate(query: string, input: Record<string, unknown>, user: TestUser) {
  const { body } = await server.gql(query, { input }, { token: user.token });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return Object.values(body.data!)[0] as {
    file: { id: string } | null;
    userErrors: Array<{ field: string[]; message: string; code: string }>;
  };
}

const image = (user: TestUser, purpose: 'ITEM_IMAGE' | 'AVATAR' | 'ATTACHMENT' = 'ITEM_IMAGE') =>
  uploadFile(server, user.token, { filename: 'p.png', contentType: 'image/png', purpose }, png);

async function createItem(sku: string): Promise<string> {
  const { body } = await server.gql(
    'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } } }',
    { input: { sku, name: 'Lamp', price: 10, category: 'HOME' } },
    { token: staff.token },
  );
  return body.data!.createItem.item.id;
}

describe('Item.images', () => {
  it('lists the images staff attached, with URLs every reader of the item can open; the cap and the purpose hold', async () => {
    const itemId = await createItem('FI0001');
    const first = await image(staff);
    const second = await image(staff);
    expect(await mutate(ATTACH, { fileId: first.id, targetId: itemId }, staff)).toEqual({ file: { id: first.id }, userErrors: [] });
    expect((await mutate(ATTACH, { fileId: second.id, targetId: itemId }, staff)).userErrors).toEqual([]);

    const third = await image(staff);
    expect(await mutate(ATTACH, { fileId: third.id, targetId: itemId }, staff)).toEqual({
      file: null,
      userErrors: [{ field: ['input', 'targetId'], message: 'At most 2 files per Item', code: 'LIMIT_EXCEEDED' }],
    });
    const attachment = await image(staff, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: attachment.id, targetId: itemId }, staff)).userErrors).toEqual([
      { field: ['input', 'fileId'], message: 'Only ITEM_IMAGE files attach to an Item', code: 'INVALID' },
    ]);
    expect((await mutate(ATTACH, { fileId: first.id, targetId: await createItem('FI0002') }, staff)).userErrors).toEqual([
      { field: ['input', 'fileId'], message: 'The file is attached already', code: 'INVALID' },
    ]);

    // A USER reads the item, so its images and their URLs; the file itself through node(id) as well.
    const { body } = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Item { images { nodes { id byteSize url } } } } }',
      { id: itemId },
      { token: alice.token },
    );
    expect(body.data!.node.images.nodes.map((file: { id: string }) => file.id)).toEqual([first.id, second.id]);
    const download = await fetch(absolute(server, body.data!.node.images.nodes[0].url));
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
    const node = await server.gql('query($id: ID!) { node(id: $id) { id } }', { id: first.id }, { token: alice.token });
    expect(node.body.data).toEqual({ node: { id: first.id } });

    // She may not change the item, nor delete or detach its images.
    const own = await image(alice);
    expect((await mutate(ATTACH, { fileId: own.id, targetId: itemId }, alice)).userErrors).toEqual([
      { field: ['input', 'targetId'], message: 'You may not change this Item', code: 'FORBIDDEN' },
    ]);
    expect((await mutate(DETACH, { fileId: first.id }, alice)).userErrors).toEqual([
      { field: ['input', 'fileId'], message: 'You may not change this Item', code: 'FORBIDDEN' },
    ]);
    const deleted = await server.gql(
      'mutation($id: ID!) { deleteFile(id: $id) { deletedId userErrors { code } } }',
      { id: first.id },
      { token: alice.token },
    );
    expect(deleted.body.data!.deleteFile).toEqual({ deletedId: null, userErrors: [{ code: 'FORBIDDEN' }] });

    expect((await mutate(DETACH, { fileId: first.id }, staff)).userErrors).toEqual([]);
    const after = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Item { images { nodes { id } totalCount } } } }',
      { id: itemId },
      { token: alice.token },
    );
    expect(after.body.data!.node.images).toEqual({ nodes: [{ id: second.id }], totalCount: 1 });
    // Detached, the file is the uploader's again: Alice no longer sees it.
    expect((await server.gql('query($id: ID!) { node(id: $id) { id } }', { id: first.id }, { token: alice.token })).body.data).toEqual({
      node: null,
    });
  });
});

describe('Task.attachments', () => {
  it("attach to one's own task; someone else neither sees the files nor attaches another user's file", async () => {
    const created = await server.gql('mutation { createTask(input: { title: "Restock" }) { task { id } } }', {}, { token: alice.token });
    const taskId = created.body.data!.createTask.task.id;
    const file = await image(alice, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: file.id, targetId: taskId }, alice)).userErrors).toEqual([]);
    const read = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Task { attachments { nodes { id } } } } }',
      { id: taskId },
      { token: alice.token },
    );
    expect(read.body.data!.node.attachments).toEqual({ nodes: [{ id: file.id }] });

    // Bob sees neither the task nor the file, and cannot attach Alice's file anywhere.
    const hidden = await server.gql('query($id: ID!) { node(id: $id) { id } }', { id: file.id }, { token: bob.token });
    expect(hidden.body.data).toEqual({ node: null });
    const bobsTask = await server.gql('mutation { createTask(input: { title: "Mine" }) { task { id } } }', {}, { token: bob.token });
    const theirs = await image(alice, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: theirs.id, targetId: bobsTask.body.data!.createTask.task.id }, bob)).userErrors).toEqual([
      { field: ['input', 'fileId'], message: 'File not found', code: 'NOT_FOUND' },
    ]);
    const bobs = await image(bob, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: bobs.id, targetId: taskId }, bob)).userErrors).toEqual([
      { field: ['input', 'targetId'], message: 'Task not found', code: 'NOT_FOUND' },
    ]);
    expect((await mutate(DETACH, { fileId: file.id }, bob)).userErrors).toEqual([
      { field: ['input', 'fileId'], message: 'File not found', code: 'NOT_FOUND' },
    ]);
  });
});

describe('Post.attachments and User.avatar', () => {
  it("authors attach to their posts, everyone reads them; an avatar is one's own and replaces the one before", async () => {
    const created = await server.gql(
      'mutation { createPost(input: { title: "Hello", body: "World" }) { post { id } } }',
      {},
      { token: alice.token },
    );
    const postId = created.body.data!.createPost.post.id;
    const file = await image(alice, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: file.id, targetId: postId }, alice)).userErrors).toEqual([]);
    const bobs = await image(bob, 'ATTACHMENT');
    expect((await mutate(ATTACH, { fileId: bobs.id, targetId: postId }, bob)).userErrors).toEqual([
      { field: ['input', 'targetId'], message: 'You may not change this Post', code: 'FORBIDDEN' },
    ]);
    const read = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Post { attachments { nodes { id } } } } }',
      { id: postId },
      { token: bob.token },
    );
    expect(read.body.data!.node.attachments).toEqual({ nodes: [{ id: file.id }] });

    const first = await image(alice, 'AVATAR');
    const second = await image(alice, 'AVATAR');
    expect((await mutate(ATTACH, { fileId: first.id, targetId: alice.id }, alice)).userErrors).toEqual([]);
    expect((await mutate(ATTACH, { fileId: second.id, targetId: alice.id }, alice)).userErrors).toEqual([]);
    const viewer = await server.gql('{ viewer { avatar { id url } } }', {}, { token: alice.token });
    expect(viewer.body.data!.viewer.avatar.id).toBe(second.id);
    const bobsAvatar = await image(bob, 'AVATAR');
    expect((await mutate(ATTACH, { fileId: bobsAvatar.id, targetId: alice.id }, bob)).userErrors).toEqual([
      { field: ['input', 'targetId'], message: 'You may not change this User', code: 'FORBIDDEN' },
    ]);
    const picture = await fetch(absolute(server, viewer.body.data!.viewer.avatar.url));
    expect(picture.status).toBe(200);
    expect(Buffer.from(await picture.arrayBuffer()).equals(png)).toBe(true);
  });
});
