import type { SnapshotKey } from '@reprise/core';
import { decodeRecord, openSealedRecord, sealedKeyId } from '@reprise/core/adapter-kit';
import type { DecodedRecord } from '@reprise/core/adapter-kit';
import type { StoredEntry } from './stores/store.js';

/**
 * What a key is, for people:
 * - `snapshot`: a session's context written at its close (reason `evicted`, `expired`, `closed`,
 *   `shutdown` or `handover`);
 * - `checkpoint`: a copy of a live session (reason `checkpoint`), written while it changes;
 * - `pointer`: left under a session id when its snapshot went under a `persistKey` of its own;
 * - `erased`: a pointer of a session to itself, the mark an explicit close or a regenerate leaves
 *   over a checkpoint (restores nothing);
 * - `undecodable`: a value the snapshot codec refuses (another program's value, a corrupt one, or a
 *   format this version does not know, such as an encrypted snapshot);
 * - `floor`, `lease`, `token`, `deadlines`, `foreign`: see `Layout` in stores/store.ts.
 */
export type Kind = 'snapshot' | 'checkpoint' | 'pointer' | 'erased' | 'undecodable' | 'floor' | 'lease' | 'token' | 'deadlines' | 'foreign';

/** Every kind, in the order reports list them. */
export const KINDS: readonly Kind[] = Object.freeze([
  'snapshot',
  'checkpoint',
  'pointer',
  'erased',
  'undecodable',
  'floor',
  'lease',
  'token',
  'deadlines',
  'foreign',
]);

/** The kinds `list` shows without `--all`: what holds or concerns a session's saved context. */
export const RECORD_KINDS: ReadonlySet<Kind> = new Set<Kind>(['snapshot', 'checkpoint', 'pointer', 'erased', 'undecodable']);

/** The kinds `delete` removes: keys the adapter wrote (or that sit where it writes). Coordinator keys and foreign keys are never deleted. */
export const DELETABLE_KINDS: ReadonlySet<Kind> = new Set<Kind>([...RECORD_KINDS, 'floor']);

/** A stored key, decoded. */
export interface Inspected {
  readonly entry: StoredEntry;
  readonly kind: Kind;
  /** The decoded record of `snapshot`, `checkpoint`, `pointer` and `erased`. */
  readonly record: DecodedRecord | undefined;
  /** Why an `undecodable` value was refused (the decoder's message). */
  readonly problem: string | undefined;
}

/** Bytes of an undecodable value shown. */
export const HEAD_BYTES = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes an entry with the snapshot codec of `@reprise/core` (never revives classes). A record
 * encrypted with `snapshotKeys` is opened first with `keys` (it is undecodable without them, or when
 * it does not open: altered, moved to another key, or sealed with a key not given).
 */
export function inspectEntry(entry: StoredEntry, keys?: readonly SnapshotKey[]): Inspected {
  if (entry.layout !== 'value' || entry.value === undefined)
    return { entry, kind: entry.layout === 'value' ? 'foreign' : entry.layout, record: undefined, problem: undefined };
  let text: string;
  try {
    text = utf8.decode(entry.value);
  } catch {
    return undecodable(entry, 'the value is not UTF-8 text');
  }
  const keyId = sealedKeyId(text);
  if (keyId !== undefined) {
    if (keys === undefined) return undecodable(entry, `encrypted with key "${keyId}": set REPRISE_SNAPSHOT_KEYS to read it`);
    try {
      text = openSealedRecord(text, entry.key, keys);
    } catch (error) {
      return undecodable(entry, `encrypted with key "${keyId}" and does not open: ${(error as Error).message}`);
    }
  }
  let record: DecodedRecord;
  try {
    record = decodeRecord(text);
  } catch (error) {
    return undecodable(entry, (error as Error).message);
  }
  return { entry, kind: kindOf(record), record, problem: undefined };
}

function undecodable(entry: StoredEntry, problem: string): Inspected {
  return { entry, kind: 'undecodable', record: undefined, problem };
}

function kindOf(record: DecodedRecord): Kind {
  if (record.kind === 'pointer') return record.pointer.key === record.pointer.sessionId ? 'erased' : 'pointer';
  return record.snapshot.reason === 'checkpoint' ? 'checkpoint' : 'snapshot';
}

/**
 * The first {@link HEAD_BYTES} bytes of a value, printable ASCII as it is and every other byte as
 * `\xNN`, with `…` when there is more: what an undecodable value starts with, never guessed at.
 */
export function headOf(value: Buffer): string {
  let text = '';
  for (const byte of value.subarray(0, HEAD_BYTES)) {
    text += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return value.length > HEAD_BYTES ? `${text}…` : text;
}

/** The record's reason, or `undefined`. */
export function reasonOf(inspected: Inspected): string | undefined {
  const record = inspected.record;
  if (record === undefined) return undefined;
  return record.kind === 'pointer' ? record.pointer.reason : record.snapshot.reason;
}

/** The record's session id, or `undefined`. */
export function sessionIdOf(inspected: Inspected): string | undefined {
  const record = inspected.record;
  if (record === undefined) return undefined;
  return record.kind === 'pointer' ? record.pointer.sessionId : record.snapshot.sessionId;
}

/** The record's `closedAt` (ms since the epoch), or `undefined`. */
export function closedAtOf(inspected: Inspected): number | undefined {
  const record = inspected.record;
  if (record === undefined) return undefined;
  return record.kind === 'pointer' ? record.pointer.closedAt : record.snapshot.closedAt;
}
