/**
 * The authorization rule of every root operation, as the coverage test (operations.test.ts) checks it.
 *
 * EVERY Query, Mutation and Subscription field of the schema needs a row here, keyed `Type.field`: the suite fails
 * for a root field without a row (and for a row whose field no longer exists). When you add an operation, add its
 * row with the rule you declared with `@Authorized(...)`:
 * - `scopes: null` — public: anonymous callers may use it (register, login, scopes, …);
 * - `scopes: []` — any signed-in user (`@Authorized()`);
 * - `scopes: ['a:read', …]` — signed in and holding every listed scope (`@Authorized('a:read', …)`).
 * The test runs each document anonymously, with an ADMIN token lacking exactly the listed scopes (expects FORBIDDEN
 * with those `missingScopes`), and with a token holding only the listed scopes (expects no UNAUTHENTICATED or
 * FORBIDDEN error). `variables` may create the data the document needs (through `env.gql` with the admin token).
 * A subscription also needs `trigger`, which makes one event happen so the allowed case can receive it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { fromGlobalId, toGlobalId } from '../../src/schema/shared/global-id.js';
import type { TestUser } from '../helpers/auth.js';
import type { GqlResponse, TestServer } from '../helpers/server.js';

export interface OperationEnv {
  server: TestServer;
  /** An ADMIN with every scope, for preparing data. */
  admin: TestUser;
  /** The ADMIN whose tokens (with narrowed scopes) the cases use. */
  subject: TestUser;
  /** Runs a document as the admin. */
  gql(query: string, variables?: Record<string, unknown>): Promise<GqlResponse>;
}

export interface OperationRule {
  /** A minimal document selecting the field. */
  document: string;
  variables?: (env: OperationEnv) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** null: public; []: any signed-in user; otherwise every listed scope. */
  scopes: readonly string[] | null;
  /** Subscriptions: causes one event the document receives. */
  trigger?: (env: OperationEnv, variables: Record<string, unknown>) => Promise<void>;
}

const unique = () => randomBytes(4).toString('hex');
let skuCounter = 0;
/** SKUs unique within a test file (each file has its own database). */
const nextSku = () => `OP${String((skuCounter += 1)).padStart(4, '0')}`;

/** Creates an item as the admin and returns its global id. */
export async function createItem(env: OperationEnv): Promise<string> {
  const { body } = await env.gql(`mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }`, {
    input: { sku: nextSku(), name: 'Operation fixture', price: 1, category: 'HOME' },
  });
  const id = body.data?.createItem?.item?.id as string | undefined;
  if (!id) throw new Error(`could not create a fixture item: ${JSON.stringify(body)}`);
  return id;
}

/** Runs a mutation as the admin and returns the id at `path` (a dotted path into `data`). */
async function createAs(env: OperationEnv, document: string, variables: Record<string, unknown>, path: string): Promise<string> {
  const { body } = await env.gql(document, variables);
  const id = path.split('.').reduce<any>((value, key) => value?.[key], body.data) as string | undefined;
  if (!id) throw new Error(`could not create a fixture: ${JSON.stringify(body)}`);
  return id;
}

/** An item with plenty of stock, for orders. */
function createStockedItem(env: OperationEnv): Promise<string> {
  return createAs(
    env,
    `mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } } }`,
    { input: { sku: nextSku(), name: 'Order fixture', price: 1, category: 'HOME', stock: 100 } },
    'createItem.item.id',
  );
}

/** An order placed by the admin. */
async function placeOrder(env: OperationEnv): Promise<string> {
  const itemId = await createStockedItem(env);
  return createAs(
    env,
    `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }`,
    { input: { itemId, quantity: 1 } },
    'placeOrder.order.id',
  );
}

function createTask(env: OperationEnv): Promise<string> {
  return createAs(
    env,
    `mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }`,
    { input: { title: 'Task fixture' } },
    'createTask.task.id',
  );
}

function createPost(env: OperationEnv): Promise<string> {
  return createAs(
    env,
    `mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }`,
    { input: { title: 'Post fixture', body: 'Text' } },
    'createPost.post.id',
  );
}

