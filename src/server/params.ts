/**
 * The GraphQL parameters of an HTTP request (GraphQL over HTTP §Request Parameters): from the query string of a GET
 * (`variables` and `extensions` JSON-encoded), from the JSON object body of a POST; and the response media type it
 * accepts. Shared by the HTTP and SSE adapters; what is not one well-formed request is said in one message.
 */
import type { FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '../schema/shared/errors.js';
import { isObject, type OperationRequest, type TransportRefusal } from './operation.js';

export type OperationParams = Omit<OperationRequest, 'authorization' | 'client'>;

export function readParams(request: FastifyRequest): { params: OperationParams } | { error: string } {
  let params: OperationParams;
  if (request.method === 'GET') {
    const query = (request.query ?? {}) as Record<string, unknown>;
    try {
      params = {
        query: query.query,
        documentId: query.documentId,
        operationName: query.operationName,
        variables: typeof query.variables === 'string' ? JSON.parse(query.variables) : query.variables,
        extensions: typeof query.extensions === 'string' ? JSON.parse(query.extensions) : query.extensions,
      };
    } catch {
      return { error: '`variables` and `extensions` in a GET request must be JSON-encoded objects' };
    }
  } else {
    const body = request.body;
    if (!isObject(body)) return { error: 'The body must be one JSON object (batches are not supported)' };
    const fields = body as Record<string, unknown>;
    params = {
      query: fields.query,
      documentId: fields.documentId,
      operationName: fields.operationName,
      variables: fields.variables,
      extensions: fields.extensions,
    };
  }
  const { query, documentId, operationName, variables, extensions } = params;
  if (query != null && typeof query !== 'string') return { error: '`query` must be a string' };
  if (documentId != null && typeof documentId !== 'string') return { error: '`documentId` must be a string' };
  if (operationName != null && typeof operationName !== 'string') return { error: '`operationName` must be a string' };
  if (variables != null && !isObject(variables)) return { error: '`variables` must be an object' };
  if (extensions != null && !isObject(extensions)) return { error: '`extensions` must be an object' };
  return { params };
}

/** GET changes nothing (GraphQL over HTTP §GET): an operation type a GET may not run is 405 with `allow: POST`. */
export function getOnly(method: string, operation: string, allowed: readonly string[]): TransportRefusal | null {
  if (method !== 'GET' || allowed.includes(operation)) return null;
  return {
    error: new GraphQLError(`GET requests only support ${allowed.join(' and ')} operations, not ${operation} operations`, {
      extensions: { code: ErrorCode.BAD_REQUEST },
    }),
    status: 405,
    headers: { allow: 'POST' },
  };
}

export const JSON_MEDIA_TYPE = 'application/json; charset=utf-8';
export const GRAPHQL_RESPONSE_MEDIA_TYPE = 'application/graphql-response+json; charset=utf-8';
// In this order: a range both match (a wildcard) gives plain JSON, as Apollo Server answers a success.
const RESPONSE_MEDIA_TYPES = [JSON_MEDIA_TYPE, GRAPHQL_RESPONSE_MEDIA_TYPE];

/**
 * The GraphQL response media type a request accepts (GraphQL over HTTP §Accept, RFC 9110 §12.5.1): a type's quality is
 * that of the most specific range matching it; the higher quality wins, then the more specific match, then the range
 * listed first. `application/json` when there is no Accept header; null when it accepts neither type.
 */
export function acceptedMediaType(accept: string | undefined): string | null {
  if (accept === undefined) return JSON_MEDIA_TYPE;
  // Clients send the same few Accept headers on every request: each is worked out once.
  const known = acceptedTypes.get(accept);
  if (known !== undefined) return known.type;
  const type = negotiate(accept);
  if (accept.length <= 512) acceptedTypes.set(accept, { type });
  return type;
}

const acceptedTypes = new LRUCache<string, { type: string | null }>({ max: 256 });

function negotiate(accept: string): string | null {
  if (accept.trim() === '') return JSON_MEDIA_TYPE;
  const ranges = accept.split(',').map((part, order) => {
    const [range = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const quality = parameters.find((parameter) => parameter.startsWith('q='));
    return { range, quality: quality === undefined ? 1 : Number(quality.slice(2)), order };
  });
  let best: { type: string; quality: number; specificity: number; order: number } | null = null;
  for (const type of RESPONSE_MEDIA_TYPES) {
    const essence = type.split(';')[0]!;
    const specificityOf = (range: string) => (range === essence ? 2 : range === `${essence.split('/')[0]}/*` ? 1 : range === '*/*' ? 0 : -1);
    const match = ranges
      .map((range) => ({ ...range, specificity: specificityOf(range.range) }))
      .filter((range) => range.specificity >= 0)
      .sort((a, b) => b.specificity - a.specificity || a.order - b.order)[0];
    if (!match || !(match.quality > 0)) continue;
    const better =
      !best ||
      match.quality > best.quality ||
      (match.quality === best.quality &&
        (match.specificity > best.specificity || (match.specificity === best.specificity && match.order < best.order)));
    if (better) best = { type, quality: match.quality, specificity: match.specificity, order: match.order };
  }
  return best?.type ?? null;
}
