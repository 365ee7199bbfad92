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
 * - arguments, which TypeGraphQL converts to class instances;
 * - a typed `@Root()`, or any other kind of parameter.
 * A field is matched only to the metadata of the class that declares it. Fields inherited from an interface or a
 * superclass, and object fields declared in the type class itself (`kind: internal`), keep TypeGraphQL's resolver.
 *
 * The schema is built without global middlewares (src/schema/index.ts); a global middleware would run on every
 * field, so `directResolvers` refuses a schema built with one.
 */
import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { getMetadataStorage } from 'type-graphql';

/** A class, as TypeGraphQL's metadata names one: compared by identity, constructed only when a resolver's. */
type ClassRef = abstract new (...args: never[]) => unknown;

type ParamKind = 'root' | 'context' | 'info';

interface Param {
  kind: string;
  index: number;
  propertyName?: string;
  getType?: unknown;
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

const direct = (param: Param): param is Param & { kind: ParamKind } =>
  param.kind === 'context' || param.kind === 'info' || (param.kind === 'root' && param.getType === undefined);

type Argument = (root: unknown, context: unknown, info: unknown) => unknown;

function argument(param: Param & { kind: ParamKind }): Argument {
  const { kind, propertyName } = param;
  if (kind === 'info') return (_root, _context, info) => info;
  if (kind === 'root') return propertyName === undefined ? (root) => root : (root) => (root as Record<string, unknown>)[propertyName];
  return propertyName === undefined ? (_root, context) => context : (_root, context) => (context as Record<string, unknown>)[propertyName];
}

/** A field resolver method called with its root, context and info parameters, in their order. */
function methodResolver(resolver: FieldResolverMeta, instance: Record<string, unknown>): GraphQLFieldResolver<unknown, unknown> | null {
  const params = [...(resolver.params ?? [])].sort((a, b) => a.index - b.index);
  if (!params.every(direct)) return null;
  const method = instance[resolver.methodName] as (...args: unknown[]) => unknown;
  if (typeof method !== 'function') return null;
  const values = params.map(argument);
  if (values.length === 1) {
    const [only] = values as [Argument];
    return (root, _args, context, info) => method.call(instance, only(root, context, info));
  }
  if (values.length === 2) {
    const [first, second] = values as [Argument, Argument];
    return (root, _args, context, info) => method.call(instance, first(root, context, info), second(root, context, info));
  }
  return (root, _args, context, info) =>
    method.apply(
      instance,
      values.map((value) => value(root, context, info)),
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
  resolverClasses: readonly unknown[],
  globalMiddlewares: readonly unknown[] = [],
): void {
  if (globalMiddlewares.length > 0) throw new Error('directResolvers: a global middleware runs on every field; keep TypeGraphQL resolvers');
  const storage = getMetadataStorage() as unknown as { objectTypes: ObjectTypeMeta[]; fieldResolvers: FieldResolverMeta[] };
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
      if (!field || meta.target !== objectType.target || meta.simple || field.args.length > 0 || !unguarded(meta)) continue;
      // The field resolver TypeGraphQL would pick for it (schema-generator.ts: declaring class and method name).
      const resolver = storage.fieldResolvers.find(
        (candidate) =>
          (candidate.kind === 'internal' || resolverClasses.includes(candidate.target)) &&
          candidate.getObjectType?.() === meta.target &&
          candidate.methodName === meta.name,
      );
      let resolve: GraphQLFieldResolver<unknown, unknown> | null;
      if (!resolver) {
        if (meta.params?.length) continue;
        const property = meta.name;
        resolve = (root) => (root as Record<string, unknown>)[property];
      } else {
        if (resolver.kind !== 'external' || !unguarded(resolver)) continue;
        resolve = methodResolver(resolver, instanceOf(resolver.target));
      }
      if (!resolve) continue;
      field.resolve = resolve;
      replaced.push(`${type.name}.${field.name}`);
    }
  }
  directBySchema.set(schema, replaced);
}
