/** GraphQL over SSE for tests: graphql-sse's own client, and one raw request for the exact status and body. */
import { createClient, type Client } from 'graphql-sse';
import type { TestServer } from './server.js';

export interface SseRequest {
  query?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
  documentId?: string;
}

export interface SseOutcome {
  status: number;
  headers: Headers;
  /** The `next` payloads of the stream, or the one JSON body of a refused request. */
  results: Array<{
    data?: Record<string, any> | null;
    errors?: Array<{ message: string; extensions?: Record<string, any> }>;
    extensions?: Record<string, any>;
  }>;
  completed: boolean;
}

/** graphql-sse's client in distinct-connections mode (one event stream per operation), closed by `dispose()`. */
export function sseClient(server: TestServer, token?: string): Client {
  return createClient({
    url: server.httpUrl,
    singleConnection: false,
    retryAttempts: 0,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** One POST with `Accept: text/event-stream`, read to its end: a refusal is JSON, a result is a stream of events. */
export async function sseRun(server: TestServer, request: SseRequest, token?: string): Promise<SseOutcome> {
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(request),
  });
  const text = await response.text();
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return { status: response.status, headers: response.headers, results: [JSON.parse(text)], completed: false };
  }
  const results: SseOutcome['results'] = [];
  let completed = false;
  for (const block of text.split('\n\n')) {
    const event = /^event: (\w+)/m.exec(block)?.[1];
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    if (event === 'next') results.push(JSON.parse(data));
    if (event === 'complete') completed = true;
  }
  return { status: response.status, headers: response.headers, results, completed };
}
