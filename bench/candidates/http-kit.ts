/**
 * What the hand-written candidates (graphql-js, lean, PostGraphile) share: a parse/validate cache per document, the
 * JSON body in and out of node:http, and the bearer-token check OpsHub's src/auth/tokens.ts makes (jose, the same
 * algorithm, issuer, audience, `typ`, key id and required claims).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { SigningKeys } from '../../src/auth/keys.js';
import type { Config } from '../../src/config.js';

/** Valid documents by their text, at most 1,000 (the oldest leaves first). */
export function documentCache(schema: GraphQLSchema) {
  const documents = new Map<string, DocumentNode>();
  return function prepare(query: string): { document: DocumentNode } | { errors: readonly GraphQLError[] } {
    const cached = documents.get(query);
    if (cached) return { document: cached };
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    const errors = validate(schema, document, specifiedRules);
    if (errors.length > 0) return { errors };
    if (documents.size >= 1_000) documents.delete(documents.keys().next().value!);
    documents.set(query, document);
    return { document };
  };
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * The verified claims of an `Authorization` header's access token; null for a header that is not a bearer token or a
 * token jose refuses (forged, expired, another key, issued in the future).
 */
export async function verifyBearer(
  authorization: string,
  keys: Pick<SigningKeys, 'kid' | 'alg' | 'verificationKey'>,
  config: Pick<Config, 'jwt'>,
): Promise<JWTPayload | null> {
  const match = BEARER.exec(authorization.trim());
  if (!match) return null;
  try {
    const { payload } = await jwtVerify(
      match[1]!,
      (header) => {
        if (header.kid !== keys.kid) throw new joseErrors.JWKSNoMatchingKey();
        return keys.verificationKey;
      },
      {
        algorithms: [keys.alg],
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'sid', 'scope', 'iat', 'exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      },
    );
    const { iat } = payload;
    if (typeof iat !== 'number' || iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS) return null;
    return payload;
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return null;
    throw error;
  }
}
