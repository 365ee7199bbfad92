/**
 * Direct resolvers for the fields where TypeGraphQL's per-call machinery has nothing to do.
 *
 * TypeGraphQL resolves every field through a wrapper, on every call. For a plain field it allocates the resolver data
 * and a closure and runs the (empty) middleware chain before it reads the property. For a field resolver it also
 * sorts the method's parameters and maps them to an array. It does that even when the field has no middleware, no
 * `@Authorized` and no arguments. In a nested page that is most of the field calls, about a fifth of the bytes a
 * request allocates, and the garbage collection that follows.
 *
 * After the schema is built, such fields get a resolver that does only what TypeGraphQL's would do for them: read
 * the property, or call the resolver method with its `@Root()`, `@Ctx()` and `@Info()` values. A field keeps
 * TypeGraphQL's resolver when anything would run in that wrapper:
 * - `@Authorized` on the field, its method or its class (even with no scopes named, the auth checker runs);
 * - a middleware (`@UseMiddleware`, on the field or the resolver class);
 * - arguments it would convert or validate: an input object, a list, an `@Args()` class that extends another, an
 *   argument with its own validation (the schema validates none: `validate: false`);
 * - a typed `@Root()`, or any other kind of parameter.
 * Scalar and enum arguments are handed over as TypeGraphQL would hand them: the value as graphql-js coerced it, and for
 * `@Args()` an instance of its class holding the arguments that were given.
 * Query and mutation fields follow the same rules, matched to the handler of a resolver class the schema was built
 * from (a handler inherited from a superclass keeps TypeGraphQL's resolver); subscriptions keep theirs.
 * A field is matched only to the metadata of the class that declares it. Fields inherited from an interface or a
 * superclass, and object fields declared in the type class itself (`kind: internal`), keep TypeGraphQL's resolver.
 *
 * The schema is built without global middlewares (src/schema/index.ts); a global middleware would run on every
 * field, so `directResolvers` refuses a schema built with one.
 */
