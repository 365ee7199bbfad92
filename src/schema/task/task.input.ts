import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import { SortDirection } from '../shared/connection.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { MAX_TAGS, type InputOf } from '../shared/validation.js';
import { DESCRIPTION_MAX, Priority, TITLE_MAX, type Task } from './task.type.js';

export enum TaskOrderField {
  CREATED_AT = 'CREATED_AT',
  UPDATED_AT = 'UPDATED_AT',
  TITLE = 'TITLE',
  PRIORITY = 'PRIORITY',
}

registerEnumType(TaskOrderField, {
  name: 'TaskOrderField',
  description: 'Fields tasks can be sorted by.',
  valuesConfig: {
    CREATED_AT: { description: 'Creation time.' },
    UPDATED_AT: { description: 'Time of the last change.' },
    TITLE: { description: 'Title.' },
    PRIORITY: { description: 'Priority, LOW < MEDIUM < HIGH.' },
  },
});

@InputType({ description: 'Filters for tasks; all given filters must match.' })
export class TaskFilter {
  @Field(() => Boolean, { nullable: true, description: 'Only done (true) or open (false) tasks.' })
  completed?: boolean | null;

  @Field(() => Priority, { nullable: true, description: 'Only tasks of this priority.' })
  priority?: Priority | null;

  @Field(() => ID, { nullable: true, description: 'Only tasks assigned to this user.' })
  assigneeId?: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Only tasks due before this time (tasks without a due date never match).' })
  dueBefore?: Date | null;
}

@InputType({ description: 'Sort order of tasks.' })
export class TaskOrder {
  @Field(() => TaskOrderField, { description: 'The field to sort by; ties are broken by id.' })
  field!: TaskOrderField;

  @Field(() => SortDirection, { description: 'The direction.' })
  direction!: SortDirection;
}

@InputType({ description: 'A new task, owned by the viewer.' })
export class CreateTaskInput implements InputOf<Omit<Task, 'assigneeId'>> {
  @Field(() => String, { description: `Title, 1 to ${TITLE_MAX} characters (trimmed).` })
  title!: string;

  @Field(() => String, { nullable: true, description: `At most ${DESCRIPTION_MAX} characters.` })
  description?: string | null;

  @Field(() => Priority, { nullable: true, description: 'MEDIUM when absent.' })
  priority?: Priority | null;

  @Field(() => Boolean, { nullable: true, description: 'False when absent.' })
  completed?: boolean | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the task is due; not in the past.' })
  dueDate?: Date | null;

  @Field(() => [String], { nullable: true, description: `At most ${MAX_TAGS}; trimmed, lower-cased, de-duplicated, empties dropped.` })
  tags?: string[] | null;

  @Field(() => ID, { nullable: true, description: 'The user to assign the task to.' })
  assigneeId?: string | null;
}

@InputType({
  description: 'Changes to a task: an absent field stays as it is; an explicit null clears description, dueDate, tags or assigneeId.',
})
export class UpdateTaskInput implements InputOf<Omit<Task, 'assigneeId'>> {
  @Field(() => ID, { description: 'The task to change.' })
  id!: string;

  @Field(() => String, { nullable: true, description: `Title, 1 to ${TITLE_MAX} characters; cannot be cleared.` })
  title?: string | null;

  @Field(() => String, { nullable: true, description: `At most ${DESCRIPTION_MAX} characters; null clears it.` })
  description?: string | null;

  @Field(() => Priority, { nullable: true, description: 'The priority; cannot be cleared.' })
  priority?: Priority | null;

  @Field(() => Boolean, { nullable: true, description: 'Done or not; cannot be cleared.' })
  completed?: boolean | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'A new due date, not in the past; null clears it.' })
  dueDate?: Date | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the tags (same rules as on creation); null clears them.' })
  tags?: string[] | null;

  @Field(() => ID, { nullable: true, description: 'The user to assign the task to; null unassigns it.' })
  assigneeId?: string | null;
}
