/**
 * The snapshot codec: turns a {@link Snapshot} into the opaque string an adapter stores, and back.
 *
 * Format 2 (what {@link encodeSnapshot} writes): the text `R2:` followed by JSON text of a small envelope object:
 * - snapshot: `{"v":1,"t":"s","key":…,"id":sessionId,"c":createdAt,"x":closedAt,"r":reason,"d":data}`
 * - pointer:  `{"v":1,"t":"p","key":…,"id":sessionId,"r":reason,"x":closedAt}`
 * Unknown envelope fields are ignored when reading (room for additive changes within a format).
 * `data` is JSON where JSON has the value; every other value is a tag: an object with one key starting
 * with `$` (the encoder wraps a plain object whose first key starts with `$` in `$O`, so data never
 * reads as a tag):
 *
 * | tag | value |
 * | --- | --- |
 * | `{"$u":0}` | `undefined` (also a dropped array element) |
 * | `{"$n":"NaN"}` | `NaN`, `"Infinity"`, `"-Infinity"`, `"-0"` |
 * | `{"$b":"-1f"}` | a bigint, in hexadecimal (linear to read and write at any size) |
 * | `{"$D":1700000000000}` | a `Date` (ms since the epoch; `null` for an invalid Date) |
 * | `{"$M":[k0,v0,k1,v1,…]}` | a `Map`, entries in order |
 * | `{"$S":[m0,m1,…]}` | a `Set` |
 * | `{"$R":["source","flags"]}` | a `RegExp` |
 * | `{"$H":[length,i0,v0,i1,v1,…]}` | an array with holes: its length and its own indices, ascending |
 * | `{"$N":{…}}` | an object with a `null` prototype |
 * | `{"$O":{…}}` | a plain object whose first key starts with `$` |
 * | `{"$ArrayBuffer":"base64"}`, `{"$Uint8Array":"base64"}`, … | bytes (typed arrays: their visible bytes, little-endian) |
 * | `{"$r":n}` | the n-th object written (0 is `data`; objects are numbered in the order they are first written): shared references and cycles |
 *
 * Format 1 (`R1:` + a `devalue` text of the same envelope) is still read, never written.
 *
 * Why this format. Measured on the 2-core machine of the benchmarks (Node 20.20), CPU µs per call,
 * medians of interleaved rounds, the 20-item cart of `bench/codec.mjs` (a Date and a Map of options per
 * item, strings, numbers), other helpers' benchmarks running on the same cores:
 *
 * | codec | encode | decode | total vs `JSON.stringify` + `JSON.parse` | bytes |
 * | --- | ---: | ---: | ---: | ---: |
 * | format 1: sanitizer + `devalue` (before) | 90 | 47 | 3.8–4.0x | 3,989 |
 * | format 2 (this), same process as format 1 | 25 | 22 | 1.32–1.36x | 3,715 |
 * | format 2 (this), `bench/codec.mjs` | 34–40 | 22–23 | 1.5–1.8x | 3,739 |
 * | `devalue` alone (no checks) | 62 | 30 | 2.6x | 3,871 |
 * | `v8.serialize` (no checks) | 11–13 | 22–23 | 1.0x | 3,021 (4,028 as base64) |
 * | `JSON` (lossy: Dates become strings, Maps `{}`) | 27–28 | 7.6–7.8 | 1x | 2,531 |
 *
 * (The bench's figures vary with the load of the machine; decoding is bound by `JSON.parse` of the
 * Maps' entries, which JSON's lossy form does not carry.) `v8.serialize` was
 * weighed: fast to write but no faster to read than `JSON.parse` plus the walk, binary (base64 for
 * string stores: a third larger), and the checks would come on top of the figures above: a sanitizing
 * walk before (drops with paths, reserved keys, depth, class instances it would otherwise write as plain
 * objects) and a validating walk after (it revives any host object it knows). Its wire format follows
 * V8's (a record written by a newer Node may not be readable by an older one during a rolling deploy);
 * format 2 is JSON text any Node reads, and readable in any store. A crafted store value meets
 * `JSON.parse` (no reviver, not recursive: 200,000 levels of nesting parse) and one walk that recurses
 * once per level of data up to {@link MAX_DATA_DEPTH}, revives only the tags above, never assigns an
 * inherited property (reserved keys refuse the record) and reads only own keys: it decodes to supported
 * types or is refused with a `CodecError`.
 *
 * What `data` may hold (everything else is dropped at encode with a report, see {@link encodeSnapshot}):
 * primitives (strings, numbers including `NaN`, `±Infinity` and `-0`, booleans, `null`, `undefined`,
 * bigints), plain objects (prototype `Object.prototype` or `null`; a `null` prototype is kept), arrays
 * (holes kept), `Date`, `Map` (any keys, objects too), `Set`, `RegExp`, `ArrayBuffer` and the typed arrays
 * `Int8Array`, `Uint8Array`, `Uint8ClampedArray`, `Int16Array`, `Uint16Array`, `Int32Array`, `Uint32Array`,
 * `Float32Array`, `Float64Array`, `BigInt64Array`, `BigUint64Array`. Instances of subclasses of these
 * built-ins are written as the built-in (a `Buffer` comes back as a plain `Uint8Array` holding a copy of
 * its visible bytes). Shared references and cycles keep their identity.
 *
 * Paths (the `path` of a {@link CodecError}) name a place in the session data:
 * `data` is the data object itself; `.name` follows a property whose name is an identifier and
 * `["other key"]` (JSON-quoted) any other property name; `[3]` an array index; `<Map key #i>` and
 * `<Map value #i>` the key and the value of the i-th entry of a Map (0-based, insertion order);
 * `<Set member #i>` the i-th member of a Set. Examples: `data.cart[2].handle`, `data["x-y"]`,
 * `data.byUser<Map value #0>.socket`. Problems with the envelope name the snapshot field
 * (`key`, `sessionId`, `createdAt`, `closedAt`, `reason`, `version`, `kind`); problems with the
 * whole record have the path `''`.
 *
 * Runs at close and restore only, never per request.
 */
