import type { Context } from '../context.js';
import { entryView } from '../entry-view.js';
import type { EntryView } from '../entry-view.js';
import { InspectorError } from '../errors.js';
import { escapeControls, humanBytes, humanTtl, printable, safeJson } from '../format.js';
import { inspectEntry } from '../inspect.js';
import type { Inspected } from '../inspect.js';
import { findEntry } from '../key-reference.js';
import { readable } from '../readable.js';
import type { Json } from '../readable.js';

/**
 * `reprise show <key>`: the decoded record (metadata, and a snapshot's data as readable JSON, see
 * `readable`); `--raw`: the stored value's bytes exactly. An undecodable value is described (why, and
 * its first bytes) and the command fails with exit code 1.
 */
export async function show(context: Context): Promise<void> {
  const { options, io, redact } = context;
  const entry = await findEntry(context.store, options.args[0]!);
  if (options.raw) {
    if (entry.value === undefined)
      throw new InspectorError(
        'ERR_REPRISE_INSPECTOR_REFUSED',
        `${printable(redact.key(entry.key))} holds no value (${entry.detail ?? entry.layout})`,
      );
    io.raw(entry.value);
    return;
  }
  const inspected = inspectEntry(entry, context.snapshotKeys);
  const view = entryView(inspected, redact);
  const data = dataOf(inspected);
  if (options.json) io.out(safeJson(data === undefined ? view : { ...view, data }, 2));
  else printText(context, view, data);
  if (inspected.kind === 'undecodable') {
    throw new InspectorError(
      'ERR_REPRISE_INSPECTOR_UNDECODABLE',
      `${printable(view.key)} holds a value that is not a Reprise snapshot: ${inspected.problem}`,
    );
  }
}

function dataOf(inspected: Inspected): Json | undefined {
  return inspected.record?.kind === 'snapshot' ? readable(inspected.record.snapshot.data) : undefined;
}

function printText({ io }: Context, view: EntryView, data: Json | undefined): void {
  const line = (label: string, value: string | undefined): void => {
    if (value !== undefined) io.out(`${`${label}:`.padEnd(13)}${value}`);
  };
  line('key', printable(view.key));
  line('kind', view.reason === undefined ? view.kind : `${view.kind} (${view.reason})`);
  line('session', view.sessionId);
  line('snapshot of', view.snapshotKey === undefined ? undefined : printable(view.snapshotKey));
  line('points to', view.target === undefined ? undefined : `${printable(view.target)} (show it to see the data)`);
  if (view.kind === 'erased') line('note', 'left by an explicit close or a regenerate: restores nothing');
  line('created at', view.createdAt);
  line('closed at', view.closedAt);
  line('size', view.bytes > 0 ? `${view.bytes} bytes (${humanBytes(view.bytes)})` : undefined);
  line('version', view.version);
  line('expires', view.expiresAt === null ? 'never' : `${view.expiresAt} (${humanTtl(view.ttlMs ?? undefined)})`);
  line('holds', view.detail === undefined ? undefined : escapeControls(view.detail));
  line('problem', view.problem === undefined ? undefined : escapeControls(view.problem));
  line('first bytes', view.head);
  if (data !== undefined) {
    io.out('data:');
    io.out(safeJson(data, 2));
  }
}
