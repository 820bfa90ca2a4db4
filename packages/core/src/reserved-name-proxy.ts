/** The names a binding answers itself on its session object (express-session's `save()`, ...). */
export interface ReservedNames {
  /** Whether `property` is the binding's, not a data key. */
  has(property: PropertyKey): boolean;
  /** What reading the reserved name `property` gives. */
  read(property: PropertyKey): unknown;
  /** Throws for a write, definition or deletion of the reserved name `property`. */
  refuse(property: PropertyKey): never;
}

/**
 * A binding's session object (`req.session`, `request.session`): a proxy over the session data (the
 * live session's, or the lazy object whose first write creates it) that answers the binding's
 * reserved names itself and refuses writes to them, so they are never data keys. Everything else
 * (reads, writes, `in`, `Object.keys`, JSON) goes to the data. One proxy per data object: the same
 * object while the data stays the same.
 */
export class ReservedNameProxy<TObject extends object> {
  readonly #data: () => object;
  readonly #handler: ProxyHandler<object>;
  #target: object | undefined;
  #proxy: TObject | undefined;

  /** @param data the current data object (read at each access to {@link object}). */
  constructor(data: () => object, names: ReservedNames) {
    this.#data = data;
    this.#handler = {
      get: (target, property) => (names.has(property) ? names.read(property) : Reflect.get(target, property)),
      set: (target, property, value) => (names.has(property) ? names.refuse(property) : Reflect.set(target, property, value)),
      defineProperty: (target, property, descriptor) =>
        names.has(property) ? names.refuse(property) : Reflect.defineProperty(target, property, descriptor),
      deleteProperty: (target, property) => (names.has(property) ? names.refuse(property) : Reflect.deleteProperty(target, property)),
    };
  }

  /** The session object over the current data. */
  get object(): TObject {
    const data = this.#data();
    if (data !== this.#target || this.#proxy === undefined) {
      this.#target = data;
      this.#proxy = new Proxy(data, this.#handler) as TObject;
    }
    return this.#proxy;
  }
}
