/**
 * The verification server: the real OpsHub app (createApp), started inside the harness on the seeded database with
 * NODE_ENV=test and DEBUG_SQL on, which production refuses. It signs the bench user in, and runs each workload once
 * to count its SQL statements (`extensions.sql.statements`) and to take OpsHub's reference data. The schema, resolvers
 * and SQL are the ones every candidate runs, so the count holds for all of them; the production processes stay
 * free of the statement counter.
 */
import { createWriteStream } from 'node:fs';
import type { GraphQLSchema } from 'graphql';
import { loadConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/client.js';
import { createApp } from '../../src/server/compose.js';
import { BENCH_ADMIN } from './dataset.js';
import { RESULTS_DIR } from './processes.js';
import type { GraphqlRequest } from './workloads.js';

export interface GqlBody {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  extensions?: { sql?: { statements: number } };
}

export interface Verifier {
  schema: GraphQLSchema;
  gql(request: GraphqlRequest, authorization: string | null): Promise<{ status: number; body: GqlBody }>;
  /** SQL statements of one request; null when the response does not carry the count. */
  statements(request: GraphqlRequest, authorization: string | null): Promise<{ statements: number | null; body: GqlBody }>;
  /** Signs the bench admin in with the `login` mutation; null when the schema has none (identity not built yet). */
  login(): Promise<string | null>;
  close(): Promise<void>;
}

export async function startVerifier(database: DatabaseHandle, env: Record<string, string>): Promise<Verifier> {
  const config = loadConfig({ ...env, NODE_ENV: 'test', DEBUG_SQL: 'true', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
  const logStream = createWriteStream(`${RESULTS_DIR}logs/verifier.log`);
  const app = await createApp({ config, database, logStream });
  const url = await app.listen();

  const gql: Verifier['gql'] = async (request, authorization) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, body: (await response.json()) as GqlBody };
  };

  return {
    schema: app.schema,
    gql,
    async statements(request, authorization) {
      const { body } = await gql(request, authorization);
      const statements = body.extensions?.sql?.statements;
      return { statements: typeof statements === 'number' ? statements : null, body };
    },
    async login() {
      if (!app.schema.getMutationType()?.getFields().login) return null;
      const { body } = await gql(
        {
          query: `mutation BenchLogin($input: LoginInput!) { login(input: $input) { accessToken userErrors { message } } }`,
          variables: { input: { login: BENCH_ADMIN.username, password: BENCH_ADMIN.password } },
        },
        null,
      );
      const payload = body.data?.login as { accessToken?: string | null; userErrors?: Array<{ message: string }> } | undefined;
      if (!payload?.accessToken) {
        const reason = body.errors?.[0]?.message ?? payload?.userErrors?.[0]?.message ?? 'no access token';
        throw new Error(`the bench admin could not sign in: ${reason}`);
      }
      return `Bearer ${payload.accessToken}`;
    },
    async close() {
      await app.close();
      logStream.end();
    },
  };
}
