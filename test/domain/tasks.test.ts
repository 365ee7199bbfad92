/** Tasks: validation rules, update semantics (absent vs null), filters and ordering, ownership. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ok, statements } from './fixtures.js';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let staff: TestUser;

beforeAll(async () => {
  server = await startServer();
  [alice, bob, staff] = await Promise.all([createUser(server), createUser(server), createUser(server, { role: 'MODERATOR' })]);
});
afterAll(() => server?.close());

const FIELDS = 'id title description priority completed dueDate tags owner { username } assignee { username }';
const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { task { ${FIELDS} } userErrors { field message code } } }`;
const UPDATE = `mutation($input: UpdateTaskInput!) { updateTask(input: $input) { task { ${FIELDS} } userErrors { field message code } } }`;
const DELETE = 'mutation($id: ID!) { deleteTask(id: $id) { deletedId userErrors { field message code } } }';

const tomorrow = () => new Date(Date.now() + 24 * 60 * 60 * 1_000).toISOString();
const yesterday = () => new Date(Date.now() - 24 * 60 * 60 * 1_000).toISOString();

async function create(user: TestUser, input: Record<string, unknown>) {
  return (await ok(server, user, CREATE, { input })).createTask;
}

async function update(user: TestUser, input: Record<string, unknown>) {
  return (await ok(server, user, UPDATE, { input })).updateTask;
}

describe('createTask', () => {
  it('stores a task with the defaults: MEDIUM, not completed, no due date, normalised tags', async () => {
    const { task, userErrors } = await create(alice, { title: ' Restock AB1234 ', tags: [' Urgent', 'urgent', '', 'Shelf'] });
    expect(userErrors).toEqual([]);
    expect(task).toMatchObject({
      title: 'Restock AB1234',
      description: null,
      priority: 'MEDIUM',
      completed: false,
      dueDate: null,
      tags: ['urgent', 'shelf'],
      owner: { username: alice.username },
      assignee: null,
    });
  });

  it('assigns a task and keeps a due date in the future', async () => {
    const due = tomorrow();
    const { task, userErrors } = await create(alice, { title: 'Count', priority: 'HIGH', dueDate: due, assigneeId: bob.id });
    expect(userErrors).toEqual([]);
    expect(task).toMatchObject({ priority: 'HIGH', dueDate: due, assignee: { username: bob.username } });
  });

  it.each([
    [{ title: '' }, ['input', 'title'], 'Title must not be empty', 'INVALID'],
    [{ title: 't'.repeat(101) }, ['input', 'title'], 'Title must be at most 100 characters', 'INVALID'],
    [{ description: 'd'.repeat(501) }, ['input', 'description'], 'Description must be at most 500 characters', 'INVALID'],
    [{ dueDate: 'PAST' }, ['input', 'dueDate'], 'Due date cannot be in the past', 'INVALID'],
    [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, ['input', 'tags'], 'Maximum 10 tags allowed', 'INVALID'],
    [{ assigneeId: 'ASSIGNEE' }, ['input', 'assigneeId'], 'User not found', 'NOT_FOUND'],
  ])('rejects %j with a user error on its field', async (override, field, message, code) => {
    const input: Record<string, unknown> = { title: 'Valid', ...override };
    if (input.dueDate === 'PAST') input.dueDate = yesterday();
    // An id of another type (a task's own id would do too) is not a user.
    if (input.assigneeId === 'ASSIGNEE') input.assigneeId = (await create(alice, { title: 'Not a user' })).task.id;
    const { task, userErrors } = await create(alice, input);
    expect(task).toBeNull();
    expect(userErrors).toEqual([{ field, message, code }]);
  });

  it('accepts the limits: 100-character title, 500-character description, 10 tags', async () => {
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const { task, userErrors } = await create(alice, { title: 't'.repeat(100), description: 'd'.repeat(500), tags });
    expect(userErrors).toEqual([]);
    expect(task.tags).toEqual(tags);
  });

  it('refuses a priority outside LOW, MEDIUM, HIGH as invalid input', async () => {
    const { status, body } = await server.gql(CREATE, { input: { title: 'x', priority: 'URGENT' } }, { token: alice.token });
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('updateTask', () => {
  it('leaves absent fields unchanged and clears fields given as null', async () => {
    const { task } = await create(alice, {
      title: 'Full',
      description: 'Some text',
      priority: 'LOW',
      dueDate: tomorrow(),
      tags: ['a'],
      assigneeId: bob.id,
    });
    const changed = await update(alice, { id: task.id, completed: true });
    expect(changed.userErrors).toEqual([]);
    expect(changed.task).toEqual({ ...task, completed: true });

    const cleared = await update(alice, { id: task.id, description: null, dueDate: null, tags: null, assigneeId: null });
    expect(cleared.userErrors).toEqual([]);
    expect(cleared.task).toEqual({ ...task, completed: true, description: null, dueDate: null, tags: [], assignee: null });
  });

  it.each([
    [{ title: null }, ['input', 'title'], 'Title cannot be cleared'],
    [{ priority: null }, ['input', 'priority'], 'Priority cannot be cleared'],
    [{ completed: null }, ['input', 'completed'], 'Completed cannot be cleared'],
    [{ title: ' ' }, ['input', 'title'], 'Title must not be empty'],
    [{ description: 'd'.repeat(501) }, ['input', 'description'], 'Description must be at most 500 characters'],
    [{ dueDate: 'PAST' }, ['input', 'dueDate'], 'Due date cannot be in the past'],
    [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, ['input', 'tags'], 'Maximum 10 tags allowed'],
  ])('rejects %j with a user error on its field and changes nothing', async (override, field, message) => {
    const { task } = await create(alice, { title: 'Stays' });
    const input: Record<string, unknown> = { id: task.id, ...override };
    if (input.dueDate === 'PAST') input.dueDate = yesterday();
    const result = await update(alice, input);
    expect(result).toEqual({ task: null, userErrors: [{ field, message, code: 'INVALID' }] });
    const node = (await ok(server, alice, 'query($id: ID!) { node(id: $id) { ... on Task { title } } }', { id: task.id })).node;
    expect(node).toEqual({ title: 'Stays' });
  });
});

describe('ownership of tasks', () => {
  it("hides someone else's task from node(id) and from tasks, unless assigned or staff", async () => {
    const { task } = await create(alice, { title: 'Private' });
    const query = 'query($id: ID!) { node(id: $id) { ... on Task { title } } }';
    expect((await ok(server, bob, query, { id: task.id })).node).toBeNull();
    expect((await ok(server, staff, query, { id: task.id })).node).toEqual({ title: 'Private' });
    const list = '{ tasks(first: 100) { nodes { id } } }';
    expect((await ok(server, bob, list)).tasks.nodes).not.toContainEqual({ id: task.id });
    expect((await ok(server, staff, list)).tasks.nodes).toContainEqual({ id: task.id });

    await update(alice, { id: task.id, assigneeId: bob.id });
    expect((await ok(server, bob, query, { id: task.id })).node).toEqual({ title: 'Private' });
    expect((await ok(server, bob, list)).tasks.nodes).toContainEqual({ id: task.id });
  });

  it("refuses to change or delete someone else's task, as if it did not exist", async () => {
    const { task } = await create(alice, { title: 'Mine' });
    expect(await update(bob, { id: task.id, title: 'Theirs' })).toEqual({
      task: null,
      userErrors: [{ field: ['input', 'id'], message: 'Task not found', code: 'NOT_FOUND' }],
    });
    expect((await ok(server, bob, DELETE, { id: task.id })).deleteTask).toEqual({
      deletedId: null,
      userErrors: [{ field: ['id'], message: 'Task not found', code: 'NOT_FOUND' }],
    });
  });

  it('lets the assignee change a task but not delete it; the owner and staff delete', async () => {
    const first = (await create(alice, { title: 'Assigned', assigneeId: bob.id })).task;
    expect((await update(bob, { id: first.id, completed: true })).task.completed).toBe(true);
    expect((await ok(server, bob, DELETE, { id: first.id })).deleteTask.userErrors).toEqual([
      { field: ['id'], message: 'Only the owner can delete a task', code: 'FORBIDDEN' },
    ]);
    expect((await ok(server, alice, DELETE, { id: first.id })).deleteTask).toEqual({ deletedId: first.id, userErrors: [] });
    const second = (await create(alice, { title: 'For staff' })).task;
    expect((await ok(server, staff, DELETE, { id: second.id })).deleteTask).toEqual({ deletedId: second.id, userErrors: [] });
  });
});

describe('tasks connection', () => {
  it('filters by completed, priority, assignee and due date, and sorts', async () => {
    const owner = await createUser(server);
    const soon = new Date(Date.now() + 60 * 60 * 1_000).toISOString();
    const later = new Date(Date.now() + 10 * 24 * 60 * 60 * 1_000).toISOString();
    const a = (await create(owner, { title: 'a', priority: 'HIGH', dueDate: soon, assigneeId: bob.id })).task;
    const b = (await create(owner, { title: 'b', priority: 'LOW', dueDate: later })).task;
    const c = (await create(owner, { title: 'c', priority: 'MEDIUM', completed: true })).task;
    const query = `query($filter: TaskFilter, $orderBy: TaskOrder) {
      tasks(first: 10, filter: $filter, orderBy: $orderBy) { totalCount nodes { id } }
    }`;
    const ids = async (filter: Record<string, unknown> | null, orderBy: Record<string, unknown> | null = null) => {
      const { tasks } = await ok(server, owner, query, { filter, orderBy });
      expect(tasks.totalCount).toBe(tasks.nodes.length);
      return tasks.nodes.map((node: { id: string }) => node.id);
    };
    expect(await ids(null)).toEqual([c.id, b.id, a.id]);
    expect(await ids({ completed: true })).toEqual([c.id]);
    expect(await ids({ completed: false })).toEqual([b.id, a.id]);
    expect(await ids({ priority: 'LOW' })).toEqual([b.id]);
    expect(await ids({ assigneeId: bob.id })).toEqual([a.id]);
    expect(await ids({ dueBefore: new Date(Date.now() + 24 * 60 * 60 * 1_000).toISOString() })).toEqual([a.id]);
    expect(await ids(null, { field: 'PRIORITY', direction: 'DESC' })).toEqual([a.id, c.id, b.id]);
    expect(await ids(null, { field: 'TITLE', direction: 'ASC' })).toEqual([a.id, b.id, c.id]);
  });

  it('pages by priority with cursors without skipping or repeating a task', async () => {
    const owner = await createUser(server);
    const created: string[] = [];
    for (const priority of ['LOW', 'HIGH', 'MEDIUM', 'LOW', 'HIGH'])
      created.push((await create(owner, { title: priority, priority })).task.id);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const { tasks } = await ok(
        server,
        owner,
        `query($after: String) { tasks(first: 2, after: $after, orderBy: { field: PRIORITY, direction: ASC }) { pageInfo { hasNextPage endCursor } nodes { id priority } } }`,
        { after },
      );
      seen.push(...tasks.nodes.map((node: { id: string }) => node.id));
      after = tasks.pageInfo.hasNextPage ? tasks.pageInfo.endCursor : null;
    } while (after);
    expect([...seen].sort()).toEqual([...created].sort());
    expect(seen).toHaveLength(5);
  });

  it('loads owners and assignees in one batched statement', async () => {
    const response = await server.gql(
      '{ tasks(first: 50) { nodes { owner { username } assignee { username } } } }',
      {},
      { token: staff.token },
    );
    expect(response.body.errors).toBeUndefined();
    expect(statements(response)).toBeLessThanOrEqual(2);
  });
});
