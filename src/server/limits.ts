/**
 * Operation limits, checked before anything executes and the same on HTTP and graphql-ws. Depth, aliases and
 * directives use graphql-armor's validation rules; tokens use graphql-js's own parser limit; root fields and the
 * static cost are ours (graphql-armor has no root-field rule, and the cost must follow the connection arguments).
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType,
  GraphQLError,
  isCompositeType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  TypeInfo,
  ValidationContext,
  type ValidationRule,
} from 'graphql';
// The CommonJS build on purpose: the package's ESM build imports `graphql/index.mjs`, while graphql 16 (no "exports")
// resolves to `index.js` for us and type-graphql, so its instanceof checks would reject our schema as coming "from
// another module or realm" — and the cost check would silently never run.
import { createComplexityRule, type ComplexityEstimator } from 'graphql-query-complexity/cjs';
import type { OperationLimits } from '../config.js';
import { DEFAULT_PAGE_EXTENSION, DEFAULT_PAGE_SIZE } from '../schema/shared/connection.js';
import { ErrorCode } from '../schema/shared/errors.js';
import { REPLAY_PAGE_EXTENSION } from '../schema/shared/stream-cursor.js';

export function limitError(limit: keyof OperationLimits | string, value: number, maximum: number, message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED, limit, value, maximum },
  });
}

/** What graphql-armor's rules take to report a rejection instead of throwing it. */
type ArmorReporting = {
  propagateOnRejection: false;
  onReject: Array<(context: ValidationContext | null, error: GraphQLError) => void>;
};

/**
 * A graphql-armor rule whose rejection is reported as a validation error with our extensions (limit, value,
 * maximum). By default armor THROWS its error out of the visitor (`propagateOnRejection: true`), which graphql-js
 * does not catch: Apollo answered 500 and graphql-ws closed the socket with 4500.
 */
function armorRule(limit: string, maximum: number, rule: (reporting: ArmorReporting) => ValidationRule): ValidationRule {
  return (context: ValidationContext) =>
    rule({
      propagateOnRejection: false,
      onReject: [
        (_context, error) => {
          const found = /found (\d+)/.exec(error.message);
          context.reportError(
            new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
              nodes: error.nodes,
              extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED, limit, value: found ? Number(found[1]) : maximum + 1, maximum },
            }),
          );
        },
      ],
    })(context);
}

/** At most `maximum` fields at the root of each operation (fragments spread at the root count too). */
function maxRootFieldsRule(maximum: number): ValidationRule {
  return (context) => ({
    OperationDefinition(operation: OperationDefinitionNode) {
      const count = countRootFields(context.getDocument(), operation.selectionSet, new Set());
      if (count > maximum) {
        context.reportError(
          new GraphQLError(`Root field limit of ${maximum} exceeded, found ${count}.`, {
            nodes: [operation],
            extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED, limit: 'rootFields', value: count, maximum },
          }),
        );
      }
    },
  });
}

function countRootFields(document: DocumentNode, selectionSet: SelectionSetNode, visited: Set<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) count += selection.name.value.startsWith('__') ? 0 : 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) count += countRootFields(document, selection.selectionSet, visited);
    else if (!visited.has(selection.name.value)) {
      visited.add(selection.name.value);
      const fragment = document.definitions.find(
        (definition) => definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) count += countRootFields(document, fragment.selectionSet, visited);
    }
  }
  return count;
}

/** The validation rules for the limits; the token limit is a parser option and the size a pre-parse check. */
export function limitRules(limits: OperationLimits): ValidationRule[] {
  return [
    armorRule('depth', limits.depth, (reporting) =>
      maxDepthRule({ n: limits.depth, exposeLimits: true, ignoreIntrospection: true, flattenFragments: true, ...reporting }),
    ),
    armorRule('aliases', limits.aliases, (reporting) =>
      maxAliasesRule({ n: limits.aliases, exposeLimits: true, allowList: [], ...reporting }),
    ),
    armorRule('directives', limits.directives, (reporting) => maxDirectivesRule({ n: limits.directives, exposeLimits: true, ...reporting })),
    maxRootFieldsRule(limits.rootFields),
  ];
}