import { GraphQLScalarType, isAbstractType, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { getMetadataStorage } from 'type-graphql';

/** A class, as TypeGraphQL's metadata names one: compared by identity, constructed only when a resolver's. */
type ClassRef = abstract new (...args: never[]) => unknown;

interface Param {
  kind: string;
  index: number;
  propertyName?: string;
  getType?: () => unknown;
  /** `arg`: its name. */
  name?: string;
  typeOptions?: { array?: boolean };
  validateSettings?: unknown;
  validateFn?: unknown;
}

interface ArgsTypeMeta {
  target: ClassRef;
  fields: Array<{ name: string; getType: () => unknown; typeOptions: { array?: boolean } }>;
}

interface FieldMeta {
  target: ClassRef;
  name: string;
  schemaName: string;
  params?: Param[];
  roles?: unknown[];
  middlewares?: unknown[];
  simple?: boolean;
}

interface FieldResolverMeta {
  kind: 'internal' | 'external';
  target: new () => Record<string, unknown>;
  methodName: string;
  params?: Param[];
  roles?: unknown[];
  middlewares?: unknown[];
  getObjectType?: () => ClassRef;
}

interface ObjectTypeMeta {
  name: string;
  target: ClassRef;
  fields?: FieldMeta[];
}

/** Nothing of TypeGraphQL's wrapper would run: no auth checker, no middleware. */
const unguarded = (meta: { roles?: unknown[]; middlewares?: unknown[] }) => meta.roles === undefined && !meta.middlewares?.length;

type Argument = (root: unknown, args: Record<string, unknown>, context: unknown, info: unknown) => unknown;

/** A query or mutation handler (`@Query`, `@Mutation`). */
interface HandlerMeta {
  target: new () => Record<string, unknown>;
  methodName: string;
  schemaName: string;
  params?: Param[];
  roles?: unknown[];
  middlewares?: unknown[];
}

interface Storage {
  objectTypes: ObjectTypeMeta[];
  fieldResolvers: FieldResolverMeta[];
  queries: HandlerMeta[];
  mutations: HandlerMeta[];
  argumentTypes: ArgsTypeMeta[];
  enums: Array<{ enumObj: unknown }>;
}

/** A type TypeGraphQL hands over as graphql-js coerced it: a scalar or an enum (not an input class, not a list). */
function passedAsIs(storage: Storage, type: unknown, typeOptions: { array?: boolean } | undefined): boolean {
  if (typeOptions?.array) return false;
  if (type instanceof GraphQLScalarType || type === String || type === Number || type === Boolean || type === Date) return true;
  return storage.enums.some((registered) => registered.enumObj === type);
}

/** What TypeGraphQL's getParams would pass for this parameter, or null when it would do more than pass a value. */
function argument(storage: Storage, param: Param, validate: boolean): Argument | null {
  const { kind, propertyName } = param;
  if (kind === 'info') return (_root, _args, _context, info) => info;
  if (kind === 'context') {
    return propertyName === undefined
      ? (_root, _args, context) => context
      : (_root, _args, context) => (context as Record<string, unknown>)[propertyName];
  }
  if (kind === 'root') {
    if (param.getType !== undefined) return null;
    return propertyName === undefined ? (root) => root : (root) => (root as Record<string, unknown>)[propertyName];
  }
  if (kind !== 'arg' && kind !== 'args') return null;
  // validateArg would run class-validator (or a validateFn) on it.
  if (validate || (param.validateSettings !== undefined && param.validateSettings !== false) || param.validateFn !== undefined) return null;
  if (kind === 'arg') {
    const name = param.name!;
    return passedAsIs(storage, param.getType?.(), param.typeOptions) ? (_root, args) => args[name] : null;
  }
  const ArgsClass = param.getType?.() as (new () => Record<string, unknown>) | undefined;
  const argsType = storage.argumentTypes.find((candidate) => candidate.target === ArgsClass);
  // convertArgsToInstance also collects the fields of superclasses; only a class of its own is handled here.
  if (!ArgsClass || !argsType || Object.getPrototypeOf(ArgsClass) !== Function.prototype) return null;
  if (!argsType.fields.every((field) => passedAsIs(storage, field.getType(), field.typeOptions))) return null;
  const names = argsType.fields.map((field) => field.name);
  // convertToType: a new instance, without the initial undefined properties of fields not given, then the given ones.
  return (_root, args) => {
    const instance = new ArgsClass();
    for (const key of Object.keys(instance)) if (instance[key] === undefined && args[key] === undefined) delete instance[key];
    for (const name of names) if (args[name] !== undefined) instance[name] = args[name];
    return instance;
  };
}

/** A field resolver method called with its parameters, in their order. */
function methodResolver(
  storage: Storage,
  resolver: Pick<FieldResolverMeta, 'methodName' | 'params'>,
  instance: Record<string, unknown>,
  validate: boolean,
): GraphQLFieldResolver<unknown, unknown, Record<string, unknown>> | null {
  const method = instance[resolver.methodName] as (...args: unknown[]) => unknown;
  if (typeof method !== 'function') return null;
  const values = [...(resolver.params ?? [])].sort((a, b) => a.index - b.index).map((param) => argument(storage, param, validate));
  if (!values.every((value): value is Argument => value !== null)) return null;
  if (values.length === 1) {
    const [only] = values as [Argument];
    return (root, args, context, info) => method.call(instance, only(root, args, context, info));
  }
  if (values.length === 2) {
    const [first, second] = values as [Argument, Argument];
    return (root, args, context, info) => method.call(instance, first(root, args, context, info), second(root, args, context, info));
  }
  if (values.length === 3) {
    const [first, second, third] = values as [Argument, Argument, Argument];
    return (root, args, context, info) =>
      method.call(instance, first(root, args, context, info), second(root, args, context, info), third(root, args, context, info));
  }
  return (root, args, context, info) =>
    method.apply(
      instance,
      values.map((value) => value(root, args, context, info)),
    );
}

const directBySchema = new WeakMap<GraphQLSchema, readonly string[]>();

/** The fields of `schema` that resolve directly (`Type.field`). */
export function directFields(schema: GraphQLSchema): readonly string[] {
  return directBySchema.get(schema) ?? [];
}

/** Replaces the resolvers of the fields that need none of TypeGraphQL's per-call work (see above). */
export function directResolvers(
  schema: GraphQLSchema,
  options: { resolvers: readonly unknown[]; validate: boolean; globalMiddlewares?: readonly unknown[] },
): void {
  const { resolvers: resolverClasses, validate, globalMiddlewares = [] } = options;
  if (globalMiddlewares.length > 0) throw new Error('directResolvers: a global middleware runs on every field; keep TypeGraphQL resolvers');
  const storage = getMetadataStorage() as unknown as Storage;
  const instances = new Map<ClassRef, Record<string, unknown>>();
  const instanceOf = (target: FieldResolverMeta['target']) => {
    let instance = instances.get(target);
    if (!instance) instances.set(target, (instance = new target()));
    return instance;
  };
  const replaced: string[] = [];
  for (const objectType of storage.objectTypes) {
    const type = schema.getType(objectType.name);
    if (!isObjectType(type)) continue;
    const fields = type.getFields();
    for (const meta of objectType.fields ?? []) {
      const field = fields[meta.schemaName];
      // Only the fields this class declares: the GraphQL field was made from this metadata.
      if (!field || meta.target !== objectType.target || meta.simple || !unguarded(meta)) continue;
      // The field resolver TypeGraphQL would pick for it (schema-generator.ts: declaring class and method name).
      const resolver = storage.fieldResolvers.find(
        (candidate) =>
          (candidate.kind === 'internal' || resolverClasses.includes(candidate.target)) &&
          candidate.getObjectType?.() === meta.target &&
          candidate.methodName === meta.name,
      );
      let resolve: GraphQLFieldResolver<unknown, unknown, Record<string, unknown>> | null;
      if (!resolver) {
        if (meta.params?.length || field.args.length > 0) continue;
        const property = meta.name;
        resolve = (root) => (root as Record<string, unknown>)[property];
      } else {
        if (resolver.kind !== 'external' || !unguarded(resolver)) continue;
        resolve = methodResolver(storage, resolver, instanceOf(resolver.target), validate);
      }
      if (!resolve) continue;
      field.resolve = resolve;
      replaced.push(`${type.name}.${field.name}`);
    }
  }
  // Root fields: a query or mutation handler of one of the schema's resolver classes (subscriptions keep theirs).
  for (const [handlers, type] of [
    [storage.queries, schema.getQueryType()],
    [storage.mutations, schema.getMutationType()],
  ] as const) {
    if (!type) continue;
    const fields = type.getFields();
    for (const handler of handlers) {
      const field = fields[handler.schemaName];
      if (!field || !resolverClasses.includes(handler.target) || !unguarded(handler)) continue;
      const resolve = methodResolver(storage, handler, instanceOf(handler.target), validate);
      if (!resolve) continue;
      field.resolve = resolve;
      replaced.push(`${type.name}.${field.name}`);
    }
  }
  directBySchema.set(schema, replaced);
}

/**
 * Interfaces and unions answer the concrete type of a value that carries its `__typename` (every OpsHub object does:
 * src/schema/shared/node.ts) at once. TypeGraphQL wraps each `resolveType` in an async function, which costs a promise
 * per abstract value and which graphql-jit cannot wait for (src/server/executor.ts). A value without a `__typename`
 * naming one of the type's possible types goes to TypeGraphQL's function, as before.
 */
export function directTypeResolvers(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isAbstractType(type) || !type.resolveType) continue;
    const original = type.resolveType;
    const possible = new Set(schema.getPossibleTypes(type).map((object) => object.name));
    type.resolveType = (value, context, info, abstractType) => {
      const name = (value as { __typename?: unknown } | null)?.__typename;
      return typeof name === 'string' && possible.has(name) ? name : original(value, context, info, abstractType);
    };
  }
}
