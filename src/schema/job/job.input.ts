import { Field, InputType } from 'type-graphql';
import { JSONScalar } from '../shared/scalars.js';
import type { InputOf } from '../shared/validation.js';
import { JobKind, type Job } from './job.type.js';

@InputType({ description: 'A background job to start.' })
export class StartJobInput implements InputOf<Job> {
  @Field(() => JobKind, { description: 'What the job does; see JobKind for the parameters of each kind.' })
  kind!: JobKind;

  @Field(() => JSONScalar, { nullable: true, description: 'Parameters of the kind, as a JSON object; validated when the job is started.' })
  params?: unknown;
}
