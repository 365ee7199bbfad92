/**
 * The rules of src/schema/direct-resolvers.ts on a schema of their own: which fields resolve directly, and that those
 * get what TypeGraphQL would have passed them.
 */
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { graphql, type GraphQLSchema } from 'graphql';
import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  buildSchema,
  Ctx,
  Field,
  FieldResolver,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  registerEnumType,
  Resolver,
  Root,
  UseMiddleware,
} from 'type-graphql';
import { directFields, directResolvers } from '../../src/schema/direct-resolvers.js';

enum Shade {
  LIGHT = 'LIGHT',
  DARK = 'DARK',
}
registerEnumType(Shade, { name: 'Shade' });

@ArgsType()
class PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number | null;

  @Field(() => Shade, { nullable: true })
  shade?: Shade | null;
}

@ArgsType()
class ListArgs {
  @Field(() => [String], { nullable: true })
  tags?: string[] | null;
}

@InputType()
class Range {
  @Field(() => Int)
  min!: number;
}

@ObjectType()
class Box {
  @Field(() => String)
  label!: string;

  @Field(() => String)
  @UseMiddleware(async (_data, next) => `mw:${String(await next())}`)
  guarded!: string;

  @Authorized()
  @Field(() => String, { nullable: true })
  secret!: string;
}

interface Ctx0 {
  viewer: string;
  user?: unknown;
}

@Resolver(() => Box)
class BoxResolver {
  @Query(() => Box)
  box(): Box {
    return Object.assign(new Box(), { label: 'b', guarded: 'g', secret: 's' });
  }

  @Query(() => String)
  shaded(@Arg('shade', () => Shade) shade: Shade, @Ctx() ctx: Ctx0): string {
    return `${shade}:${ctx.viewer}`;
  }

  @Authorized()
  @Query(() => String, { nullable: true })
  note(): string {
    return 'n';
  }

  @Mutation(() => String)
  touch(@Arg('n', () => Int) n: number): string {
    return `touched ${n}`;
  }

  @Mutation(() => String)
  stretch(@Arg('range', () => Range) range: Range): string {
    return `${range instanceof Range}:${range.min}`;
  }

  @FieldResolver(() => String)
  owner(@Root() box: Box, @Ctx() ctx: Ctx0): string {
    return `${box.label}:${ctx.viewer}`;
  }

  @FieldResolver(() => String)
  page(@Root() box: Box, @Args(() => PageArgs) args: PageArgs): string {
    return `${box.label}:${args instanceof PageArgs}:${JSON.stringify(args)}`;
  }

  @FieldResolver(() => String)
  named(@Arg('n', () => Int) n: number, @Arg('shade', () => Shade) shade: Shade): string {
    return `${n}:${shade}`;
  }

  @FieldResolver(() => String)
  listed(@Args(() => ListArgs) args: ListArgs): string {
    return JSON.stringify(args.tags);
  }

  @FieldResolver(() => String)
  ranged(@Arg('range', () => Range) range: Range): string {
    return `${range instanceof Range}:${range.min}`;
  }

  @FieldResolver(() => String)
  validated(@Arg('n', () => Int, { validate: true }) n: number): string {
    return String(n);
  }

  @Authorized('scope:read')
  @FieldResolver(() => String)
  scoped(@Root() box: Box): string {
    return box.label;
  }
}

async function built(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [BoxResolver],
    validate: false,
    authChecker: ({ context }) => Boolean((context as Ctx0).user),
  });
  directResolvers(schema, { resolvers: [BoxResolver], validate: false });
  return schema;
}

describe('direct resolver rules', () => {
  it('resolves directly only fields with nothing to check, convert or validate', async () => {
    const direct = directFields(await built());
    expect([...direct].sort()).toEqual(['Box.label', 'Box.named', 'Box.owner', 'Box.page', 'Mutation.touch', 'Query.box', 'Query.shaded']);
  });

  it('treats query and mutation fields by the same rules: guarded or converting handlers keep TypeGraphQL resolvers', async () => {
    const schema = await built();
    const read = await graphql({ schema, source: '{ shaded(shade: DARK) note }', contextValue: { viewer: 'v' } });
    expect(read.errors?.map((error) => error.path?.join('.'))).toEqual(['note']);
    expect(read.data).toEqual({ shaded: 'DARK:v', note: null });
    const write = await graphql({ schema, source: 'mutation { touch(n: 4) stretch(range: { min: 2 }) }', contextValue: { viewer: 'v' } });
    expect(write).toEqual({ data: { touch: 'touched 4', stretch: 'true:2' } });
  });

  it('passes what TypeGraphQL would: root and context, an @Args instance of the given arguments, scalar and enum values', async () => {
    const schema = await built();
    const query = '{ box { label owner page(first: 2, shade: DARK) bare: page named(n: 3, shade: LIGHT) guarded secret } }';
    const result = await graphql({ schema, source: query, contextValue: { viewer: 'v' } });
    expect(result.errors?.map((error) => error.path?.join('.'))).toEqual(['box.secret']);
    expect(result.data).toEqual({
      box: {
        label: 'b',
        owner: 'b:v',
        page: 'b:true:{"first":2,"shade":"DARK"}',
        bare: 'b:true:{}',
        named: '3:LIGHT',
        guarded: 'mw:g',
        secret: null,
      },
    });
  });

  it('refuses a schema built with global middlewares', async () => {
    const schema = await buildSchema({ resolvers: [BoxResolver], validate: false, authChecker: () => true });
    expect(() => directResolvers(schema, { resolvers: [BoxResolver], validate: false, globalMiddlewares: [() => undefined] })).toThrow(
      /global middleware/,
    );
  });

  it('keeps every field TypeGraphQL resolvers when arguments are validated', async () => {
    const schema = await buildSchema({ resolvers: [BoxResolver], validate: false, authChecker: () => true });
    directResolvers(schema, { resolvers: [BoxResolver], validate: true });
    expect([...directFields(schema)].sort()).toEqual(['Box.label', 'Box.owner', 'Query.box']);
  });
});