import { writeData } from './codec-encode.js';
import { parseEnvelope, readData } from './codec-decode.js';
import { corrupt, describe } from './codec-common.js';
import { checkLegacyData, parseLegacyEnvelope } from './codec-legacy.js';
import { CodecError, OptionError } from './errors.js';
import { describeKey } from './redact.js';
import { sealedWithoutKeys } from './snapshot-cipher.js';
import type { SessionData, Snapshot, SnapshotReason } from './types.js';

export { MAX_DATA_DEPTH, MAX_DROP_REPORTS } from './codec-common.js';

/** Default bound on an encoded snapshot: 1 MiB (bytes of UTF-8). */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024;

/** The marker every record written now starts with: `R`, the format version, `:`. */
const PREFIX = 'R2:';
/** The marker of format 1 (devalue), still read. */
const LEGACY_PREFIX = 'R1:';
const PREFIX_PATTERN = /^R(\d+):/;

const SNAPSHOT_REASONS: ReadonlySet<string> = new Set<SnapshotReason>([
  'evicted',
  'expired',
  'closed',
  'shutdown',
  'handover',
  'checkpoint',
]);

/** A pointer left under a session id when a snapshot is stored under another persistKey. Times are ms since the epoch. */
export interface SnapshotPointer {
  readonly version: 1;
  /** The adapter key the snapshot is stored under. */
  readonly key: string;
  /** The id of the closed session (the adapter key the pointer itself is stored under). */
  readonly sessionId: string;
  readonly reason: SnapshotReason;
  readonly closedAt: number;
}

/** What {@link decodeRecord} read: a snapshot, or a pointer to one. */
export type DecodedRecord = { kind: 'snapshot'; snapshot: Snapshot } | { kind: 'pointer'; pointer: SnapshotPointer };

/** The result of {@link encodeSnapshot}. */
export interface EncodeResult {
  /** The encoded snapshot, to hand to the adapter. */
  text: string;
  /** `text`'s length in bytes of UTF-8 (at most the `maxBytes` it was encoded with). */
  bytes: number;
  /**
   * One `ERR_REPRISE_CODEC` error per value that was not written (at most {@link MAX_DROP_REPORTS},
   * plus one summary), each naming its path. Empty when everything was written.
   */
  dropped: CodecError[];
}

// ---------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------

