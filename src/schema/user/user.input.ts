import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import { SortDirection } from '../shared/connection.js';
import { Bounded, FILTER_TEXT_MAX, type InputOf } from '../shared/validation.js';
import { FULL_NAME_MAX, FULL_NAME_MIN, Role, USERNAME_MAX, USERNAME_MIN, type User } from './user.type.js';

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

/** Profile limits (seed 001 Q9, Q11, §24, §29); the service checks them, the descriptions state them. */
export const BIO_MAX = 500;
export const MIN_AGE_YEARS = 13;

@InputType({ description: "Changes to the viewer's own profile: absent fields stay as they are, null clears one." })
export class UpdateProfileInput implements InputOf<User> {
  @Field(() => String, { nullable: true, description: `Full name, ${FULL_NAME_MIN} to ${FULL_NAME_MAX} characters.` })
  fullName?: string | null;

  @Field(() => String, { nullable: true, description: `About the user, at most ${BIO_MAX} characters.` })
  bio?: string | null;

  @Field(() => String, { nullable: true, description: 'Phone number: an optional +, then 9 to 15 digits (an optional leading 1 included).' })
  phone?: string | null;

  @Field(() => String, { nullable: true, description: `Birth date as YYYY-MM-DD; the user must be at least ${MIN_AGE_YEARS} years old.` })
  birthDate?: string | null;
}

@InputType({ description: "A new password for the viewer; the user's other sessions end." })
export class ChangePasswordInput {
  @Field(() => String, { description: 'The current password.' })
  currentPassword!: string;

  @Field(() => String, {
    description: `At least ${PASSWORD_MIN} characters with an upper-case letter, a lower-case letter and a digit.`,
  })
  newPassword!: string;
}

@InputType({ description: "A user's new role." })
export class SetUserRoleInput {
  @Field(() => ID, { description: 'The user.' })
  userId!: string;

  @Field(() => Role, { description: 'The role to give.' })
  role!: Role;
}

@InputType({ description: 'Deactivates or reactivates a user.' })
export class SetUserActiveInput {
  @Field(() => ID, { description: 'The user.' })
  userId!: string;

  @Field(() => Boolean, { description: 'False deactivates (the user can no longer sign in, and is signed out everywhere).' })
  isActive!: boolean;
}

@InputType({ description: 'Filters for the user directory; all given filters must match.' })
export class UserFilter {
  @Bounded({ maxLength: FILTER_TEXT_MAX })
  @Field(() => String, {
    nullable: true,
    description: `Part of the username, e-mail or full name, matched case-insensitively; at most ${FILTER_TEXT_MAX} characters.`,
  })
  search?: string | null;

  @Field(() => Role, { nullable: true, description: 'Only users with this role.' })
  role?: Role | null;

  @Field(() => Boolean, { nullable: true, description: 'True: only active users; false: only deactivated ones.' })
  isActive?: boolean | null;
}

export enum UserOrderField {
  CREATED_AT = 'CREATED_AT',
  USERNAME = 'USERNAME',
}

registerEnumType(UserOrderField, {
  name: 'UserOrderField',
  description: 'Fields the user directory can be sorted by.',
  valuesConfig: {
    CREATED_AT: { description: 'When the account was created.' },
    USERNAME: { description: 'Username.' },
  },
});

@InputType({ description: 'Sort order of the user directory.' })
export class UserOrder {
  @Field(() => UserOrderField, { description: 'The field to sort by; ties are broken by id.' })
  field!: UserOrderField;

  @Field(() => SortDirection, { description: 'The direction.' })
  direction!: SortDirection;
}
