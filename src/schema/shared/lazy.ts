/**
 * A factory of objects whose properties are built on first access and then kept. Loaders are needed per request
 * and per subscription event, but most operations touch one or two of them: building all of them every time is
 * wasted work on the hottest paths (a broadcast event builds one context per subscriber).
 */
export function lazyObjectFactory<T extends Record<string, () => unknown>>(
  factories: T,
): () => { readonly [K in keyof T]: ReturnType<T[K]> } {
  class Lazy {}
  for (const [key, make] of Object.entries(factories)) {
    // Getters live once on the prototype; the first read shadows them with an own value on the instance.
    Object.defineProperty(Lazy.prototype, key, {
      configurable: true,
      enumerable: true,
      get(this: Lazy) {
        const value = make();
        Object.defineProperty(this, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return () => new Lazy() as { readonly [K in keyof T]: ReturnType<T[K]> };
}
