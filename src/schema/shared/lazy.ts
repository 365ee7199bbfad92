/**
 * A factory of objects whose properties are built on first access and then kept. Loaders are needed per request
 * and per subscription event, but most operations touch one or two of them: building all of them every time is
 * wasted work on the hottest paths (a broadcast event builds one context per subscriber). Each object is made for
 * an argument (the operation's repositories or view), which every property's factory is given.
 */
export function lazyObjectFactory<T extends Record<string, (arg: never) => unknown>, A = Parameters<T[keyof T]>[0]>(
  factories: T,
): (arg: A) => { readonly [K in keyof T]: ReturnType<T[K]> } {
  const argument = Symbol('argument');
  class Lazy {
    // A symbol: never one of the object's names, nor in its keys.
    readonly [argument]: A;
    constructor(arg: A) {
      this[argument] = arg;
    }
  }
  for (const [key, make] of Object.entries(factories)) {
    // Getters live once on the prototype; the first read shadows them with an own value on the instance.
    Object.defineProperty(Lazy.prototype, key, {
      configurable: true,
      enumerable: true,
      get(this: Lazy) {
        const value = make(this[argument] as never);
        Object.defineProperty(this, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return (arg) => new Lazy(arg) as unknown as { readonly [K in keyof T]: ReturnType<T[K]> };
}
