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
 * GraphiQL, a stream of unique documents — costs no compilation. A document graphql-jit cannot compile runs on
 * graphql-js every time. Subscriptions' events run on graphql-js (src/server/operation.ts): a shared
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
import { LRUCache } from 'lru-cache';

/** Runs of a document on graphql-js before it is compiled. */
export const COMPILE_AFTER_RUNS = 1;
/**
 * The longest document (characters of source) that is compiled. Compiling costs about 6 ms of CPU and 130 KB of heap
 * per 1,000 characters on this project's schema; the documents applications send again and again are far shorter
 * (the bench's are under 300 characters, the dashboard's under 600), and a longer one runs on graphql-js.
 */
export const MAX_COMPILED_SOURCE = 4_096;
/** Compiled documents kept, by number and by their estimated heap (per character of source: the 130 bytes measured, and a margin). */
const MAX_COMPILED_DOCUMENTS = 1_000;
const MAX_COMPILED_BYTES = 32 * 1_024 * 1_024;
const COMPILED_BYTES_PER_CHARACTER = 160;

/** A compiled operation, and the defaults of its variables as a client would send them. */
interface Compiled {
  query: CompiledQuery['query'];
  defaults: ReadonlyArray<readonly [name: string, value: unknown]>;
}

export type Execute = (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult;

const sourceLength = (document: DocumentNode) => document.loc?.end ?? Infinity;

/**
 * The executor of one schema's queries and mutations. `onCompile` observes each compilation (tests count them); the
 * bounds below can be made smaller (tests).
 *
 * What is compiled is bounded however many distinct documents clients send: only documents up to
 * MAX_COMPILED_SOURCE characters, at most MAX_COMPILED_DOCUMENTS of them and MAX_COMPILED_BYTES of their estimated
 * heap, the least recently run leaving first. A document that left runs COMPILE_AFTER_RUNS times on graphql-js again
 * before it is compiled again, so cycling through more documents than are kept costs a compilation per two runs at
 * most, of a document no longer than the bound.
 */
export function createExecutor(options: { onCompile?(args: ExecutionArgs): void; maxDocuments?: number; maxBytes?: number } = {}): Execute {
  // Runs so far of the operations (by name; '' for the only one) of documents not compiled yet.
  const runs = new WeakMap<DocumentNode, Map<string, number>>();
  // Compiled operations by document; null for one graphql-jit refused, which runs on graphql-js while it is kept.
  const compiled = new LRUCache<DocumentNode, Map<string, Compiled | null>>({
    max: options.maxDocuments ?? MAX_COMPILED_DOCUMENTS,
    maxSize: options.maxBytes ?? MAX_COMPILED_BYTES,
    sizeCalculation: (operations, document) => Math.max(1, operations.size * sourceLength(document) * COMPILED_BYTES_PER_CHARACTER),
    dispose: (_operations, document, reason) => void (reason !== 'set' && runs.delete(document)),
  });

  return (args) => {
    const { document } = args;
    const name = args.operationName ?? '';
    const operations = compiled.get(document);
    const known = operations?.get(name);
    if (known) return runCompiled(known, args);
    if (known === null || sourceLength(document) > MAX_COMPILED_SOURCE) return execute(args);
    let counts = runs.get(document);
    if (!counts) runs.set(document, (counts = new Map()));
    const count = counts.get(name) ?? 0;
    if (count < COMPILE_AFTER_RUNS) {
      counts.set(name, count + 1);
      return execute(args);
    }
    options.onCompile?.(args);
    const made = compile(args);
    counts.delete(name);
    // Set again, so the entry's size counts every compiled operation of the document.
    compiled.set(document, (operations ?? new Map()).set(name, made));
    return made ? runCompiled(made, args) : execute(args);
  };
}

function runCompiled({ query, defaults }: Compiled, args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
  const result = query(args.rootValue, args.contextValue, withDefaults(args.variableValues ?? {}, defaults));
  return result instanceof Promise ? result.then(withCauses) : withCauses(result);
}

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

/** The operation's compiled form, or null when graphql-jit refuses it. */
function compile(args: ExecutionArgs): Compiled | null {
  try {
    const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
    if (!isCompiledQuery(compiled)) return null;
    const operation = getOperationAST(args.document, args.operationName);
    const defaults = (operation?.variableDefinitions ?? [])
      .filter((definition) => definition.defaultValue !== undefined && definition.type.kind === Kind.NON_NULL_TYPE)
      .map((definition) => [definition.variable.name.value, valueFromASTUntyped(definition.defaultValue!)] as const);
    return { query: compiled.query, defaults };
  } catch {
    return null;
  }
}
