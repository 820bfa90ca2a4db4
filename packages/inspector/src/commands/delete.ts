import type { Context } from '../context.js';
import { InspectorError, usageError } from '../errors.js';
import { escapeControls, printable, safeJson } from '../format.js';
import { DELETABLE_KINDS, inspectEntry } from '../inspect.js';
import type { Kind } from '../inspect.js';
import { findEntry } from '../key-reference.js';
import { prefixPattern } from '../pattern.js';
import type { StoredEntry } from '../stores/store.js';

/**
 * `reprise delete <key>` deletes one key; `reprise delete --prefix <p> --yes` every key starting
 * with `p` (without `--yes` it only counts them, and fails with exit code 64). Only what the adapter
 * writes is deleted (records, undecodable values, floors); coordinator and foreign keys never are:
 * naming one is refused (exit code 1), a bulk delete skips and counts them.
 */
export async function remove(context: Context): Promise<void> {
  const { options } = context;
  const key = options.args[0];
  if (key !== undefined) return removeOne(context, key);
  return removePrefix(context, options.prefix ?? '');
}

async function removeOne(context: Context, argument: string): Promise<void> {
  const { store, io, redact, options } = context;
  const entry = await findEntry(store, argument);
  const { kind } = inspectEntry(entry, context.snapshotKeys);
  const shown = printable(redact.key(entry.key));
  if (!DELETABLE_KINDS.has(kind)) {
    throw new InspectorError(
      'ERR_REPRISE_INSPECTOR_REFUSED',
      `${shown} is a ${kind} key (${escapeControls(entry.detail ?? 'not written by the adapter')}), not a snapshot: the inspector does not delete it`,
    );
  }
  const deleted = await store.delete([entry]);
  if (deleted === 0) throw new InspectorError('ERR_REPRISE_INSPECTOR_NOT_FOUND', `${shown} was deleted by someone else meanwhile`);
  if (options.json) io.out(safeJson({ deleted, key: redact.key(entry.key), kind }));
  else io.out(`deleted ${shown} (${kind})`);
}

async function removePrefix(context: Context, prefix: string): Promise<void> {
  const { store, io, options } = context;
  const deletedByKind = new Map<Kind, number>();
  const skippedByKind = new Map<Kind, number>();
  let deleted = 0;
  for await (const batch of store.scan(prefixPattern(prefix))) {
    const doomed: StoredEntry[] = [];
    for (const entry of batch) {
      const { kind } = inspectEntry(entry, context.snapshotKeys);
      const tally = DELETABLE_KINDS.has(kind) ? deletedByKind : skippedByKind;
      tally.set(kind, (tally.get(kind) ?? 0) + 1);
      if (DELETABLE_KINDS.has(kind)) doomed.push(entry);
    }
    if (options.yes) deleted += await store.delete(doomed);
  }
  const matched = sum(deletedByKind);
  const skipped = sum(skippedByKind);
  const where = `under prefix ${printable(prefix)}`;
  if (!options.yes) {
    const message = `${matched} key${matched === 1 ? '' : 's'} ${where} would be deleted${byKind(deletedByKind)}; nothing deleted: add --yes to delete them`;
    if (options.json)
      io.out(
        safeJson({
          deleted: 0,
          matched,
          byKind: Object.fromEntries(deletedByKind),
          skipped,
          skippedByKind: Object.fromEntries(skippedByKind),
        }),
      );
    throw usageError(message);
  }
  if (options.json) {
    io.out(
      safeJson({ deleted, matched, byKind: Object.fromEntries(deletedByKind), skipped, skippedByKind: Object.fromEntries(skippedByKind) }),
    );
    return;
  }
  io.out(`deleted ${deleted} key${deleted === 1 ? '' : 's'} ${where}${byKind(deletedByKind)}`);
  if (skipped > 0)
    io.out(`kept ${skipped === 1 ? '1 key that is not a snapshot' : `${skipped} keys that are not snapshots`}${byKind(skippedByKind)}`);
}

function sum(counts: ReadonlyMap<Kind, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}

function byKind(counts: ReadonlyMap<Kind, number>): string {
  return counts.size === 0 ? '' : ` (${[...counts].map(([kind, n]) => `${kind} ${n}`).join(', ')})`;
}
