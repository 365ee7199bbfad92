/**
 * Request loggers are bound, not pino children (src/log.ts): every line a request writes still carries its request id,
 * a signed-in operation's line its user id, and an error keeps pino's `err` shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundLogger, type RootLogger } from '../../src/log.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
});
afterAll(() => server?.close());

describe('request log lines', () => {
  it('carry the request id in every line and the user id in the operation line', async () => {
    const requestId = `log-${Date.now()}`;
    const { status } = await server.gql('{ viewer { id } }', undefined, { token: user.token, headers: { 'x-request-id': requestId } });
    expect(status).toBe(200);
    const lines = server.logs.filter((line) => line.requestId === requestId);
    expect(lines.map((line) => line.msg)).toEqual(['incoming request', 'graphql operation', 'request completed']);
    expect(lines.find((line) => line.msg === 'graphql operation')).toMatchObject({ userId: user.rowId, transport: 'http' });
    expect(lines.find((line) => line.msg === 'request completed')).toMatchObject({ res: { statusCode: 200 } });
  });

  it('a bound logger writes pino’s call forms with its bindings, and nothing below its level', () => {
    const written: unknown[][] = [];
    const values = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 };
    const record =
      (level: string) =>
      (...args: unknown[]) =>
        written.push([level, ...args]);
    const root = {
      level: 'info',
      levels: { values },
      ...Object.fromEntries(Object.keys(values).map((level) => [level, record(level)])),
      silent: () => {},
      child: () => root,
    } as unknown as RootLogger;
    const log = boundLogger(root, { requestId: 'r1' }).child({ userId: 'u1' });
    const error = new Error('boom');
    log.info({ a: 1 }, 'with object');
    log.warn('plain %s', 'text');
    log.error(error);
    log.debug('below the level');
    expect(written).toEqual([
      ['info', { requestId: 'r1', userId: 'u1', a: 1 }, 'with object'],
      ['warn', { requestId: 'r1', userId: 'u1' }, 'plain %s', 'text'],
      ['error', { requestId: 'r1', userId: 'u1', err: error }, 'boom'],
    ]);
  });
});