async function addComment(env: OperationEnv): Promise<string> {
  const postId = await createPost(env);
  return createAs(
    env,
    `mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }`,
    { input: { postId, body: 'Comment fixture' } },
    'addComment.comment.id',
  );
}

/** A USER account created through the service, for the administration mutations; returns its global id. */
async function fixtureUser(env: OperationEnv): Promise<string> {
  const name = `f_${unique()}`;
  const { user } = await env.server.app.container.services.users.create({
    username: name,
    email: `fx${unique()}@example.com`,
    password: 'Passw0rd',
  });
  if (!user) throw new Error('could not create a fixture user');
  return toGlobalId('User', user.id);
}

export const operations: Record<string, OperationRule> = {
  // ------------------------------------------------------------------ identity
  'Query.viewer': { document: '{ viewer { id } }', scopes: null },
  'Query.scopes': { document: '{ scopes { name } }', scopes: null },
  // Public on purpose: an anonymous caller sees its client IP's budget (guardrails).
  'Query.rateLimit': { document: '{ rateLimit { limit remaining cost resetAt } }', scopes: null },
  'Query.sessions': { document: '{ sessions { id } }', scopes: [] },
  'Query.users': { document: '{ users(first: 1) { totalCount } }', scopes: ['user:read'] },
  'Mutation.register': {
    document: 'mutation($input: RegisterInput!) { register(input: $input) { userErrors { code } } }',
    variables: () => ({ input: { username: `r_${unique()}`, email: `reg${unique()}@example.com`, password: 'Passw0rd' } }),
    scopes: null,
  },
  'Mutation.login': {
    document: 'mutation($input: LoginInput!) { login(input: $input) { userErrors { code } } }',
    variables: () => ({ input: { login: `nobody_${unique()}`, password: 'Wrong-pass1' } }),
    scopes: null,
  },
  'Mutation.refreshSession': {
    document: 'mutation($t: String!) { refreshSession(refreshToken: $t) { userErrors { code } } }',
    variables: () => ({ t: `ohr_${unique()}` }),
    scopes: null,
  },
  'Mutation.logout': {
    document: 'mutation($t: String!) { logout(refreshToken: $t) }',
    variables: () => ({ t: `ohr_${unique()}` }),
    scopes: null,
  },
  'Mutation.logoutAll': { document: 'mutation { logoutAll }', scopes: [] },
  'Mutation.revokeSession': {
    document: 'mutation($id: ID!) { revokeSession(id: $id) { revokedSessions userErrors { code } } }',
    variables: () => ({ id: toGlobalId('Session', '00000000-0000-4000-8000-000000000000') }),
    scopes: [],
  },
  'Mutation.revokeUserSessions': {
    document: 'mutation($id: ID!) { revokeUserSessions(userId: $id) { revokedSessions userErrors { code } } }',
    variables: async (env) => ({ id: await fixtureUser(env) }),
    scopes: ['user:write'],
  },
  'Mutation.updateProfile': {
    document: 'mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id } userErrors { code } } }',
    variables: () => ({ input: { bio: 'Coverage' } }),
    scopes: ['profile:write'],
  },
  'Mutation.changePassword': {
    document: 'mutation($input: ChangePasswordInput!) { changePassword(input: $input) { revokedSessions userErrors { code } } }',
    variables: () => ({ input: { currentPassword: 'Not-the-passw0rd', newPassword: 'Another-passw0rd' } }),
    scopes: ['profile:write'],
  },
  'Mutation.setUserRole': {
    document: 'mutation($input: SetUserRoleInput!) { setUserRole(input: $input) { user { role } userErrors { code } } }',
    variables: async (env) => ({ input: { userId: await fixtureUser(env), role: 'MODERATOR' } }),
    scopes: ['user:write'],
  },
  'Mutation.setUserActive': {
    document: 'mutation($input: SetUserActiveInput!) { setUserActive(input: $input) { user { isActive } userErrors { code } } }',
    variables: async (env) => ({ input: { userId: await fixtureUser(env), isActive: false } }),
    scopes: ['user:write'],
  },
  'Mutation.deleteUser': {
    document: 'mutation($id: ID!) { deleteUser(id: $id) { deletedId userErrors { code } } }',
    variables: async (env) => ({ id: await fixtureUser(env) }),
    scopes: ['user:delete'],
  },
  'Subscription.userUpdated': {
    document: 'subscription { userUpdated { change user { id } } }',
    scopes: ['user:read'],
    trigger: async (env) => {
      await env.gql('mutation { updateProfile(input: { bio: "Changed" }) { userErrors { code } } }');
    },
  },

  // ------------------------------------------------------------------ node
  'Query.node': {
    document: 'query($id: ID!) { node(id: $id) { id } }',
    variables: async (env) => ({ id: await createItem(env) }),
    scopes: ['items:read'],
  },
  'Query.nodes': {
    document: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    variables: async (env) => ({ ids: [await createItem(env)] }),
    scopes: ['items:read'],
  },

  // ------------------------------------------------------------------ catalog
  'Query.items': { document: '{ items(first: 1) { totalCount } }', scopes: ['items:read'] },
  'Mutation.createItem': {
    document: 'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { code } } }',
    variables: () => ({ input: { sku: nextSku(), name: 'Coverage', price: 2, category: 'BOOKS' } }),
    scopes: ['items:write'],
  },
  'Mutation.updateItem': {
    document: 'mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { id } userErrors { code } } }',
    variables: async (env) => ({ input: { id: await createItem(env), stock: 3 } }),
    scopes: ['items:write'],
  },
  'Mutation.deleteItem': {
    document: 'mutation($id: ID!) { deleteItem(id: $id) { deletedId userErrors { code } } }',
    variables: async (env) => ({ id: await createItem(env) }),
    scopes: ['items:write', 'items:delete'],
  },
  'Subscription.itemChanged': {
    document: 'subscription { itemChanged { id } }',
    scopes: ['items:read'],
    trigger: async (env) => {
      await createItem(env);
    },
  },

  // ------------------------------------------------------------------ orders, tasks, posts
  'Query.orders': { document: '{ orders(first: 1) { totalCount } }', scopes: [] },
  'Mutation.placeOrder': {
    document: 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code } } }',
    variables: async (env) => ({ input: { itemId: await createStockedItem(env), quantity: 1 } }),
    scopes: ['orders:write'],
  },
  'Mutation.updateOrderStatus': {
    document: 'mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) { order { id } userErrors { code } } }',
    variables: async (env) => ({ input: { id: await placeOrder(env), status: 'CANCELLED' } }),
    scopes: ['orders:write'],
  },
  'Subscription.orderPlaced': {
    document: 'subscription { orderPlaced { id } }',
    scopes: ['orders:read'],
    trigger: async (env) => {
      await placeOrder(env);
    },
  },
  'Query.tasks': { document: '{ tasks(first: 1) { totalCount } }', scopes: ['tasks:read'] },
  'Mutation.createTask': {
    document: 'mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { code } } }',
    variables: () => ({ input: { title: 'Coverage' } }),
    scopes: ['tasks:write'],
  },
  'Mutation.updateTask': {
    document: 'mutation($input: UpdateTaskInput!) { updateTask(input: $input) { task { id } userErrors { code } } }',
    variables: async (env) => ({ input: { id: await createTask(env), completed: true } }),
    scopes: ['tasks:write'],
  },
  'Mutation.deleteTask': {
    document: 'mutation($id: ID!) { deleteTask(id: $id) { deletedId userErrors { code } } }',
    variables: async (env) => ({ id: await createTask(env) }),
    scopes: ['tasks:write'],
  },
  'Query.posts': { document: '{ posts(first: 1) { totalCount } }', scopes: ['posts:read'] },
  'Mutation.createPost': {
    document: 'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } userErrors { code } } }',
    variables: () => ({ input: { title: 'Coverage', body: 'Text' } }),
    scopes: ['posts:write'],
  },
  'Mutation.updatePost': {
    document: 'mutation($input: UpdatePostInput!) { updatePost(input: $input) { post { id } userErrors { code } } }',
    variables: async (env) => ({ input: { id: await createPost(env), title: 'Changed' } }),
    scopes: ['posts:write'],
  },
  'Mutation.deletePost': {
    document: 'mutation($id: ID!) { deletePost(id: $id) { deletedId userErrors { code } } }',
    variables: async (env) => ({ id: await createPost(env) }),
    scopes: ['posts:write'],
  },
  'Mutation.addComment': {
    document: 'mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } userErrors { code } } }',
    variables: async (env) => ({ input: { postId: await createPost(env), body: 'A comment' } }),
    scopes: ['posts:write'],
  },
  'Mutation.deleteComment': {
    document: 'mutation($id: ID!) { deleteComment(id: $id) { deletedId userErrors { code } } }',
    variables: async (env) => ({ id: await addComment(env) }),
    scopes: ['posts:write'],
  },
  'Subscription.postPublished': {
    document: 'subscription { postPublished { id } }',
    scopes: ['posts:read'],
    trigger: async (env) => {
      await createPost(env);
    },
  },
  // ------------------------------------------------------------------ jobs
  // Own jobs for any signed-in user; everyone's with jobs:read (checked in the job service).
  'Query.jobs': { document: '{ jobs(first: 1) { totalCount } }', scopes: [] },
  'Mutation.startJob': {
    document: 'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { code } } }',
    variables: () => ({ input: { kind: 'EXPORT_ITEMS', params: {} } }),
    scopes: ['jobs:write'],
  },
  'Mutation.cancelJob': {
    document: 'mutation($id: ID!) { cancelJob(id: $id) { job { id } userErrors { code } } }',
    variables: async (env) => ({ id: await startJob(env) }),
    scopes: ['jobs:write'],
  },
  'Subscription.jobUpdated': {
    document: 'subscription($id: ID!) { jobUpdated(id: $id) { id status } }',
    // A job of the subject's own: the case tokens carry no jobs:read, and other people's jobs are not found.
    variables: async (env) => {
      const { container } = env.server.app;
      const job = await container.queue.enqueue(container.db, { kind: 'EXPORT_ITEMS', params: {}, ownerId: env.subject.rowId });
      return { id: toGlobalId('Job', job!.id) };
    },
    scopes: [],
    // The subscription opens with the job's current state; no trigger is needed.
    trigger: async () => {},
  },

  // Files: files:write for every mutation; ownership (own uploads and files, the object's own rule) in the file service.
  'Mutation.createUpload': {
    document: 'mutation($input: CreateUploadInput!) { createUpload(input: $input) { upload { id } userErrors { code } } }',
    variables: () => ({ input: { filename: 'op.png', contentType: 'image/png', byteSize: 10, purpose: 'ITEM_IMAGE' } }),
    scopes: ['files:write'],
  },
  'Mutation.completeUpload': {
    document: 'mutation($id: ID!) { completeUpload(id: $id) { file { id } userErrors { code } } }',
    variables: () => ({ id: toGlobalId('Upload', randomUUID()) }),
    scopes: ['files:write'],
  },
  'Mutation.deleteFile': {
    document: 'mutation($id: ID!) { deleteFile(id: $id) { deletedId userErrors { code } } }',
    variables: () => ({ id: toGlobalId('File', randomUUID()) }),
    scopes: ['files:write'],
  },
  'Mutation.attachFile': {
    document: 'mutation($input: AttachFileInput!) { attachFile(input: $input) { file { id } userErrors { code } } }',
    variables: async (env) => ({ input: { fileId: toGlobalId('File', randomUUID()), targetId: await createItem(env) } }),
    scopes: ['files:write'],
  },
  'Mutation.detachFile': {
    document: 'mutation($input: DetachFileInput!) { detachFile(input: $input) { file { id } userErrors { code } } }',
    variables: () => ({ input: { fileId: toGlobalId('File', randomUUID()) } }),
    scopes: ['files:write'],
  },

  // Chat: rooms are listed to chat:read holders; reading and posting need membership, which the fixtures give.
  'Query.rooms': { document: '{ rooms(first: 1) { totalCount } }', scopes: ['chat:read'] },
  'Mutation.createRoom': {
    document: 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { room { id } userErrors { code } } }',
    variables: () => ({ input: { name: `op room ${unique()}` } }),
    scopes: ['chat:write'],
  },
  'Mutation.joinRoom': {
    document: 'mutation($roomId: ID!) { joinRoom(roomId: $roomId) { room { id } userErrors { code } } }',
    variables: async (env) => ({ roomId: await createRoom(env, false) }),
    scopes: ['chat:write'],
  },
  'Mutation.leaveRoom': {
    document: 'mutation($roomId: ID!) { leaveRoom(roomId: $roomId) { room { id } userErrors { code } } }',
    variables: async (env) => ({ roomId: await createRoom(env, true) }),
    scopes: ['chat:write'],
  },
  'Mutation.sendMessage': {
    document: 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } userErrors { code } } }',
    variables: async (env) => ({ input: { roomId: await createRoom(env, true), body: 'hello' } }),
    scopes: ['chat:write'],
  },
  'Mutation.sendDirectMessage': {
    document: 'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } userErrors { code } } }',
    variables: (env) => ({ input: { toUserId: env.admin.id, body: 'hello' } }),
    scopes: ['chat:write'],
  },
  'Mutation.setTyping': {
    document: 'mutation($roomId: ID!) { setTyping(roomId: $roomId, typing: true) }',
    variables: async (env) => ({ roomId: await createRoom(env, true) }),
    scopes: ['chat:write'],
  },
  'Subscription.roomEvents': {
    document: 'subscription($roomId: ID!) { roomEvents(roomId: $roomId) { __typename } }',
    variables: async (env) => ({ roomId: await createRoom(env, true) }),
    scopes: ['chat:read'],
    // The admin (the room's creator) leaves and rejoins: membership events, which no rate limit holds back.
    trigger: async (env, variables) => {
      const chat = env.server.app.container.services.chat;
      const admin = {
        viewer: { id: env.admin.rowId, username: env.admin.username, role: env.admin.role },
        scopes: new Set<string>(),
        sessionId: null,
        claims: null,
      };
      const left = await chat.leaveRoom(admin, variables.roomId as string);
      if (left.userErrors.length > 0) await chat.joinRoom(admin, variables.roomId as string);
    },
  },
  'Subscription.directMessages': {
    document: 'subscription { directMessages { id } }',
    scopes: ['chat:read'],
    trigger: async (env) => {
      await env.gql('mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } } }', {
        input: { toUserId: env.subject.id, body: 'ping' },
      });
    },
  },

  // Notifications: the viewer's own with notifications:read; sending to others is notifications:write (staff).
  'Query.notifications': { document: '{ notifications(first: 1, unreadOnly: true) { totalCount } }', scopes: ['notifications:read'] },
  'Mutation.markNotificationsRead': { document: 'mutation { markNotificationsRead(ids: null) }', scopes: ['notifications:read'] },
  'Mutation.sendNotification': {
    document: 'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { code } } }',
    variables: (env) => ({ input: { userIds: [env.admin.id], title: 'Hello', body: 'World' } }),
    scopes: ['notifications:write'],
  },
  'Subscription.notificationReceived': {
    document: 'subscription { notificationReceived { id } }',
    scopes: ['notifications:read'],
    trigger: async (env) => {
      await env.server.app.container.services.notifications.notify([env.subject.rowId], { title: 'Hello', body: 'World' });
    },
  },

  // Dashboards.
  'Query.dashboard': { document: '{ dashboard { openConnections at } }', scopes: ['analytics:read'] },
  'Subscription.dashboardStats': {
    document: 'subscription { dashboardStats(intervalMs: 500) { openConnections at } }',
    scopes: ['analytics:read'],
    // The first figures arrive as soon as the subscription starts.
    trigger: async () => {},
  },
};

/** A room created by the admin; with `subjectIsMember`, the subject is a member too. Returns its global id. */
async function createRoom(env: OperationEnv, subjectIsMember: boolean): Promise<string> {
  const id = await createAs(
    env,
    'mutation($input: CreateRoomInput!) { createRoom(input: $input) { room { id } } }',
    { input: { name: `op room ${unique()}` } },
    'createRoom.room.id',
  );
  if (subjectIsMember) await env.server.app.container.repos.chat.addMember(fromGlobalId(id, 'Room'), env.subject.rowId);
  return id;
}

/** A job started by the admin (an export of the catalog). */
function startJob(env: OperationEnv): Promise<string> {
  return createAs(
    env,
    `mutation($input: StartJobInput!) { startJob(input: $input) { job { id } } }`,
    { input: { kind: 'EXPORT_ITEMS', params: {} } },
    'startJob.job.id',
  );
}
