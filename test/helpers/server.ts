/** Starts the real server on port 0 against a per-file database; everything opened is closed by `close()`. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig, type Config } from '../../src/config.js';
import { databaseOptions, openDatabase } from '../../src/db/client.js';
import { createApp, type App, type AppOptions } from '../../src/server/compose.js';
import { createTestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, any> }>;
    extensions?: Record<string, any>;
  };
}

export interface GqlOptions {
  token?: string;
  headers?: Record<string, string>;
}

export interface TestServer {
  app: App;
  config: Config;
  url: string;
  httpUrl: string;
  wsUrl: string;
  logs: Array<Record<string, any>>;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: GqlOptions): Promise<GqlResponse<T>>;
  wsClient(connectionParams?: Record<string, unknown>): Client;
  close(): Promise<void>;
}

/**
 * Credentials that must never reach a log line: a password hash (src/auth/passwords.ts), an access or refresh token,
 * the password every test account has. Every test server's log is scanned when it closes, so the whole suite is a
 * log scan; test/security/log-scan.test.ts adds SQL parameters and the failure paths.
 */
const SECRETS: Array<[string, RegExp]> = [
  ['a password hash', /scrypt\$\d+\$/],
  ['a JWT', /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/],
  ['a refresh token', /ohr_[\w-]{43}/],
  ['the test password', /Corr3ct-Horse/],
];

function assertNoSecretsLogged(logs: ReadonlyArray<Record<string, unknown>>): void {
  for (const line of logs) {
    const text = JSON.stringify(line);
    for (const [what, pattern] of SECRETS) {
      if (pattern.test(text)) throw new Error(`The server logged ${what}: ${text.slice(0, 500)}`);
    }
  }
}

/** `options.jobHandlers` adds or replaces job kinds (see createApp). */
export async function startServer(
  env: Record<string, string> = {},
  options: Pick<AppOptions, 'jobHandlers' | 'onOperationStep'> = {},
): Promise<TestServer> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: ':memory:',
    LOG_LEVEL: 'info',
    SEED_DEMO_DATA: 'false',
    DEBUG_SQL: 'true',
    JWT_SECRET: TEST_JWT_SECRET,
    // Every test signs its users in from 127.0.0.1; the per-address limit has its own test (test/auth/login-limit.test.ts).
    LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '1000000',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...env,
  });
  const handle = await openDatabase(databaseOptions(config));
  await handle.migrate();
  const logs: Array<Record<string, any>> = [];
  const app = await createApp({
    config,
    database: handle,
    logStream: { write: (line) => void logs.push(JSON.parse(line)) },
    jobHandlers: options.jobHandlers,
    onOperationStep: options.onOperationStep,
  });
  const url = await app.listen();
  const clients: Client[] = [];

  return {
    app,
    config,
    url,
    httpUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    logs,
    async gql(query, variables, options = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as GqlResponse<any>['body'] };
    },
    wsClient(connectionParams) {
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.dispose()));
      await app.close();
      await database.drop();
      assertNoSecretsLogged(logs);
    },
  };
}
