/**
 * The pure steps of admission, computed once per distinct input and cached: parsing with the token limit and
 * validation with the specified rules plus the operation limits (per document text, keyed by its SHA-256, which is
 * also the key of APQ, trusted documents and Apollo's document store), and the static cost (per document, operation
 * and variables).
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode } from '../schema/shared/errors.js';
import type { OperationLimits } from '../config.js';
import { checkRepeatedFields, costOf, limitRules, tokenLimitError } from './limits.js';

export interface OperationPolicyOptions {
  introspection: boolean;
  limits: OperationLimits;
  /** Parsed and validated documents kept, by their source text's hash. */
  cacheSize?: number;
}

export type Prepared =
  | { document: DocumentNode; errors?: undefined }
  | { document?: undefined; errors: GraphQLError[]; /** Parsed, but not valid. */ parsed?: DocumentNode };

export interface OperationPolicy {
  limits: OperationLimits;
  extraRules: ValidationRule[];
  parseOptions: ParseOptions;
  /** Parse and validate; a valid document is cached under `hash` (the SHA-256 of `query`). */
  prepare(query: string, hash: string, observe?: (step: 'parse' | 'validate') => void): Prepared;
  /** A document this policy admitted, by hash (Apollo's document store reads it, so Apollo parses nothing). */
  cached(hash: string): DocumentNode | undefined;
  /**
   * The static cost of an operation with its coerced variables (`costError` says whether it is over the limit),
   * remembered for the variables as received, which the caller has coerced and checked against the input rules.
   */
  cost(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
    rawVariables: Record<string, unknown> | null | undefined,
  ): number;
  /**
   * The cost `cost` remembered for this operation with these variables (compared as JSON): they were coerced and
   * passed the input rules then, so neither needs to run again. Undefined when not remembered.
   */
  knownCost(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    rawVariables: Record<string, unknown> | null | undefined,
  ): number | undefined;
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

const costKey = (operation: OperationDefinitionNode, rawVariables: Record<string, unknown> | null | undefined) =>
  `${operation.name?.value ?? ''}\u0000${rawVariables ? JSON.stringify(rawVariables) : ''}`;

export function createOperationPolicy(schema: GraphQLSchema, options: OperationPolicyOptions): OperationPolicy {
  const { limits } = options;
  const extraRules: ValidationRule[] = [...limitRules(limits), ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const rules = [...specifiedRules, ...extraRules];
  const parseOptions: ParseOptions = { maxTokens: limits.tokens };
  // Only valid documents are cached: invalid ones are cheap to reject again and must not evict useful entries. Bounded
  // by count and by an estimate of the parsed size (about ten bytes of AST per byte of source).
  const documents = new LRUCache<string, DocumentNode>({
    max: options.cacheSize ?? 1_000,
    maxSize: 64 * 1_024 * 1_024,
    sizeCalculation: (document) => Math.max(1, (document.loc?.end ?? 1_000) * 10),
  });
  const costCache = new WeakMap<DocumentNode, Map<string, number>>();

  return {
    limits,
    extraRules,
    parseOptions,
    cached: (hash) => documents.get(hash),
    prepare(query, hash, observe) {
      const cached = documents.get(hash);
      if (cached) return { document: cached };
      let document: DocumentNode;
      observe?.('parse');
      try {
        document = parse(query, parseOptions);
      } catch (error) {
        if (error instanceof GraphQLError) {
          return { errors: withCode([tokenLimitError(error, limits) ?? error], ErrorCode.GRAPHQL_PARSE_FAILED) };
        }
        throw error;
      }
      observe?.('validate');
      // The one check validation cannot run in linear time, so it runs before validation.
      const repeated = checkRepeatedFields(document, limits);
      if (repeated) return { errors: [repeated], parsed: document };
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return { errors: withCode(errors, ErrorCode.GRAPHQL_VALIDATION_FAILED), parsed: document };
      documents.set(hash, document);
      return { document };
    },
    // Documents come from the cache above, so the cost of a document with the same variables is computed once; a
    // document's entries are bounded (many distinct variable sets just recompute).
    knownCost: (document, operation, rawVariables) => costCache.get(document)?.get(costKey(operation, rawVariables)),
    cost(document, operation, variables, rawVariables) {
      const key = costKey(operation, rawVariables);
      const cost = costOf(schema, document, operation, variables);
      let costs = costCache.get(document);
      if (!costs) costCache.set(document, (costs = new Map()));
      if (costs.size >= COST_ENTRIES_PER_DOCUMENT) costs.clear();
      if (key.length <= 1_024) costs.set(key, cost);
      return cost;
    },
  };
}
