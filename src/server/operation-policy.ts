/**
 * What every operation goes through before it runs, on both transports: parsing (cached), and validation with the
 * specified rules plus ours. Apollo applies `extraRules` itself over HTTP (with its own document cache); graphql-ws
 * calls `prepare`.
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { ErrorCode } from '../schema/shared/errors.js';

export interface OperationPolicyOptions {
  introspection: boolean;
  /** Parsed and validated documents kept, by their source text. */
  cacheSize?: number;
}

export type Prepared = { document: DocumentNode; errors?: undefined } | { document?: undefined; errors: GraphQLError[] };

export interface OperationPolicy {
  extraRules: ValidationRule[];
  prepare(query: string): Prepared;
}

function withCode(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map(
    (error) =>
      new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: error.originalError,
        extensions: { ...error.extensions, code: error.extensions.code ?? code },
      }),
  );
}

export function createOperationPolicy(schema: GraphQLSchema, options: OperationPolicyOptions): OperationPolicy {
  const extraRules: ValidationRule[] = options.introspection ? [] : [NoSchemaIntrospectionCustomRule];
  const rules = [...specifiedRules, ...extraRules];
  const cacheSize = options.cacheSize ?? 1_000;
  // Only valid documents are cached: invalid ones are cheap to reject again and must not evict useful entries.
  const cache = new Map<string, DocumentNode>();

  return {
    extraRules,
    prepare(query) {
      const cached = cache.get(query);
      if (cached) {
        cache.delete(query);
        cache.set(query, cached);
        return { document: cached };
      }
      let document: DocumentNode;
      try {
        document = parse(query);
      } catch (error) {
        if (error instanceof GraphQLError) return { errors: withCode([error], ErrorCode.GRAPHQL_PARSE_FAILED) };
        throw error;
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return { errors: withCode(errors, ErrorCode.GRAPHQL_VALIDATION_FAILED) };
      cache.set(query, document);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      return { document };
    },
  };
}
