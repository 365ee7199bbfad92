import { Field, InputType } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import { FULL_NAME_MAX, FULL_NAME_MIN, USERNAME_MAX, USERNAME_MIN, type User } from './user.type.js';

/** Password length in characters; the service checks both, the description states the minimum. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

@InputType({ description: 'A new account. Every rule broken is reported as a user error on its field.' })
export class RegisterInput implements InputOf<User> {
  @Field(() => String, { description: `${USERNAME_MIN} to ${USERNAME_MAX} letters, digits or underscores; unique ignoring case.` })
  username!: string;

  @Field(() => String, { description: 'A valid e-mail address, unique; stored lower-case. Must not contain the username.' })
  email!: string;

  @Field(() => String, {
    description: `At least ${PASSWORD_MIN} characters with an upper-case letter, a lower-case letter and a digit.`,
  })
  password!: string;

  @Field(() => String, { nullable: true, description: `Full name, ${FULL_NAME_MIN} to ${FULL_NAME_MAX} characters.` })
  fullName?: string | null;
}

@InputType({ description: 'Credentials for a new session.' })
export class LoginInput {
  @Field(() => String, { description: 'Username (any case) or e-mail address.' })
  login!: string;

  @Field(() => String, { description: 'The password.' })
  password!: string;

  @Field(() => [String], {
    nullable: true,
    description: "Scopes to request; the token gets those the role allows. Absent: all of the role's scopes.",
  })
  scopes?: string[] | null;
}
