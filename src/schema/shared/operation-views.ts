/**
 * One operation's view of the process's repositories and services: the same objects, with the database they were
 * built on replaced by the operation's (db/statement-scope.ts), so every statement they issue for the operation is
 * counted and cancelled with it.
 *
 * A view is an object whose prototype is the process's instance, with an own property only where the instance holds
 * the database or another object that needs a view (directly, or in its `deps`-style plain object). Everything else —
 * methods, prepared-statement caches, limiters, clocks a test replaced — is the instance's own, read through the
 * prototype. Views are made on first use in an operation; most operations touch one or two services.
 */

/** Where an instance holds what its view replaces: a property, or the values of a plain object in a property. */
type Plan = ReadonlyArray<{ key: string; nested: boolean }>;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * Views of `members` (repositories, services) for operations whose database is a scoped version of `db`. Returns,
 * for one operation's database, the function that gives that operation's view of a member.
 */
export function operationViews(db: object, members: Iterable<object>): (scoped: object) => <T>(base: T) => T {
  const scopable = new Set(members);
  const plans = new Map<object, Plan>();

  const needsView = (value: unknown): boolean =>
    value === db || (typeof value === 'object' && value !== null && scopable.has(value) && planOf(value).length > 0);

  function planOf(base: object): Plan {
    const plan = plans.get(base);
    if (plan) return plan;
    const entries: Array<{ key: string; nested: boolean }> = [];
    // Set before the members it holds are planned: an object reached again while planning needs no view of its own.
    plans.set(base, entries);
    for (const [key, value] of Object.entries(base)) {
      if (needsView(value)) entries.push({ key, nested: false });
      else if (isPlainObject(value) && Object.values(value).some(needsView)) entries.push({ key, nested: true });
    }
    return entries;
  }

  return (scoped) => {
    if (scoped === db) return <T>(base: T) => base;
    const views = new Map<object, object>([[db, scoped]]);
    const view = <T>(base: T): T => {
      if (typeof base !== 'object' || base === null) return base;
      const known = views.get(base);
      if (known) return known as T;
      if (!scopable.has(base) || planOf(base).length === 0) return base;
      const result = Object.create(base) as Record<string, unknown>;
      views.set(base, result);
      for (const { key, nested } of planOf(base)) {
        const value = (base as Record<string, unknown>)[key];
        const replaced = nested
          ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, held]) => [name, view(held)]))
          : view(value);
        // The instance's property is its own writable field, so this makes an own property of the view.
        result[key] = replaced;
      }
      return result as T;
    };
    return view;
  };
}
