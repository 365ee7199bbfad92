import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { LoginInput, RegisterInput } from './user.input.js';
import { AuthPayload, RevokeSessionsPayload, Scope, Session } from './user.type.js';

/** Sign-up, sign-in and sessions. register, login, refreshSession, logout and scopes are public by design. */
@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Creates a USER account and signs it in.' })
  register(@Arg('input', () => RegisterInput, { description: 'The new account.' }) input: RegisterInput, @Ctx() ctx: Context) {
    return ctx.services.auth.register(input);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Signs in by username or e-mail. Wrong credentials are INVALID_CREDENTIALS; too many wrong passwords for one ' +
      'account within the window are refused with RATE_LIMITED.',
  })
  login(
    @Arg('input', () => LoginInput, { description: 'The credentials, and optionally fewer scopes.' }) input: LoginInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.auth.login(input, ctx.clientAddress);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Exchanges a refresh token for a new token pair. Each refresh token works once: presenting a used one revokes ' + 'its whole session.',
  })
  refreshSession(
    @Arg('refreshToken', () => String, { description: 'The refresh token from login or the last refresh.' }) refreshToken: string,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.auth.refresh(refreshToken);
  }

  @Mutation(() => Boolean, {
    description: 'Ends the session of a refresh token (possessing it is the authorization); false when it was not live.',
  })
  logout(
    @Arg('refreshToken', () => String, { description: 'A refresh token of the session to end.' }) refreshToken: string,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.auth.logout(refreshToken);
  }

  @Authorized()
  @Mutation(() => Int, { description: 'Ends every session of the viewer; returns how many were live.' })
  logoutAll(@Ctx() ctx: Context) {
    return ctx.services.auth.logoutAll(ctx.viewer!.id);
  }

  @Authorized()
  @Mutation(() => RevokeSessionsPayload, {
    description:
      'Ends a session and closes its sockets and event streams at once (4403 "session revoked"). Own sessions; ' +
      "anyone's with user:write (ADMIN). Another user's session without it is NOT_FOUND.",
  })
  revokeSession(@Arg('id', () => ID, { description: 'The session (`Session.id`).' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.auth.revokeSession(ctx, id);
  }

  @Authorized('user:write')
  @Mutation(() => RevokeSessionsPayload, {
    description: 'ADMIN: ends every session of a user and closes their sockets and event streams at once (4403 "session revoked").',
  })
  revokeUserSessions(@Arg('userId', () => ID, { description: 'The user.' }) userId: string, @Ctx() ctx: Context) {
    return ctx.services.auth.revokeUserSessions(ctx, userId);
  }

  @Authorized()
  @Query(() => [Session], { description: "The viewer's live sessions, newest first." })
  sessions(@Ctx() ctx: Context) {
    return ctx.services.auth.listSessions(ctx.viewer!.id, ctx.sessionId);
  }

  @Query(() => [Scope], { description: 'Every scope, with what it allows.' })
  scopes(@Ctx() ctx: Context) {
    return ctx.services.auth.scopeCatalogue();
  }
}
