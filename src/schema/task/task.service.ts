import type { Authentication } from '../../auth/identity.js';
import type { TaskRow } from '../../db/tables.js';
import { pageRequest, SortDirection, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import type { DeletePayload } from '../shared/payloads.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import { checkLength, normalizeTags } from '../shared/validation.js';
import { TaskOrderField, type CreateTaskInput, type TaskFilter, type TaskOrder, type UpdateTaskInput } from './task.input.js';
import { taskSort, type TaskChanges, type TaskRepo, type TaskSortField } from './task.repo.js';
import { DESCRIPTION_MAX, Task, TITLE_MAX, type TaskPayload } from './task.type.js';

/** Staff scope: read, change and delete anyone's tasks. */
export const MANAGE_TASKS = 'tasks:delete';

const SORT_FIELDS: Record<TaskOrderField, TaskSortField> = {
  [TaskOrderField.CREATED_AT]: 'createdAt',
  [TaskOrderField.UPDATED_AT]: 'updatedAt',
  [TaskOrderField.TITLE]: 'title',
  [TaskOrderField.PRIORITY]: 'priority',
};

export interface TaskServiceDeps {
  repo: TaskRepo;
}

/** To-dos: validation, ownership and assignment. */
export class TaskService {
  constructor(private readonly deps: TaskServiceDeps) {}

  /** Owner, assignee, or staff: who may read and change a task. Anyone else does not see it at all. */
  visible(auth: Authentication, row: Pick<TaskRow, 'ownerId' | 'assigneeId'>): boolean {
    const viewerId = auth.viewer?.id;
    if (!viewerId) return false;
    return row.ownerId === viewerId || row.assigneeId === viewerId || auth.scopes.has(MANAGE_TASKS);
  }

  /** The tasks the viewer owns or is assigned, or everyone's for staff; newest first by default. */
  async list(
    auth: Authentication,
    args: ConnectionArgs,
    filter: TaskFilter | null | undefined,
    orderBy: TaskOrder | null | undefined,
  ): Promise<Connection<Task>> {
    const sort = taskSort(SORT_FIELDS[orderBy?.field ?? TaskOrderField.CREATED_AT], orderBy?.direction ?? SortDirection.DESC);
    const page = pageRequest(args, sort.kind);
    const query = {
      visibleTo: auth.scopes.has(MANAGE_TASKS) ? null : auth.viewer!.id,
      completed: filter?.completed ?? null,
      priority: filter?.priority ?? null,
      assigneeId: filter?.assigneeId ? fromGlobalId(filter.assigneeId, 'User') : null,
      dueBefore: filter?.dueBefore ?? null,
    };
    const rows = await this.deps.repo.page(query, sort, page);
    return toConnection(rows, page, sort, Task.fromRow, () => this.deps.repo.count(query));
  }

  async create(auth: Authentication, input: CreateTaskInput): Promise<TaskPayload> {
    const errors = new UserErrors();
    const title = checkLength(input.title, errors, ['input', 'title'], 'Title', 1, TITLE_MAX);
    const description = this.description(input.description, errors);
    const dueAt = this.dueDate(input.dueDate, errors);
    const tags = normalizeTags(input.tags ?? [], errors, ['input', 'tags']);
    const assigneeId = await this.assignee(input.assigneeId, errors);
    if (errors.any) return { task: null, userErrors: errors.list };
    const row = await this.deps.repo.insert({
      ownerId: auth.viewer!.id,
      assigneeId,
      title,
      description,
      priority: input.priority ?? 'MEDIUM',
      completed: input.completed ?? false,
      dueAt,
      tags,
    });
    return { task: Task.fromRow(row), userErrors: [] };
  }

  /** Absent field (undefined) = unchanged; explicit null = cleared, where a field can be cleared. */
  async update(auth: Authentication, input: UpdateTaskInput): Promise<TaskPayload> {
    const errors = new UserErrors();
    const existing = await this.findVisible(auth, input.id);
    if (!existing) return { task: null, userErrors: errors.add(['input', 'id'], 'Task not found', UserErrorCode.NOT_FOUND).list };
    const changes: TaskChanges = {};
    if (input.title !== undefined) {
      if (input.title === null) errors.add(['input', 'title'], 'Title cannot be cleared');
      else changes.title = checkLength(input.title, errors, ['input', 'title'], 'Title', 1, TITLE_MAX);
    }
    if (input.description !== undefined) changes.description = this.description(input.description, errors);
    if (input.priority !== undefined) {
      if (input.priority === null) errors.add(['input', 'priority'], 'Priority cannot be cleared');
      else changes.priority = input.priority;
    }
    if (input.completed !== undefined) {
      if (input.completed === null) errors.add(['input', 'completed'], 'Completed cannot be cleared');
      else changes.completed = input.completed;
    }
    if (input.dueDate !== undefined) changes.dueAt = this.dueDate(input.dueDate, errors);
    if (input.tags !== undefined) changes.tags = normalizeTags(input.tags ?? [], errors, ['input', 'tags']);
    if (input.assigneeId !== undefined) changes.assigneeId = await this.assignee(input.assigneeId, errors);
    if (errors.any) return { task: null, userErrors: errors.list };
    const row = await this.deps.repo.update(existing.id, changes);
    if (!row) return { task: null, userErrors: errors.add(['input', 'id'], 'Task not found', UserErrorCode.NOT_FOUND).list };
    return { task: Task.fromRow(row), userErrors: [] };
  }

  /** The owner deletes their task; staff delete anyone's. An assignee may change a task but not delete it. */
  async delete(auth: Authentication, globalId: string): Promise<DeletePayload> {
    const existing = await this.findVisible(auth, globalId);
    if (!existing) return { deletedId: null, userErrors: [userError(['id'], 'Task not found', UserErrorCode.NOT_FOUND)] };
    if (existing.ownerId !== auth.viewer!.id && !auth.scopes.has(MANAGE_TASKS)) {
      return { deletedId: null, userErrors: [userError(['id'], 'Only the owner can delete a task', UserErrorCode.FORBIDDEN)] };
    }
    const row = await this.deps.repo.delete(existing.id);
    if (!row) return { deletedId: null, userErrors: [userError(['id'], 'Task not found', UserErrorCode.NOT_FOUND)] };
    return { deletedId: globalId, userErrors: [] };
  }

  /** The task when it exists and the viewer may see it; otherwise null ("Task not found" either way). */
  private async findVisible(auth: Authentication, globalId: string): Promise<TaskRow | null> {
    const id = parseGlobalId(globalId, 'Task');
    const [row] = id ? await this.deps.repo.findByIds([id]) : [];
    return row && this.visible(auth, row) ? row : null;
  }

  private description(value: string | null | undefined, errors: UserErrors): string | null {
    if (value == null) return null;
    const trimmed = value.trim();
    if ([...trimmed].length > DESCRIPTION_MAX) {
      errors.add(['input', 'description'], `Description must be at most ${DESCRIPTION_MAX} characters`);
    }
    return trimmed === '' ? null : trimmed;
  }

  private dueDate(value: Date | null | undefined, errors: UserErrors): Date | null {
    if (value == null) return null;
    if (value.getTime() < Date.now()) errors.add(['input', 'dueDate'], 'Due date cannot be in the past');
    return value;
  }

  private async assignee(globalId: string | null | undefined, errors: UserErrors): Promise<string | null> {
    if (globalId == null) return null;
    const id = parseGlobalId(globalId, 'User');
    if (!id || !(await this.deps.repo.userExists(id))) {
      errors.add(['input', 'assigneeId'], 'User not found', UserErrorCode.NOT_FOUND);
      return null;
    }
    return id;
  }
}
