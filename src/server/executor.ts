/**
 * How a query or mutation executes: graphql-js `execute` on its first run, then graphql-jit's compiled form of the
 * operation.
 *
 * graphql-jit turns an operation into one JavaScript function: its fields, arguments, null checks and leaf
 * serialization are written out for that document, where graphql-js walks the document and the schema again on
 * every request. It calls the same resolvers with the same arguments, context and a resolve info, so every rule
 * that lives in them — `@Authorized`, the services' checks, the loaders — holds unchanged, and its errors are
 * GraphQLErrors that carry the resolver's error as `originalError`, which masking reads (src/server/errors.ts).
 *
 * A document is compiled on its second run (as Mercurius's `jit: 1` does): one sent only once — an exploration in
 * GraphiQL, a stream of unique documents — costs no compilation. The compiled form is kept on the parsed document,
 * so it lives exactly as long as the operation policy's cache keeps that document. A document graphql-jit cannot
 * compile runs on graphql-js every time. Subscriptions' events run on graphql-js (src/server/operation.ts): a shared
 * event executes once for all its subscribers.
 */
import {
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** Runs of a document on graphql-js before it is compiled. */
export const COMPILE_AFTER_RUNS = 1;

/** A compiled operation, and the defaults of its variables as a client would send them. */
interface Compiled {
  query: CompiledQuery['query'];
  defaults: ReadonlyArray<readonly [name: string, value: unknown]>;
}

type Plan = { runs: number } | { compiled: Compiled } | { interpreted: true };

export type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult;

/** The executor of one schema's queries and mutations. `onCompile` observes each compilation (tests count them). */
export function createExecutor(options: { onCompile?(args: ExecutionArgs): void } = {}): Execute {
  // Per document, the plan of each of its operations (by name; '' for the only one).
  const plans = new WeakMap<DocumentNode, Map<string, Plan>>();

  const planOf = (args: ExecutionArgs): Plan => {
    let byName = plans.get(args.document);
    if (!byName) plans.set(args.document, (byName = new Map()));
    const name = args.operationName ?? '';
    let plan = byName.get(name);
    if (!plan) byName.set(name, (plan = { runs: 0 }));
    if ('runs' in plan && plan.runs >= COMPILE_AFTER_RUNS) {
      options.onCompile?.(args);
      plan = compile(args);
      byName.set(name, plan);
    }
    return plan;
  };

  return (args) => {
    const plan = planOf(args);
    if ('compiled' in plan) {
      const { query, defaults } = plan.compiled;
      const result = query(args.rootValue, args.contextValue, withDefaults(args.variableValues ?? {}, defaults));
      return isPromise(result) ? result.then(withCauses) : withCauses(result);
    }
    if ('runs' in plan) plan.runs += 1;
    return execute(args);
  };
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

/**
 * The errors graphql-jit finds itself — null in a non-null field, a value a leaf type cannot serialize — come
 * without an `originalError`, where graphql-js gives each the error it caught. Masking reads an error without one
 * as the client's (a validation error) and passes it on; these are the server's, and graphql-js's are masked. They
 * get the cause graphql-js would give them, so the client sees "Internal server error" either way.
 */
function withCauses(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.some((error) => !error.originalError)) return result;
  const errors = result.errors.map((error) => {
    if (error.originalError) return error;
    const caused = new GraphQLError(error.message, { path: error.path, originalError: new Error(error.message) });
    (caused as { locations: GraphQLError['locations'] }).locations = error.locations;
    return caused;
  });
  return { ...result, errors };
}

/**
 * graphql-jit reports a non-null variable with a default (`$ids: [ID!]! = []`) that the request leaves out as not
 * provided, where graphql-js (GraphQL spec §CoerceVariableValues) takes the default. Such a variable is handed to the
 * compiled query as the request would have sent its default: the literal's value as JSON (an enum by its name), which
 * graphql-jit then coerces like any value a client sends.
 */
function withDefaults(variables: Readonly<Record<string, unknown>>, defaults: Compiled['defaults']): Readonly<Record<string, unknown>> {
  let filled: Record<string, unknown> | undefined;
  for (const [name, value] of defaults) {
    if (Object.hasOwn(variables, name)) continue;
    filled ??= { ...variables };
    filled[name] = value;
  }
  return filled ?? variables;
}

/** The operation's compiled form, or graphql-js for good when graphql-jit refuses it. */
function compile(args: ExecutionArgs): Plan {
  try {
    const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    if (!isCompiledQuery(compiled)) return { interpreted: true };
    const operation = getOperationAST(args.document, args.operationName);
    const defaults = (operation?.variableDefinitions ?? [])
      .filter((definition) => definition.defaultValue !== undefined && definition.type.kind === Kind.NON_NULL_TYPE)
      .map((definition) => [definition.variable.name.value, valueFromASTUntyped(definition.defaultValue!)] as const);
    return { compiled: { query: compiled.query, defaults } };
  } catch {
    return { interpreted: true };
  }
}