/**
 * Encodes a snapshot for an adapter, in format 2 (see the module comment). A value the codec cannot
 * represent is dropped and reported in `dropped`: functions, symbols, class instances (a `Promise`, a
 * `WeakMap`, an `Error`, `new Foo()`, boxed primitives, `URL`s, `DataView`s...), containers nested deeper
 * than {@link MAX_DATA_DEPTH}, values whose getter throws, and properties named `__proto__`,
 * `constructor` or `prototype`. A dropped property is left out, a dropped array element becomes
 * `undefined` (indices are kept), a Map entry whose key or value is dropped is left out, as is a dropped
 * Set member. Symbol-keyed, non-enumerable and non-index array properties are ignored silently (as
 * `JSON.stringify` does). `snapshot.data` itself is never changed.
 *
 * @param maxBytes bound on the result in bytes of UTF-8 (a positive number; usually
 *   {@link DEFAULT_MAX_SNAPSHOT_BYTES}, `Infinity` for none).
 * @throws CodecError `ERR_REPRISE_CODEC` when `data` is not a plain object (path `data`) or an envelope
 *   field is invalid (path: the field's name); `ERR_REPRISE_SNAPSHOT_TOO_LARGE` (path `''`) when the
 *   result is over `maxBytes` (nothing is returned then, drop reports included).
 * @throws OptionError when `maxBytes` is not a positive number.
 */
export function encodeSnapshot(snapshot: Snapshot, maxBytes: number): EncodeResult {
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
    throw new OptionError(`maxBytes must be a positive number of bytes, got ${String(maxBytes)}`);
  }
  checkHeader(snapshot.version, snapshot.key, snapshot.sessionId, snapshot.reason, snapshot.closedAt);
  checkEncodeField('createdAt', snapshot.createdAt, 'time');
  const { text: data, dropped } = writeData(snapshot.data);
  const text = `${snapshotHeader(snapshot, snapshot.closedAt, snapshot.reason)}${data}}`;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new CodecError(
      'ERR_REPRISE_SNAPSHOT_TOO_LARGE',
      '',
      `Snapshot for key ${describeKey(snapshot.key)} is ${bytes} bytes, over the limit of ${maxBytes} bytes`,
    );
  }
  return { text, bytes, dropped };
}

/** A format-2 snapshot's text up to its data, which comes last: `R2:{"v":1,…,"r":"<reason>","d":`. */
function snapshotHeader(snapshot: Snapshot, closedAt: number, reason: SnapshotReason): string {
  return `${PREFIX}{"v":1,"t":"s","key":${JSON.stringify(snapshot.key)},"id":${JSON.stringify(snapshot.sessionId)},"c":${snapshot.createdAt},"x":${closedAt},"r":"${reason}","d":`;
}

/**
 * The text of `checkpoint` (a snapshot with reason `'checkpoint'`) when its data is the data of
 * `taken`, whose text is `text`: format 2 keeps the data last in its envelope, so the data is neither
 * decoded nor encoded again, only the envelope is written (a restore writes the crash copy of what it
 * took for the cost of a string copy). The caller vouches that `checkpoint.data` is `taken.data`,
 * unchanged. `undefined` when `text` is not exactly the format-2 encoding of `taken`'s envelope
 * (format 1, a pointer, another field order): encode the checkpoint instead.
 * @throws CodecError `ERR_REPRISE_CODEC` when a field of `checkpoint` is invalid.
 */
export function checkpointText(text: string, taken: Snapshot, checkpoint: Snapshot): string | undefined {
  checkHeader(checkpoint.version, checkpoint.key, checkpoint.sessionId, checkpoint.reason, checkpoint.closedAt);
  checkEncodeField('createdAt', checkpoint.createdAt, 'time');
  const header = snapshotHeader(taken, taken.closedAt, taken.reason);
  if (!text.startsWith(header)) return undefined;
  return snapshotHeader(checkpoint, checkpoint.closedAt, checkpoint.reason) + text.slice(header.length);
}

/**
 * Encodes a pointer (no size bound: it holds no session data).
 * @throws CodecError `ERR_REPRISE_CODEC` when a field is invalid (path: the field's name).
 */
export function encodePointer(pointer: SnapshotPointer): string {
  checkHeader(pointer.version, pointer.key, pointer.sessionId, pointer.reason, pointer.closedAt);
  return `${PREFIX}{"v":1,"t":"p","key":${JSON.stringify(pointer.key)},"id":${JSON.stringify(pointer.sessionId)},"r":"${pointer.reason}","x":${pointer.closedAt}}`;
}

type FieldKind = 'string' | 'time' | 'reason';

