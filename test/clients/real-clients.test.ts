/**
 * Real GraphQL clients, configured as their own documentation shows, against the live server: Apollo Client 4
 * (HttpLink, a SetContextLink for the token, an ErrorLink that refreshes on UNAUTHENTICATED), urql (default
 * exchanges, queries as GET within the URL limit, the token in `fetchOptions`) and graphql-request. They send
 * `Accept: application/graphql-response+json` first, so every refusal must come in that type for them to read the
 * GraphQL errors at all (Apollo Client 4 reads a non-2xx `application/json` response as a bare ServerError).
 */
import { ApolloClient, CombinedGraphQLErrors, gql, HttpLink, InMemoryCache, ApolloLink, ServerError } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { cacheExchange, Client, fetchExchange } from '@urql/core';
import { ClientError, GraphQLClient } from 'graphql-request';
import { decodeJwt } from 'jose';
import { from as fromPromise, switchMap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

const VIEWER = 'query Viewer { viewer { username } }';

let server: TestServer;
const apolloClients: ApolloClient[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const client of apolloClients) client.stop();
  await server?.close();
});

/** An access token of the user's own session, signed with the server's key, that expired a minute ago. */
async function expiredToken(user: TestUser): Promise<string> {
  const claims = decodeJwt(user.token) as { sid: string; scope: string };
  const tokens = new TokenService({ ...server.config, jwt: { ...server.config.jwt, accessTtlSeconds: -60 } });
  const { token } = await tokens.signAccessToken({ userId: user.rowId, sessionId: claims.sid, scopes: claims.scope.split(' ') });
  return token;
}

/** The project's refreshSession, as an app's refresh function would call it. */
async function refresh(refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
  const { body } = await server.gql('mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }', {
    t: refreshToken,
  });
  const pair = body.data?.refreshSession;
  if (!pair?.accessToken) throw new Error(`refresh failed: ${JSON.stringify(body)}`);
  return pair;
}

describe('Apollo Client 4', () => {
  /** The setup of Apollo's docs: token from the app's store per request, refresh and retry on UNAUTHENTICATED. */
  function apolloClient(session: { accessToken: string; refreshToken: string }) {
    const seen: Array<{ code: unknown; requestId: unknown }> = [];
    const authLink = new SetContextLink(({ headers }) => ({ headers: { ...headers, authorization: `Bearer ${session.accessToken}` } }));
    const errorLink = new ErrorLink(({ error, operation, forward }) => {
      if (!CombinedGraphQLErrors.is(error)) return;
      const unauthenticated = error.errors.find((e) => e.extensions?.code === 'UNAUTHENTICATED');
      if (!unauthenticated) return;
      seen.push({ code: unauthenticated.extensions!.code, requestId: unauthenticated.extensions!.requestId });
      return fromPromise(refresh(session.refreshToken)).pipe(
        switchMap((pair) => {
          Object.assign(session, pair);
          return forward(operation);
        }),
      );
    });
    const client = new ApolloClient({
      link: ApolloLink.from([errorLink, authLink, new HttpLink({ uri: server.httpUrl })]),
      cache: new InMemoryCache(),
    });
    apolloClients.push(client);
    return { client, seen };
  }

  it('sees UNAUTHENTICATED for an expired token, refreshes it and gets the data on the retry', async () => {
    const user = await createUser(server);
    const session = { accessToken: await expiredToken(user), refreshToken: user.refreshToken };
    const { client, seen } = apolloClient(session);
    const result = await client.query({ query: gql(VIEWER), fetchPolicy: 'network-only' });
    expect(result.data).toEqual({ viewer: { __typename: 'User', username: user.username } });
    expect(seen).toEqual([{ code: 'UNAUTHENTICATED', requestId: expect.any(String) }]);
    expect(session.refreshToken).not.toBe(user.refreshToken);
  });

  it('reads a request the server refuses (a validation error) as GraphQL errors, not a bare ServerError', async () => {
    const user = await createUser(server);
    const { client } = apolloClient({ accessToken: user.token, refreshToken: user.refreshToken });
    const failure = await client.query({ query: gql('query Nope { nope }'), fetchPolicy: 'network-only' }).catch((error: unknown) => error);
    expect(ServerError.is(failure)).toBe(false);
    expect(CombinedGraphQLErrors.is(failure)).toBe(true);
    const [error] = (failure as CombinedGraphQLErrors).errors;
    expect(error!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', requestId: expect.any(String) });
  });
});

describe('urql', () => {
  /** urql's documented setup; `fetch` only records the method urql chose. */
  function urqlClient(token: string, methods: string[]) {
    return new Client({
      url: server.httpUrl,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: { headers: { authorization: `Bearer ${token}` } },
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
  }

  it('runs a query as GET with a bearer token (CSRF prevention accepts Authorization as preflight-forcing)', async () => {
    const user = await createUser(server);
    const methods: string[] = [];
    const result = await urqlClient(user.token, methods).query(VIEWER, {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data).toEqual({ viewer: { __typename: 'User', username: user.username } });
    expect(methods).toEqual(['GET']);
  });

  it('sees UNAUTHENTICATED with the request id for an expired token', async () => {
    const user = await createUser(server);
    const result = await urqlClient(await expiredToken(user), [])
      .query(VIEWER, {})
      .toPromise();
    expect(result.data).toBeUndefined();
    expect(result.error?.graphQLErrors.map((error) => error.extensions)).toEqual([
      { code: 'UNAUTHENTICATED', requestId: expect.any(String) },
    ]);
    expect(result.error?.response?.status).toBe(401);
  });
});

describe('graphql-request', () => {
  it('runs a query as GET with a bearer token', async () => {
    const user = await createUser(server);
    const client = new GraphQLClient(server.httpUrl, { method: 'GET', headers: { authorization: `Bearer ${user.token}` } });
    expect(await client.request(VIEWER)).toEqual({ viewer: { username: user.username } });
  });

  it('gets a 401 whose errors say UNAUTHENTICATED for an expired token', async () => {
    const user = await createUser(server);
    const client = new GraphQLClient(server.httpUrl, { headers: { authorization: `Bearer ${await expiredToken(user)}` } });
    const failure = await client.request(VIEWER).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ClientError);
    const { response } = failure as ClientError;
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    expect(response.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', requestId: response.headers.get('x-request-id') });
  });
});
