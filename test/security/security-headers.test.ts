/**
 * The security headers are @fastify/helmet's, computed once instead of on every request (src/server/security.ts): a
 * response carries the same header lines — names as spelled, values, order — as the same route behind the plugin
 * itself, on GraphQL and other routes, for successes and refusals.
 */
import { request as httpRequest } from 'node:http';
import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELMET_OPTIONS } from '../../src/server/security.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** The raw header lines of a response, as [name, value] in wire order. */
function rawHeaders(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (response) => {
      response.resume();
      const lines: string[][] = [];
      for (let index = 0; index < response.rawHeaders.length; index += 2)
        lines.push([response.rawHeaders[index]!, response.rawHeaders[index + 1]!]);
      response.on('end', () => resolve(lines));
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

let server: TestServer;
let reference: string[][];
beforeAll(async () => {
  server = await startServer();
  // The plugin itself, with the same options, on a bare Fastify: what it adds to a response is the reference.
  const bare = Fastify();
  bare.get('/', async () => 'ok');
  const plain = await bare.inject('/');
  await bare.close();
  const withHelmet = Fastify();
  await withHelmet.register(helmet, HELMET_OPTIONS);
  withHelmet.get('/', async () => 'ok');
  const address = await withHelmet.listen({ port: 0, host: '127.0.0.1' });
  const lines = await rawHeaders(address);
  await withHelmet.close();
  // Minus what Node and Fastify send on every response anyway (inject leaves out the connection headers).
  const own = new Set([...Object.keys(plain.headers), 'connection', 'keep-alive', 'date', 'transfer-encoding']);
  reference = lines.filter(([name]) => !own.has(name!.toLowerCase()));
});
afterAll(() => server?.close());

describe('security headers', () => {
  it('the reference has the headers helmet sets', () => {
    expect(reference.map(([name]) => name!.toLowerCase())).toEqual(
      expect.arrayContaining(['strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy']),
    );
    expect(reference.find(([name]) => name!.toLowerCase() === 'x-frame-options')?.[1]).toBe('DENY');
  });

  const requests: Array<[string, () => [string, Parameters<typeof rawHeaders>[1]]]> = [
    [
      'a GraphQL POST',
      () => [server.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }],
    ],
    ['a GraphQL GET', () => [`${server.httpUrl}?query=%7B__typename%7D`, { headers: { 'apollo-require-preflight': '1' } }]],
    ['a refused GraphQL request', () => [server.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }]],
    ['a health check', () => [`${server.url}/healthz`, {}]],
    ['an unknown route', () => [`${server.url}/nowhere`, {}]],
  ];
  it.each(requests)('%s carries the same header lines, first, in the same order', async (_name, make) => {
    const [url, init] = make();
    const lines = await rawHeaders(url, init);
    expect(lines.slice(0, reference.length)).toEqual(reference);
  });
});
