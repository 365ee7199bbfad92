/**
 * Acceptance 3: every root operation of the schema shows its anonymous, under-scoped and allowed outcomes. The list
 * comes from the schema itself, so an operation without a row in operations.ts fails the suite.
 */
import { isNonNullType, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/auth/scopes.js';
import { createSchema } from '../../src/schema/index.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type GqlResponse, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { triggerUntilEvent } from '../helpers/subscriptions.js';
import { operations, type OperationEnv, type OperationRule } from './operations.js';

const schema = await createSchema();
const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((type): type is GraphQLObjectType =>
  Boolean(type),
);
const rootFields = roots.flatMap((type) => Object.keys(type.getFields()).map((field) => `${type.name}.${field}`)).sort();

let server: TestServer;
let admin: TestUser;
/** The ADMIN whose tokens the cases use; not the fixture admin, since logoutAll ends every session of its user. */
let subject: TestUser;
let env: OperationEnv;
beforeAll(async () => {
  server = await startServer();
  [admin, subject] = await Promise.all([createUser(server, { role: 'ADMIN' }), createUser(server, { role: 'ADMIN' })]);
  env = { server, admin, subject, gql: (query, variables) => server.gql(query, variables, { token: admin.token }) };
});
afterAll(() => server?.close());

/** A fresh session of the subject whose token carries exactly `scopes` (a new one per case: logoutAll ends it). */
async function tokenWith(scopes: readonly string[]): Promise<string> {
  const row = await server.app.container.services.users.findByLogin(subject.username);
  const session = await server.app.container.services.auth.startSession(row!, [...scopes]);
  expect(session.scopes).toEqual(ALL_SCOPES.filter((scope) => scopes.includes(scope)));
  return session.accessToken!;
}

type ErrorList = NonNullable<GqlResponse['body']['errors']>;
const authErrors = (errors: ErrorList | undefined) =>
  (errors ?? []).filter((error) => ['UNAUTHENTICATED', 'FORBIDDEN'].includes(error.extensions?.code));

/** Runs the rule's document over HTTP, or over graphql-ws for a subscription (triggering an event when allowed). */
async function run(key: string, rule: OperationRule, token: string | null, expectAllowed: boolean) {
  const variables = (await rule.variables?.(env)) ?? {};
  if (!key.startsWith('Subscription.')) {
    const { body } = await server.gql(rule.document, variables, token ? { token } : {});
    return { errors: body.errors, data: body.data };
  }
  const client = server.wsClient(token ? { authorization: `Bearer ${token}` } : {});
  const collected = collect(client, { query: rule.document, variables });
  try {
    if (expectAllowed) {
      expect(rule.trigger, `${key} needs a trigger`).toBeDefined();
      await triggerUntilEvent(collected, () => rule.trigger!(env, variables));
    } else {
      await collected.waitFor(1);
    }
    const first = collected.events[0] as { data?: Record<string, unknown> | null; errors?: ErrorList };
    return { errors: first.errors, data: first.data ?? null };
  } finally {
    collected.dispose();
    await client.dispose();
  }
}

describe('operation coverage', () => {
  it('has a rule for every root field of the schema, and no rule for a field that does not exist', () => {
    expect(
      rootFields.filter((field) => !(field in operations)),
      'root fields without a row in test/auth/operations.ts',
    ).toEqual([]);
    expect(
      Object.keys(operations).filter((key) => !rootFields.includes(key)),
      'rows for fields not in the schema',
    ).toEqual([]);
  });

  describe.each(rootFields.filter((field) => field in operations))('%s', (key) => {
    const rule = operations[key]!;
    const field = key.split('.')[1]!;

    if (rule.scopes === null) {
      it('is public: an anonymous caller is neither refused nor asked to sign in', async () => {
        const { errors, data } = await run(key, rule, null, true);
        expect(authErrors(errors)).toEqual([]);
        expect(data).toHaveProperty(field);
      });
      return;
    }

    it('refuses an anonymous caller with UNAUTHENTICATED', async () => {
      const { errors, data } = await run(key, rule, null, false);
      expect(errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const type = roots.find((root) => root.name === key.split('.')[0])!.getFields()[field]!.type;
      // A non-null field's error nulls the whole data; a nullable one keeps the field as null.
      expect(isNonNullType(type) ? data : data?.[field]).toBeNull();
    });

    const required = rule.scopes;
    if (required.length > 0) {
      it(`refuses a token without ${required.join(' and ')} with FORBIDDEN naming the missing scopes`, async () => {
        const token = await tokenWith(ALL_SCOPES.filter((scope) => !required.includes(scope)));
        const { errors } = await run(key, rule, token, false);
        expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect([...errors![0]!.extensions!.missingScopes].sort()).toEqual([...required].sort());
      });
    } else {
      it('needs no scope: a signed-in token with no scopes at all is allowed', async () => {
        const { errors, data } = await run(key, rule, await tokenWith([]), true);
        expect(authErrors(errors)).toEqual([]);
        expect(data).toHaveProperty(field);
      });
    }

    it(`allows a token holding only ${required.length ? required.join(' and ') : 'a session'}`, async () => {
      const { errors, data } = await run(key, rule, await tokenWith(required), true);
      expect(authErrors(errors)).toEqual([]);
      expect(data?.[field]).not.toBeUndefined();
      expect(data?.[field]).not.toBeNull();
    });
  });
});
