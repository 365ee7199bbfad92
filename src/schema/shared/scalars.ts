import { DateTimeResolver, JSONResolver } from 'graphql-scalars';

/** ISO-8601 date-time with offset, e.g. `2026-11-23T18:00:00.000Z`. */
export const DateTimeScalar = DateTimeResolver;
/** Arbitrary JSON value. */
export const JSONScalar = JSONResolver;
