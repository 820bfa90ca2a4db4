import type { Context } from '../context.js';
import { entryView } from '../entry-view.js';
import type { EntryView } from '../entry-view.js';
import { escapeControls, humanTtl, printable, row, safeJson } from '../format.js';
import { inspectEntry, RECORD_KINDS } from '../inspect.js';
import type { Inspected } from '../inspect.js';
import { ANY_KEY, parsePattern } from '../pattern.js';

const HEADERS = ['KIND', 'REASON', 'SESSION', 'BYTES', 'CLOSED AT', 'EXPIRES IN', 'KEY'];
const BYTES_COLUMN = 3;

/**
 * `reprise list [pattern]`: one line per key (`--json`: one JSON object per line), in the store's
 * scan order, at most `--limit`. Without `--all`, only records (snapshots, checkpoints, pointers,
 * erased marks, undecodable values) that have not expired are listed.
 */
export async function list(context: Context): Promise<void> {
  const { options, io, redact } = context;
  const pattern = options.args[0] === undefined ? ANY_KEY : parsePattern(options.args[0]);
  const widths = [11, 10, options.showIds ? 24 : 7, 9, 24, 10];
  if (!options.json)
    io.out(
      row(
        HEADERS.map((header, i) => (i === BYTES_COLUMN ? header.padStart(widths[i]!) : header)),
        widths,
      ),
    );
  let shown = 0;
  let stopped = false;
  scan: for await (const batch of context.store.scan(pattern)) {
    for (const entry of batch) {
      const inspected = inspectEntry(entry, context.snapshotKeys);
      if (!options.all && !listedByDefault(inspected)) continue;
      if (options.limit > 0 && shown === options.limit) {
        stopped = true;
        break scan;
      }
      const view = entryView(inspected, redact);
      io.out(options.json ? safeJson(view) : row(cells(view), widths));
      shown += 1;
    }
  }
  const note = stopped ? `stopped at --limit ${options.limit} (--limit 0 lists all)` : undefined;
  if (options.json) {
    if (note !== undefined) io.err(`reprise: ${note}`);
    return;
  }
  io.out(
    `${shown} key${shown === 1 ? '' : 's'}${note === undefined ? '' : `, ${note}`}${options.all ? '' : ' (--all also lists expired rows, floors, coordinator and foreign keys)'}`,
  );
}

function listedByDefault(inspected: Inspected): boolean {
  const ttl = inspected.entry.ttlMs;
  return RECORD_KINDS.has(inspected.kind) && (ttl === undefined || ttl > 0);
}

function cells(view: EntryView): string[] {
  const out = [
    view.kind,
    view.reason ?? '-',
    view.sessionId ?? '-',
    String(view.bytes),
    view.closedAt ?? '-',
    humanTtl(view.ttlMs ?? undefined),
    printable(view.key) + suffix(view),
  ];
  out[BYTES_COLUMN] = out[BYTES_COLUMN]!.padStart(9);
  return out;
}

/** What follows the key: a pointer's target, why a value is undecodable, what another key holds. */
function suffix(view: EntryView): string {
  if (view.target !== undefined) return ` -> ${printable(view.target)}`;
  if (view.snapshotKey !== undefined) return ` (snapshot of ${printable(view.snapshotKey)})`;
  if (view.problem !== undefined) return `  ! ${escapeControls(view.problem)}`;
  if (view.detail !== undefined) return `  (${escapeControls(view.detail)})`;
  return '';
}
