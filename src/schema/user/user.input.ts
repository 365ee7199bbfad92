import { Field, InputType } from 'type-graphql';

@InputType({ description: 'A new account. Every rule broken is reported as a user error on its field.' })
export class RegisterInput {
  @Field(() => String, { description: '3 to 20 letters, digits or underscores; unique ignoring case.' })
  username!: string;

  @Field(() => String, { description: 'A valid e-mail address, unique; stored lower-case. Must not contain the username.' })
  email!: string;

  @Field(() => String, {
    description: 'At least 8 characters with an upper-case letter, a lower-case letter and a digit.',
  })
  password!: string;

  @Field(() => String, { nullable: true, description: 'Full name, 2 to 100 characters.' })
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
