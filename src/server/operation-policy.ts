/**
 * What every operation goes through before it runs, on both transports: the size limit, parsing with the token
 * limit (cached), validation with the specified rules plus the operation limits, and the static cost. Apollo applies
 * `extraRules` and `parseOptions` itself over HTTP (with its own document cache); graphql-ws calls `prepare`.
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { ErrorCode } from '../schema/shared/errors.js';
import { checkDocument, costError, costOf, limitRules, tokenLimitError, type OperationLimits } from './limits.js';

export interface OperationPolicyOptions {
  introspection: boolean;
  limits: OperationLimits;
  /** Parsed and validated documents kept, by their source text. */
  cacheSize?: number;
}

export type Prepared = { document: DocumentNode; errors?: undefined } | { document?: undefined; errors: GraphQLError[] };

export interface OperationPolicy {
  limits: OperationLimits;
  extraRules: ValidationRule[];
  parseOptions: ParseOptions;
  /** Size, parse, validate; the result for a valid document is cached. */
  prepare(query: unknown): Prepared;
  /** The static cost of an operation; over the limit is an error that runs nothing. */
  cost(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined): { cost: number; error: GraphQLError | null };
  /** The token-limit parse error, reworded like the other limits; other errors unchanged. */
  normalize(error: GraphQLError): GraphQLError;
}

function withCode(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map((error) =>
    error.extensions.code
      ? error
      : new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions: { ...error.extensions, code },
        }),
  );
}

const COST_ENTRIES_PER_DOCUMENT = 64;

export function createOperationPolicy(schema: GraphQLSchema, options: OperationPolicyOptions): OperationPolicy {
  const { limits } = options;
  const extraRules: ValidationRule[] = [
    ...limitRules(limits),
    ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const rules = [...specifiedRules, ...extraRules];
  const parseOptions: ParseOptions = { maxTokens: limits.tokens };
  const cacheSize = options.cacheSize ?? 1_000;
  // Only valid documents are cached: invalid ones are cheap to reject again and must not evict useful entries.
  const cache = new Map<string, DocumentNode>();
  const costCache = new WeakMap<DocumentNode, Map<string, number>>();

  const normalize = (error: GraphQLError) => tokenLimitError(error, limits) ?? error;

  return {
    limits,
    extraRules,
    parseOptions,
    normalize,
    prepare(query) {
      if (typeof query !== 'string' || query.trim() === '') {
        return { errors: [new GraphQLError('Expected a non-empty "query" string', { extensions: { code: ErrorCode.BAD_REQUEST } })] };
      }
      const cached = cache.get(query);
      if (cached) {
        cache.delete(query);
        cache.set(query, cached);
        return { document: cached };
      }
      const tooLarge = checkDocument(query, limits);
      if (tooLarge) return { errors: [tooLarge] };
      let document: DocumentNode;
      try {
        document = parse(query, parseOptions);
      } catch (error) {
        if (error instanceof GraphQLError) return { errors: withCode([normalize(error)], ErrorCode.GRAPHQL_PARSE_FAILED) };
        throw error;
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return { errors: withCode(errors, ErrorCode.GRAPHQL_VALIDATION_FAILED) };
      cache.set(query, document);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      return { document };
    },
    cost(document, operationName, variables) {
      // Both transports reuse document objects from their caches, so the cost of a document with the same
      // variables is computed once; a document's entries are bounded (many distinct variable sets just recompute).
      const key = `${operationName ?? ''}\u0000${variables ? JSON.stringify(variables) : ''}`;
      let costs = costCache.get(document);
      const cached = costs?.get(key);
      if (cached !== undefined) return { cost: cached, error: costError(cached, limits) };
      let cost: number;
      try {
        cost = costOf(schema, document, operationName, variables);
      } catch (error) {
        // Variables that do not coerce: execution reports them as BAD_USER_INPUT without running a resolver.
        // Anything else (a broken estimator, a second copy of graphql) must surface, not turn into cost 0.
        if (error instanceof GraphQLError) return { cost: 0, error: null };
        throw error;
      }
      if (!costs) costCache.set(document, (costs = new Map()));
      if (costs.size >= COST_ENTRIES_PER_DOCUMENT) costs.clear();
      if (key.length <= 1_024) costs.set(key, cost);
      return { cost, error: costError(cost, limits) };
    },
  };
}
