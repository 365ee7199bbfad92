import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { DeletePayload } from '../shared/payloads.js';
import { User } from '../user/user.type.js';
import { CreateTaskInput, TaskFilter, TaskOrder, UpdateTaskInput } from './task.input.js';
import { Task, TaskPayload } from './task.type.js';

export const { ConnectionType: TaskConnection } = connectionTypes(Task, 'Task', 'tasks');

@Resolver(() => Task)
export class TaskResolver {
  @Authorized('tasks:read')
  @Query(() => TaskConnection, {
    description: "The tasks the viewer owns or is assigned (everyone's for holders of `tasks:delete`), newest first by default.",
  })
  tasks(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('filter', () => TaskFilter, { nullable: true, description: 'Only tasks matching every given filter.' })
    filter: TaskFilter | null,
    @Arg('orderBy', () => TaskOrder, { nullable: true, description: 'Sort order; CREATED_AT DESC when absent.' })
    orderBy: TaskOrder | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.tasks.list(ctx, args, filter, orderBy);
  }

  @Authorized('tasks:write')
  @Mutation(() => TaskPayload, { description: 'Creates a task owned by the viewer.' })
  createTask(@Arg('input', () => CreateTaskInput, { description: 'The task.' }) input: CreateTaskInput, @Ctx() ctx: Context) {
    return ctx.services.tasks.create(ctx, input);
  }

  @Authorized('tasks:write')
  @Mutation(() => TaskPayload, {
    description: 'Changes a task the viewer owns or is assigned (any task for `tasks:delete`); absent fields stay as they are.',
  })
  updateTask(
    @Arg('input', () => UpdateTaskInput, { description: 'The task and the fields to change.' }) input: UpdateTaskInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.tasks.update(ctx, input);
  }

  @Authorized('tasks:write')
  @Mutation(() => DeletePayload, { description: 'Deletes a task: its owner, or a holder of `tasks:delete`.' })
  deleteTask(@Arg('id', () => ID, { description: 'The task to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.tasks.delete(ctx, id);
  }

  @FieldResolver(() => User, { description: 'Who created the task.' })
  async owner(@Root() task: Task, @Ctx() ctx: Context): Promise<User> {
    const row = await ctx.loaders.user.load(task.ownerId);
    if (!row) throw new Error(`user ${task.ownerId} not found`);
    return User.fromRow(row);
  }

  @FieldResolver(() => User, { nullable: true, description: 'Who the task is assigned to; null when unassigned.' })
  async assignee(@Root() task: Task, @Ctx() ctx: Context): Promise<User | null> {
    if (!task.assigneeId) return null;
    const row = await ctx.loaders.user.load(task.assigneeId);
    return row && User.fromRow(row);
  }
}
