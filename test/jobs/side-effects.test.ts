/**
 * Side effects of mutations go through the queue, enqueued in the mutation's transaction: the welcome e-mail on
 * registration, and notifications for a comment on your post, your order's new status and a direct message.
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailOutbox, jobs } from '../../src/db/tables.js';
import { toGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let staff: TestUser;

beforeAll(async () => {
  server = await startServer({ JOB_POLL_INTERVAL_MS: '50' });
  [alice, bob, staff] = await Promise.all([createUser(server), createUser(server), createUser(server, { role: 'ADMIN' })]);
});

afterAll(async () => {
  await server?.close();
});

/** Polls until `check` returns a value (the runner works in the background; nothing signals this test). */
async function eventually<T>(check: () => Promise<T | null | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function notificationTitled(user: TestUser, title: string) {
  const { body } = await server.gql('{ notifications(first: 20) { nodes { title body kind } } }', {}, { token: user.token });
  expect(body.errors).toBeUndefined();
  return (body.data!.notifications.nodes as Array<{ title: string; body: string; kind: string }>).find((n) => n.title === title);
}

describe('side effects through the queue', () => {
  it('sends the welcome e-mail of a registration through a SEND_EMAIL job in the outbox', async () => {
    const email = `welcome${Date.now()}@example.com`;
    const { body } = await server.gql('mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }', {
      input: { username: `newbie_${Date.now() % 100000}`, email, password: 'Fresh-Start1' },
    });
    expect(body.data!.register.userErrors).toEqual([]);
    const db = server.app.container.db;
    const [job] = await db
      .select()
      .from(jobs)
      .where(and(eq(jobs.kind, 'SEND_EMAIL'), sql`${jobs.params}->'to' ? ${email}`));
    expect(job).toMatchObject({ ownerId: null });
    const sent = await eventually(async () => {
      const [row] = await db.select().from(emailOutbox).where(eq(emailOutbox.recipient, email));
      return row;
    }, 'the welcome e-mail');
    expect(sent).toMatchObject({ jobId: job!.id, subject: 'Welcome to Our Platform!' });
    expect(sent.body).toMatch(/^Hello newbie_\d+, welcome to our platform!$/);
  });

  it('does not register the account nor queue its e-mail when the registration fails', async () => {
    const before = await server.app.container.db
      .select({ n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(eq(jobs.kind, 'SEND_EMAIL'));
    const { body } = await server.gql('mutation($input: RegisterInput!) { register(input: $input) { userErrors { field } } }', {
      input: { username: alice.username, email: 'someone.else@example.com', password: 'Fresh-Start1' },
    });
    expect(body.data!.register.userErrors).toEqual([{ field: ['input', 'username'] }]);
    const after = await server.app.container.db
      .select({ n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(eq(jobs.kind, 'SEND_EMAIL'));
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it("notifies a post's author of a comment by someone else", async () => {
    const post = await server.gql(
      'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }',
      { input: { title: 'Opening hours', body: 'We open at nine.' } },
      { token: alice.token },
    );
    const postId = post.body.data!.createPost.post.id;
    await server.gql(
      'mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }',
      { input: { postId, body: 'Thanks!' } },
      { token: bob.token },
    );
    const notification = await eventually(() => notificationTitled(alice, 'New comment on your post'), 'the comment notification');
    expect(notification).toEqual({
      title: 'New comment on your post',
      body: `${bob.username} commented on "Opening hours": Thanks!`,
      kind: 'INFO',
    });
    // No notification for commenting on one's own post.
    const jobsBefore = await server.app.container.db
      .select({ n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(eq(jobs.kind, 'NOTIFY'));
    await server.gql(
      'mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }',
      { input: { postId, body: 'You are welcome.' } },
      { token: alice.token },
    );
    const jobsAfter = await server.app.container.db
      .select({ n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(eq(jobs.kind, 'NOTIFY'));
    expect(jobsAfter[0]!.n).toBe(jobsBefore[0]!.n);
  });

  it('notifies a customer when staff change the status of their order', async () => {
    const item = await server.gql(
      'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } } }',
      { input: { sku: 'SE0001', name: 'Side-effect socks', price: 5, category: 'CLOTHING', stock: 10 } },
      { token: staff.token },
    );
    const order = await server.gql(
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }',
      { input: { itemId: item.body.data!.createItem.item.id, quantity: 2 } },
      { token: bob.token },
    );
    const orderId = order.body.data!.placeOrder.order.id;
    const moved = await server.gql(
      'mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) { order { status } userErrors { message } } }',
      { input: { id: orderId, status: 'PAID' } },
      { token: staff.token },
    );
    expect(moved.body.data!.updateOrderStatus).toEqual({ order: { status: 'PAID' }, userErrors: [] });
    const notification = await eventually(() => notificationTitled(bob, 'Your order is paid'), 'the order notification');
    expect(notification.body).toBe('Your order of 2 unit(s) moved from PENDING to PAID.');
  });

  it('notifies the recipient of a direct message', async () => {
    const sent = await server.gql(
      'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } userErrors { message } } }',
      { input: { toUserId: toGlobalId('User', bob.rowId), body: 'Lunch at noon?' } },
      { token: alice.token },
    );
    expect(sent.body.data!.sendDirectMessage.userErrors).toEqual([]);
    const notification = await eventually(() => notificationTitled(bob, `New message from ${alice.username}`), 'the message notification');
    expect(notification.body).toBe('Lunch at noon?');
  });

  it('keeps internal NOTIFY jobs out of the jobs list, even for jobs:read holders', async () => {
    const { body } = await server.gql('{ jobs(first: 100) { nodes { kind } } }', {}, { token: staff.token });
    const kinds = new Set((body.data!.jobs.nodes as Array<{ kind: string }>).map((job) => job.kind));
    expect(kinds.has('SEND_EMAIL')).toBe(true);
    expect([...kinds].every((kind) => ['EXPORT_ITEMS', 'SALES_REPORT', 'SEND_EMAIL', 'NEWSLETTER', 'CLEANUP'].includes(kind))).toBe(true);
  });
});