/** What is wrong with an envelope field, or `undefined` when it is fine. */
function fieldProblem(value: unknown, kind: FieldKind): string | undefined {
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? undefined : `must be a string, got ${describe(value)}`;
    case 'time':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `must be a finite number of ms, got ${describe(value)}`;
    case 'reason':
      return typeof value === 'string' && SNAPSHOT_REASONS.has(value) ? undefined : `must be a snapshot reason, got ${describe(value)}`;
  }
}

function checkEncodeField(name: string, value: unknown, kind: FieldKind): void {
  const problem = fieldProblem(value, kind);
  if (problem !== undefined) throw new CodecError('ERR_REPRISE_CODEC', name, `Snapshot field ${name} ${problem}`);
}

function checkHeader(version: unknown, key: unknown, sessionId: unknown, reason: unknown, closedAt: unknown): void {
  if (version !== 1) throw new CodecError('ERR_REPRISE_CODEC', 'version', `Snapshot version must be 1, got ${describe(version)}`);
  checkEncodeField('key', key, 'string');
  checkEncodeField('sessionId', sessionId, 'string');
  checkEncodeField('reason', reason, 'reason');
  checkEncodeField('closedAt', closedAt, 'time');
}

// ---------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------

/**
 * Decodes what {@link encodeSnapshot} or {@link encodePointer} wrote, in format 2 or format 1. Never
 * revives classes or functions: only the types listed in the module comment are accepted.
 *
 * @throws CodecError `ERR_REPRISE_SNAPSHOT_CORRUPT` when the text is not such a record: not a string,
 *   no `R2:` or `R1:` marker (or another format version), unparseable, an envelope field missing or of
 *   the wrong type, data that is not a plain object, holds a type or tag the codec never writes or nests
 *   deeper than {@link MAX_DATA_DEPTH}, and, refused whole, data carrying a `__proto__`, `constructor` or
 *   `prototype` key anywhere. `path` says where (see the module comment); the parse error, if any, is
 *   the `cause`. `ERR_REPRISE_SNAPSHOT_AUTH` (path `''`) when it is an encrypted record (`E1.…`, written
 *   with `snapshotKeys`): open it first (`openSealedRecord`).
 */
export function decodeRecord(text: string): DecodedRecord {
  if (typeof text !== 'string') throw corrupt('', `A snapshot must be a string, got ${describe(text)}`);
  if (text.startsWith(PREFIX)) return fromEnvelope(parseEnvelope(text.slice(PREFIX.length)), readData);
  if (text.startsWith(LEGACY_PREFIX)) return fromEnvelope(parseLegacyEnvelope(text.slice(LEGACY_PREFIX.length)), checkLegacyData);
  const marker = PREFIX_PATTERN.exec(text);
  if (marker === null) throw sealedWithoutKeys(text) ?? corrupt('', 'Not a Reprise snapshot (no R1: marker or R2: marker)');
  throw corrupt('version', `Unsupported snapshot format version ${marker[1]}`);
}

/** The record an envelope holds; `readData` turns its parsed `d` into session data. */
function fromEnvelope(envelope: Record<string, unknown>, readData: (data: unknown) => SessionData): DecodedRecord {
  if (envelope['v'] !== 1) throw corrupt('version', `Unsupported snapshot version ${describe(envelope['v'])}`);
  const kind = envelope['t'];
  if (kind !== 's' && kind !== 'p') throw corrupt('kind', `Unknown record kind ${describe(kind)}`);
  const key = readField(envelope, 'key', 'key', 'string') as string;
  const sessionId = readField(envelope, 'id', 'sessionId', 'string') as string;
  const reason = readField(envelope, 'r', 'reason', 'reason') as SnapshotReason;
  const closedAt = readField(envelope, 'x', 'closedAt', 'time') as number;
  if (kind === 'p') return { kind: 'pointer', pointer: { version: 1, key, sessionId, reason, closedAt } };
  const createdAt = readField(envelope, 'c', 'createdAt', 'time') as number;
  const data = readData(envelope['d']);
  return { kind: 'snapshot', snapshot: { version: 1, key, sessionId, data, createdAt, closedAt, reason } };
}

function readField(envelope: Record<string, unknown>, property: string, name: string, kind: FieldKind): unknown {
  const value = Object.hasOwn(envelope, property) ? envelope[property] : undefined;
  const problem = fieldProblem(value, kind);
  if (problem !== undefined) throw corrupt(name, `Snapshot field ${name} ${problem}`);
  return value;
}