/** Refuses a document over the size limit before it is parsed. */
export function checkDocumentSize(query: string, limits: OperationLimits): GraphQLError | null {
  // Length in UTF-16 units bounds the UTF-8 size from below; compute bytes only when it could matter.
  if (query.length * 3 <= limits.documentBytes) return null;
  const bytes = Buffer.byteLength(query, 'utf8');
  return bytes > limits.documentBytes
    ? limitError(
        'documentBytes',
        bytes,
        limits.documentBytes,
        `Document size limit of ${limits.documentBytes} bytes exceeded, found ${bytes}.`,
      )
    : null;
}

/**
 * Brackets (`{`, `[`, `(`) nested deeper than this are refused before parsing. graphql-js parses, validates and
 * prints values recursively: an input value nested ~2,000 levels deep fits in the token limit yet overflows the
 * stack (a RangeError that would surface as an internal error). Selection depth has its own, far lower, limit.
 */
export const MAX_NESTING = 256;

/** The nesting of brackets outside strings and comments, in one pass; stops counting past the maximum. */
export function checkNesting(query: string): GraphQLError | null {
  if (query.length <= MAX_NESTING) return null;
  let depth = 0;
  let i = 0;
  while (i < query.length) {
    const char = query.charCodeAt(i);
    if (char === 0x23 /* # */) {
      while (i < query.length && query.charCodeAt(i) !== 0x0a && query.charCodeAt(i) !== 0x0d) i++;
    } else if (char === 0x22 /* " */) {
      if (query.startsWith('"""', i)) {
        const end = query.indexOf('"""', i + 3);
        i = end === -1 ? query.length : end + 2;
      } else {
        i++;
        while (i < query.length && query.charCodeAt(i) !== 0x22 && query.charCodeAt(i) !== 0x0a) i += query.charCodeAt(i) === 0x5c ? 2 : 1;
      }
    } else if (char === 0x7b || char === 0x5b || char === 0x28) {
      depth++;
      if (depth > MAX_NESTING) {
        return limitError('nesting', depth, MAX_NESTING, `Nesting limit of ${MAX_NESTING} exceeded.`);
      }
    } else if ((char === 0x7d || char === 0x5d || char === 0x29) && depth > 0) {
      depth--;
    }
    i++;
  }
  return null;
}

/** Field nodes the merged-field walk visits at most; a document whose fragments expand past it is refused. */
export const MERGED_FIELD_BUDGET = 50_000;

/**
 * Refuses, before validation, a document in which one response name gathers more than `repeatedFields` fields in a
 * selection set, or more than as many distinct fragments are spread into one — counted as graphql-js's OverlappingFieldsCanBeMerged sees them: through inline and named fragments,
 * and with the sub-selections of same-named fields merged. That rule compares every pair of such fields, so its time
 * is quadratic in this count: `{ viewer { id id … ×4,900 } }` (under the token limit) took seconds of event loop. The
 * walk is iterative and bounded: it stops descending past the depth limit (validation refuses deeper documents, and
 * a fragment cycle would otherwise never end) and refuses a document whose fragments expand past MERGED_FIELD_BUDGET.
 */
export function checkRepeatedFields(document: DocumentNode, limits: OperationLimits): GraphQLError | null {
  const fragments = new Map<string, SelectionSetNode>();
  const pending: Array<{ sets: SelectionSetNode[]; depth: number }> = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
    if (definition.kind === Kind.FRAGMENT_DEFINITION || definition.kind === Kind.OPERATION_DEFINITION) {
      pending.push({ sets: [definition.selectionSet], depth: 0 });
    }
  }
  let budget = MERGED_FIELD_BUDGET;
  while (pending.length > 0) {
    const { sets, depth } = pending.pop()!;
    const groups = new Map<string, FieldNode[]>();
    // graphql-js compares a fragment with itself once, however often it is spread into one merged selection.
    const spread = new Set<string>();
    const stack = [...sets];
    while (stack.length > 0) {
      for (const selection of stack.pop()!.selections) {
        if (--budget < 0) {
          return limitError(
            'mergedFields',
            MERGED_FIELD_BUDGET + 1,
            MERGED_FIELD_BUDGET,
            `Document expands to more than ${MERGED_FIELD_BUDGET} fields once its fragments are merged.`,
          );
        }
        if (selection.kind === Kind.FIELD) {
          const name = selection.alias?.value ?? selection.name.value;
          let group = groups.get(name);
          if (!group) groups.set(name, (group = []));
          group.push(selection);
          if (group.length > limits.repeatedFields) {
            return new GraphQLError(
              `Repeated field limit of ${limits.repeatedFields} exceeded: "${name.slice(0, 50)}" is selected more than ${limits.repeatedFields} times in one selection set.`,
              {
                nodes: group.slice(0, 3),
                extensions: {
                  code: ErrorCode.GRAPHQL_VALIDATION_FAILED,
                  limit: 'repeatedFields',
                  value: group.length,
                  maximum: limits.repeatedFields,
                },
              },
            );
          }
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          stack.push(selection.selectionSet);
        } else if (!spread.has(selection.name.value)) {
          spread.add(selection.name.value);
          // The rule also compares every pair of distinct fragments spread into one selection set.
          if (spread.size > limits.repeatedFields) {
            return new GraphQLError(
              `Fragment spread limit of ${limits.repeatedFields} exceeded: more than ${limits.repeatedFields} distinct fragments are spread into one selection set.`,
              {
                nodes: [selection],
                extensions: {
                  code: ErrorCode.GRAPHQL_VALIDATION_FAILED,
                  limit: 'fragmentSpreads',
                  value: spread.size,
                  maximum: limits.repeatedFields,
                },
              },
            );
          }
          const fragment = fragments.get(selection.name.value);
          if (fragment) stack.push(fragment);
        }
      }
    }
    if (depth >= limits.depth) continue;
    for (const group of groups.values()) {
      const children = group.flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
      if (children.length > 0) pending.push({ sets: children, depth: depth + 1 });
    }
  }
  return null;
}

