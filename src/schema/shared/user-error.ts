import { Field, ObjectType, registerEnumType } from 'type-graphql';

export enum UserErrorCode {
  INVALID = 'INVALID',
  TAKEN = 'TAKEN',
  NOT_FOUND = 'NOT_FOUND',
  FORBIDDEN = 'FORBIDDEN',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  LIMIT_EXCEEDED = 'LIMIT_EXCEEDED',
}

registerEnumType(UserErrorCode, {
  name: 'UserErrorCode',
  description: 'Why a mutation could not do what was asked.',
  valuesConfig: {
    INVALID: { description: 'A value breaks a validation rule.' },
    TAKEN: { description: 'A value that must be unique is already in use.' },
    NOT_FOUND: { description: 'A referenced object does not exist or is not visible to the viewer.' },
    FORBIDDEN: { description: 'The viewer may not do this to this object.' },
    INVALID_CREDENTIALS: { description: 'The login or the password is wrong.' },
    LIMIT_EXCEEDED: { description: 'A quantity or rate limit was reached.' },
  },
});

@ObjectType({ description: 'An expected failure of a mutation, with the path of the input field it concerns.' })
export class UserError {
  @Field(() => [String], {
    nullable: true,
    description: 'Path to the input field, e.g. ["input", "price"]; null when it concerns no single field.',
  })
  field!: string[] | null;

  @Field(() => String, { description: 'A human-readable message.' })
  message!: string;

  @Field(() => UserErrorCode, { description: 'A machine-readable code.' })
  code!: UserErrorCode;
}

export function userError(field: string[] | null, message: string, code: UserErrorCode = UserErrorCode.INVALID): UserError {
  return Object.assign(new UserError(), { field, message, code });
}

/** Collects validation failures; services return them in the payload instead of throwing. */
export class UserErrors {
  readonly list: UserError[] = [];

  add(field: string[] | null, message: string, code: UserErrorCode = UserErrorCode.INVALID): this {
    this.list.push(userError(field, message, code));
    return this;
  }

  get any(): boolean {
    return this.list.length > 0;
  }
}
