import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { TaskRow } from '../../db/tables.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';
import { MAX_TAGS } from '../shared/validation.js';

/** Field limits: the service checks them and the descriptions state them, so both read these. */
export const TITLE_MAX = 100;
export const DESCRIPTION_MAX = 500;

export enum Priority {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
}

registerEnumType(Priority, {
  name: 'Priority',
  description: 'How urgent a task is.',
  valuesConfig: {
    LOW: { description: 'When there is time.' },
    MEDIUM: { description: 'The default.' },
    HIGH: { description: 'First.' },
  },
});

@ObjectType({ implements: Node, description: 'A to-do, owned by its creator and optionally assigned to someone.' })
export class Task implements Node {
  readonly __typename = 'Task';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders and services. */
  rowId!: string;

  ownerId!: string;
  assigneeId!: string | null;

  @Field(() => String, { description: `Title, 1 to ${TITLE_MAX} characters.` })
  title!: string;

  @Field(() => String, { nullable: true, description: `At most ${DESCRIPTION_MAX} characters.` })
  description!: string | null;

  @Field(() => Priority, { description: 'How urgent the task is.' })
  priority!: Priority;

  @Field(() => Boolean, { description: 'True once done.' })
  completed!: boolean;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the task is due; never in the past when set.' })
  dueDate!: Date | null;

  @Field(() => [String], { description: `Lower-case tags, at most ${MAX_TAGS}, without duplicates.` })
  tags!: string[];

  @Field(() => DateTimeScalar, { description: 'When the task was created.' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When the task was last changed.' })
  updatedAt!: Date;

  static fromRow(row: TaskRow): Task {
    return Object.assign(new Task(), {
      id: toGlobalId('Task', row.id),
      rowId: row.id,
      ownerId: row.ownerId,
      assigneeId: row.assigneeId,
      title: row.title,
      description: row.description,
      priority: row.priority as Priority,
      completed: row.completed,
      dueDate: row.dueAt,
      tags: row.tags,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: 'Result of creating or changing a task.' })
export class TaskPayload {
  @Field(() => Task, { nullable: true, description: 'The task as stored; null when the mutation failed.' })
  task!: Task | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
