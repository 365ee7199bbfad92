/**
 * The pure steps of admission, computed once per distinct input and cached: parsing with the token limit and
 * validation with the specified rules plus the operation limits (per document text, keyed by its SHA-256, which is
 * also the key of APQ, trusted documents and Apollo's document store), and the static cost (per document, operation
 * and variables).
 */
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValidationRule,
  type ValueNode,
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

type RawVariables = Record<string, unknown> | null | undefined;

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
  /** The key `cost` and `knownCost` remember an operation's variables by (the operation's name and their JSON). */
  variablesKey(operation: OperationDefinitionNode, rawVariables: RawVariables): string;
  /**
   * The static cost of an operation with its coerced variables (`costError` says whether it is over the limit),
   * remembered under `variablesKey` for variables the caller has coerced and checked against the input rules.
   */
  cost(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
    rawVariables: RawVariables,
    variablesKey: string,
  ): number;
  /**
   * The cost `cost` remembered for these variables (by `variablesKey`): they were coerced and passed the input rules
   * then, so neither needs to run again. Undefined when not remembered.
   */
  knownCost(document: DocumentNode, variablesKey: string): number | undefined;
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

/**
 * The cost's key: the operation and the variables its cost depends on (see costVariables), each as given or absent (an
 * absent variable takes its default, which a null does not).
 */
const costKey = (document: DocumentNode, operation: OperationDefinitionNode, rawVariables: RawVariables) => {
  const values = costVariables(document, operation).map((name) =>
    rawVariables && Object.hasOwn(rawVariables, name) ? [1, rawVariables[name]] : [0],
  );
  return `${operation.name?.value ?? ''}\u0000${JSON.stringify(values)}`;
};

function remember(cache: WeakMap<DocumentNode, Map<string, number>>, document: DocumentNode, key: string, cost: number): void {
  let entries = cache.get(document);
  if (!entries) cache.set(document, (entries = new Map()));
  if (entries.size >= COST_ENTRIES_PER_DOCUMENT) entries.clear();
  if (key.length <= 1_024) entries.set(key, cost);
}

/** Arguments the cost estimator reads (src/server/limits.ts), and the directives that drop a field from the count. */
const COST_ARGUMENTS: ReadonlySet<string> = new Set(['first', 'last', 'ids', 'after']);
const CONDITION_DIRECTIVES: ReadonlySet<string> = new Set(['include', 'skip']);
const costVariableNames = new WeakMap<OperationDefinitionNode, string[]>();

/**
 * The variables an operation's cost can depend on: those in a page-size, id-list or cursor argument, or in an
 * `@include`/`@skip` condition, anywhere in the operation or the document's fragments. A mutation's input, say, is not
 * one of them: its cost is the same whatever the values, and is computed once.
 */
export function costVariables(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  let names = costVariableNames.get(operation);
  if (names) return names;
  const found = new Set<string>();
  const collect = (value: ValueNode): void => {
    if (value.kind === Kind.VARIABLE) found.add(value.name.value);
    else if (value.kind === Kind.LIST) value.values.forEach(collect);
    else if (value.kind === Kind.OBJECT) for (const field of value.fields) collect(field.value);
  };
  const conditions = (node: { directives?: readonly DirectiveNode[] }) => {
    for (const directive of node.directives ?? []) {
      if (CONDITION_DIRECTIVES.has(directive.name.value)) for (const argument of directive.arguments ?? []) collect(argument.value);
    }
  };
  const walk = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      conditions(selection);
      if (selection.kind === Kind.FIELD) {
        for (const argument of selection.arguments ?? []) if (COST_ARGUMENTS.has(argument.name.value)) collect(argument.value);
      }
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) walk(selection.selectionSet);
    }
  };
  walk(operation.selectionSet);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) walk(definition.selectionSet);
  names = [...found].sort();
  costVariableNames.set(operation, names);
  return names;
}

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
  const admittedCache = new WeakMap<DocumentNode, Map<string, number>>();

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
    // Documents come from the cache above, so these are per document, bounded (many distinct variable sets just
    // compute again): the cost by the variables it depends on, and the variables admitted before, by all of them.
    variablesKey: (operation, rawVariables) => `${operation.name?.value ?? ''}\u0000${rawVariables ? JSON.stringify(rawVariables) : ''}`,
    knownCost: (document, variablesKey) => admittedCache.get(document)?.get(variablesKey),
    cost(document, operation, variables, rawVariables, variablesKey) {
      const key = costKey(document, operation, rawVariables);
      let cost = costCache.get(document)?.get(key);
      if (cost === undefined) remember(costCache, document, key, (cost = costOf(schema, document, operation, variables)));
      remember(admittedCache, document, variablesKey, cost);
      return cost;
    },
  };
}
