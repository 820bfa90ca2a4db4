/**
 * About how many bytes a session's data takes once encoded: its JSON length with Maps, Sets,
 * BigInts, bytes and Dates written out as the snapshot codec keeps them (the codec's own tags add a
 * few bytes more). For an overview page, not for accounting.
 */
export function approximateDataBytes(data: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(data, expand) ?? '');
  } catch {
    return 0; // a cycle: the page shows 0 rather than failing
  }
}

function expand(_key: string, value: unknown): unknown {
  if (value instanceof Map) return [...value];
  if (value instanceof Set) return [...value];
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
