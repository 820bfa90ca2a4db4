/**
 * The disposal function of a live resource, if it has one: `Symbol.asyncDispose`, then
 * `Symbol.dispose`, then a `dispose()` or `close()` method, in that order of preference.
 */
export function disposerOf(value: unknown): (() => unknown) | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  const resource = value as Record<PropertyKey, unknown>;
  for (const name of [Symbol.asyncDispose, Symbol.dispose, 'dispose', 'close'] as const) {
    const method = resource[name];
    if (typeof method === 'function') return () => method.call(value);
  }
  return undefined;
}