/** The checks on the raw text, before parsing: size, then bracket nesting. */
export function checkDocument(query: string, limits: OperationLimits): GraphQLError | null {
  return checkDocumentSize(query, limits) ?? checkNesting(query);
}

/** Maps graphql-js's token-limit syntax error to a limit error with the same extensions as the others. */
export function tokenLimitError(error: GraphQLError, limits: OperationLimits): GraphQLError | null {
  if (!/Document contains more tha[nt] \d+ tokens/.test(error.message)) return null;
  return limitError('tokens', limits.tokens + 1, limits.tokens, `Token limit of ${limits.tokens} exceeded.`);
}

// ---------------------------------------------------------------------------------------------------------------
// Static cost, GitHub-like: a scalar costs 0, an object 1; a connection multiplies its children by `first`/`last`
// (the field's default page when neither is given) and costs nothing itself, so `items(first: 100) { nodes { id } }` costs
// 100 and is charged one rate-limit point; `nodes(ids)` multiplies by the number of ids; a subscription resumed with
// `after` costs a replay page of its events.

const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const named = getNamedType(field.type);
  if (!isCompositeType(named)) return 0;
  const isConnection = named.name.endsWith('Connection');
  if (isConnection) {
    const size = Number(args.first ?? args.last ?? field.extensions?.[DEFAULT_PAGE_EXTENSION] ?? DEFAULT_PAGE_SIZE) || 0;
    return Math.max(0, size) * childComplexity;
  }
  // A resuming subscription replays stored events in pages: priced as one page of them (a resume is not a free dump).
  const replayPage = Number(field.extensions?.[REPLAY_PAGE_EXTENSION]);
  if (type.name === 'Subscription' && replayPage > 0 && args.after !== undefined && args.after !== null) {
    return replayPage * (1 + childComplexity);
  }
  if (type.name === 'Query' && field.name === 'nodes' && Array.isArray(args.ids)) {
    return 1 + args.ids.length * childComplexity;
  }
  return 1 + childComplexity;
};

/** graphql-query-complexity's visitor (its class is exported only through its rule factory). */
const complexityOf = createComplexityRule({ maximumComplexity: Infinity, estimators: [estimator] });

export function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): number {
  // graphql-query-complexity's visitor, given the variables the pipeline already coerced: its getComplexity() would
  // look the operation up and coerce the variables a second time.
  const errors: GraphQLError[] = [];
  const context = new ValidationContext(schema, document, new TypeInfo(schema), (error) => errors.push(error));
  const visitor = complexityOf(context);
  visitor.variableValues = variables;
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  const cost = visitor.nodeComplexity(operation, root ?? undefined);
  // Its node budget (a fragment fan-out evaluated too many times) is reported as an error: priced out of reach.
  return errors.length > 0 ? Number.MAX_SAFE_INTEGER : cost;
}

export function costError(cost: number, limits: OperationLimits): GraphQLError | null {
  if (cost <= limits.cost) return null;
  return limitError('cost', cost, limits.cost, `Query cost limit of ${limits.cost} exceeded, found ${cost}.`);
}
