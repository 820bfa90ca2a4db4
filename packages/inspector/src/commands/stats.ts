import type { Context } from '../context.js';
import { humanBytes, humanDuration, printable, safeJson } from '../format.js';
import { inspectEntry, KINDS, reasonOf, RECORD_KINDS } from '../inspect.js';
import type { Kind } from '../inspect.js';
import { ANY_KEY, parsePattern } from '../pattern.js';

/** What `stats` counts. Sizes in bytes of the stored values, durations in ms. */
export interface Stats {
  store: string;
  keys: number;
  /** Every kind, 0 included. */
  kinds: Record<Kind, number>;
  /** Records (snapshot, checkpoint, pointer, erased) by reason. */
  reasons: Record<string, number>;
  bytes: { total: number; largest: number; largestKey: string | null };
  /** Keys that expire within `withinMs` (not yet expired). */
  expiringSoon: { withinMs: number; keys: number };
  /** Postgres rows past their expiry that the sweep has not deleted yet (never in Redis). */
  expired: number;
  /** Keys without an expiry. */
  noExpiry: number;
}

/** `reprise stats [pattern]`: counts by kind and reason, sizes, what expires soon; one scan of the keys. */
export async function stats(context: Context): Promise<void> {
  const { options, io } = context;
  const result = await collect(context);
  if (options.json) io.out(safeJson(result, 2));
  else printText(context, result);
}

async function collect({ store, options, redact, snapshotKeys }: Context): Promise<Stats> {
  const pattern = options.args[0] === undefined ? ANY_KEY : parsePattern(options.args[0]);
  const kinds = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<Kind, number>;
  const result: Stats = {
    store: store.description,
    keys: 0,
    kinds,
    reasons: {},
    bytes: { total: 0, largest: 0, largestKey: null },
    expiringSoon: { withinMs: options.soon, keys: 0 },
    expired: 0,
    noExpiry: 0,
  };
  for await (const batch of store.scan(pattern)) {
    for (const entry of batch) {
      const inspected = inspectEntry(entry, snapshotKeys);
      result.keys += 1;
      kinds[inspected.kind] += 1;
      const reason = reasonOf(inspected);
      if (reason !== undefined) result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
      result.bytes.total += entry.bytes;
      if (entry.bytes > result.bytes.largest) result.bytes = { ...result.bytes, largest: entry.bytes, largestKey: redact.key(entry.key) };
      if (entry.ttlMs === undefined) result.noExpiry += 1;
      else if (entry.ttlMs <= 0) result.expired += 1;
      else if (entry.ttlMs <= options.soon) result.expiringSoon.keys += 1;
    }
  }
  return result;
}

function printText({ io, options }: Context, result: Stats): void {
  io.out(result.store);
  io.out(`keys: ${result.keys}${options.args[0] === undefined ? '' : ` matching ${printable(options.args[0])}`}`);
  for (const kind of KINDS) {
    const count = result.kinds[kind];
    if (count === 0) continue;
    io.out(`  ${kind.padEnd(12)}${String(count).padStart(8)}${RECORD_KINDS.has(kind) || kind === 'floor' ? '' : '   (not a snapshot)'}`);
  }
  const reasons = Object.entries(result.reasons).sort(([a], [b]) => a.localeCompare(b));
  if (reasons.length > 0) io.out(`by reason: ${reasons.map(([reason, n]) => `${reason} ${n}`).join(', ')}`);
  const { total, largest, largestKey } = result.bytes;
  io.out(
    `stored bytes: ${total} (${humanBytes(total)})${largestKey === null ? '' : `, largest ${largest} (${humanBytes(largest)}) at ${printable(largestKey)}`}`,
  );
  io.out(`expiring within ${humanDuration(result.expiringSoon.withinMs)}: ${result.expiringSoon.keys}`);
  if (result.expired > 0) io.out(`expired, not swept yet: ${result.expired}`);
  io.out(`without expiry: ${result.noExpiry}`);
}
