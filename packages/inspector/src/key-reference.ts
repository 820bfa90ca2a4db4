import { InspectorError, usageError } from './errors.js';
import { printable } from './format.js';
import { prefixPattern } from './pattern.js';
import { isRedactedReference, normalizeReference, redactKey } from './redaction.js';
import type { SnapshotStore, StoredEntry } from './stores/store.js';

/**
 * The entry a command argument names: the key itself, or a redacted key as `list` prints it
 * (`AbCdEf…`, or `AbCdEf...`), which must stand for exactly one key of the store.
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_NOT_FOUND` when no key matches,
 *   `ERR_REPRISE_INSPECTOR_USAGE` when a redacted key matches several.
 */
export async function findEntry(store: SnapshotStore, argument: string): Promise<StoredEntry> {
  const exact = await store.get(argument);
  if (exact !== undefined) return exact;
  if (!isRedactedReference(argument)) throw notFound(argument);
  const reference = normalizeReference(argument);
  const found: StoredEntry[] = [];
  for await (const batch of store.scan(prefixPattern(reference.slice(0, -1)))) {
    found.push(...batch.filter((entry) => redactKey(entry.key) === reference));
    if (found.length > 1) {
      throw usageError(`${printable(argument)} matches several keys: give the whole key (list --show-ids prints them)`);
    }
  }
  if (found[0] === undefined) throw notFound(argument);
  return found[0];
}

function notFound(argument: string): InspectorError {
  return new InspectorError('ERR_REPRISE_INSPECTOR_NOT_FOUND', `no key ${printable(argument)} in the store`);
}
