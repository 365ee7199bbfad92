/**
 * Trusted documents: with TRUSTED_DOCUMENTS set, the server runs only the operations of a manifest written at build
 * time (hash → document), so an attacker cannot send a query of their own at all. Clients send the hash in Apollo's
 * APQ wire format (`extensions.persistedQuery.sha256Hash`) or as `documentId` (plain hex or `sha256:<hex>`), on
 * HTTP and graphql-ws alike. Without a manifest, HTTP keeps Apollo's automatic persisted queries.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PersistedQueryOptions } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../schema/shared/errors.js';

export class TrustedDocuments {
  private constructor(private readonly documents: ReadonlyMap<string, string>) {}

  /**
   * Reads a manifest: `{ "<sha256 hex>": "<document>" }`, or Apollo's persisted-query manifest
   * (`{ "format": "apollo-persisted-query-manifest", "operations": [{ "id", "body" }] }`). Every key must be the
   * SHA-256 of its document, as the APQ wire format promises clients.
   */
  static load(file: string): TrustedDocuments {
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`TRUSTED_DOCUMENTS: cannot read a JSON manifest from ${file}: ${(error as Error).message}`, { cause: error });
    }
    const entries: Array<[unknown, unknown]> =
      (manifest as { format?: unknown })?.format === 'apollo-persisted-query-manifest'
        ? ((manifest as { operations?: Array<{ id?: unknown; body?: unknown }> }).operations ?? []).map((op) => [op.id, op.body])
        : Object.entries((manifest ?? {}) as Record<string, unknown>);
    const documents = new Map<string, string>();
    for (const [hash, document] of entries) {
      if (typeof hash !== 'string' || typeof document !== 'string') {
        throw new Error(`TRUSTED_DOCUMENTS: ${file} must map hashes to document strings`);
      }
      const actual = sha256(document);
      if (actual !== hash.toLowerCase()) {
        throw new Error(`TRUSTED_DOCUMENTS: the entry ${hash} in ${file} is not the SHA-256 of its document (${actual})`);
      }
      documents.set(actual, document);
    }
    if (documents.size === 0) throw new Error(`TRUSTED_DOCUMENTS: ${file} holds no documents`);
    return new TrustedDocuments(documents);
  }

  get size(): number {
    return this.documents.size;
  }

  get(hash: string): string | undefined {
    return this.documents.get(hash.toLowerCase());
  }

  /** A read-only APQ cache for Apollo: hash-only requests resolve from the manifest and nothing is ever registered. */
  apqCache(prefix = 'apq:'): NonNullable<PersistedQueryOptions['cache']> {
    return {
      get: async (key) => (key.startsWith(prefix) ? this.get(key.slice(prefix.length)) : undefined),
      set: async () => {},
      delete: async () => false,
    };
  }
}

export function sha256(document: string): string {
  return createHash('sha256').update(document).digest('hex');
}

/** The document hash a request names, from `documentId` or the APQ extension; null when it names none. */
export function requestedHash(documentId: unknown, extensions: unknown): string | null {
  if (typeof documentId === 'string' && documentId !== '') return documentId.replace(/^sha256:/i, '');
  const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery?.sha256Hash;
  return typeof hash === 'string' && hash !== '' ? hash : null;
}

export function trustedDocumentRequired(): GraphQLError {
  return new GraphQLError(
    'Only trusted documents are allowed: send the hash of a registered operation as documentId or extensions.persistedQuery.sha256Hash instead of a query.',
    { extensions: { code: ErrorCode.BAD_REQUEST } },
  );
}

export function trustedDocumentNotFound(): GraphQLError {
  // Apollo's message and code, so APQ-aware clients recognise it.
  return new GraphQLError('PersistedQueryNotFound', { extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_FOUND } });
}

/**
 * The document a request may run in trusted mode: the manifest's, by hash. A query text sent along with a known
 * hash is ignored (the manifest's text is what runs).
 */
export function resolveTrustedDocument(
  trusted: TrustedDocuments,
  request: { documentId?: unknown; extensions?: unknown },
): { hash: string; query: string; error?: undefined } | { error: GraphQLError } {
  const hash = requestedHash(request.documentId, request.extensions);
  if (hash === null) return { error: trustedDocumentRequired() };
  const query = trusted.get(hash);
  return query === undefined ? { error: trustedDocumentNotFound() } : { hash: hash.toLowerCase(), query };
}
