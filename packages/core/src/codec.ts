/**
 * The snapshot codec: turns a {@link Snapshot} into the opaque string an adapter stores, and back.
 *
 * Format: the text `R1:` followed by a `devalue` string of a small envelope object:
 * - snapshot: `{ v: 1, t: 's', key, id: sessionId, c: createdAt, x: closedAt, r: reason, d: data }`
 * - pointer:  `{ v: 1, t: 'p', key, id: sessionId, r: reason, x: closedAt }`
 * Unknown envelope fields are ignored when reading (room for additive changes within format 1).
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
import { parse, stringify } from 'devalue';
import { types } from 'node:util';
import { CodecError, OptionError } from './errors.js';
import { describeKey } from './redact.js';
import { sealedWithoutKeys } from './snapshot-cipher.js';
import type { SessionData, Snapshot, SnapshotReason } from './types.js';

/** Default bound on an encoded snapshot: 1 MiB (bytes of UTF-8). */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024;

/**
 * How deep session data may nest: containers (objects, arrays, Maps, Sets) more than 1000 levels below
 * `data` are dropped at encode (with a report) and refused at decode. `devalue` walks recursively and,
 * with Node's default stack (~984 KiB), overflows at about 1,700 levels when writing and 2,200 when
 * reading; 1000 leaves room for the stack already used by the caller.
 */
export const MAX_DATA_DEPTH = 1000;

/**
 * At most this many values are reported one by one in {@link EncodeResult.dropped}; past it one more
 * error (path `''`) counts the values dropped without their own report.
 */
export const MAX_DROP_REPORTS = 100;

/** The marker every encoded record starts with: `R`, the format version, `:`. */
const PREFIX = 'R1:';
const PREFIX_PATTERN = /^R(\d+):/;

const SNAPSHOT_REASONS: ReadonlySet<string> = new Set<SnapshotReason>([
  'evicted',
  'expired',
  'closed',
  'shutdown',
  'handover',
  'checkpoint',
]);
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

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
 * Encodes a snapshot for an adapter. `snapshot.data` is first copied into what the codec can write
 * (see the module comment); a value it cannot represent is dropped and reported in `dropped`:
 * functions, symbols, class instances (a `Promise`, a `WeakMap`, an `Error`, `new Foo()`, boxed
 * primitives, `URL`s, `DataView`s...), containers nested deeper than {@link MAX_DATA_DEPTH}, values
 * whose getter throws, and properties named `__proto__`, `constructor` or `prototype`. A dropped
 * property is left out, a dropped array element becomes `undefined` (indices are kept), a Map entry
 * whose key or value is dropped is left out, as is a dropped Set member. Symbol-keyed, non-enumerable
 * and non-index array properties are ignored silently (as `JSON.stringify` does).
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
  const sanitizer = new Sanitizer();
  const data = sanitizer.data(snapshot.data);
  const text = writeEnvelope({
    v: 1,
    t: 's',
    key: snapshot.key,
    id: snapshot.sessionId,
    c: snapshot.createdAt,
    x: snapshot.closedAt,
    r: snapshot.reason,
    d: data,
  });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new CodecError(
      'ERR_REPRISE_SNAPSHOT_TOO_LARGE',
      '',
      `Snapshot for key ${describeKey(snapshot.key)} is ${bytes} bytes, over the limit of ${maxBytes} bytes`,
    );
  }
  return { text, bytes, dropped: sanitizer.reports() };
}

/**
 * Encodes a pointer (no size bound: it holds no session data).
 * @throws CodecError `ERR_REPRISE_CODEC` when a field is invalid (path: the field's name).
 */
export function encodePointer(pointer: SnapshotPointer): string {
  checkHeader(pointer.version, pointer.key, pointer.sessionId, pointer.reason, pointer.closedAt);
  return writeEnvelope({ v: 1, t: 'p', key: pointer.key, id: pointer.sessionId, r: pointer.reason, x: pointer.closedAt });
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

/** `R1:` + devalue text of an envelope that holds only values devalue can write. */
function writeEnvelope(envelope: Record<string, unknown>): string {
  try {
    return PREFIX + stringify(envelope);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new CodecError('ERR_REPRISE_CODEC', 'data', 'Session data is nested too deeply for the call stack', { cause: error });
    }
    throw new CodecError('ERR_REPRISE_CODEC', '', `The snapshot could not be written: ${errorMessage(error)}`, { cause: error });
  }
}

/** Returned in place of a value that is not written. */
const DROPPED: unique symbol = Symbol('dropped');

/**
 * Builds a copy of session data holding only what devalue can write, reporting what it leaves out.
 * Originals are memoized to their copies, so shared references and cycles survive.
 */
class Sanitizer {
  private readonly dropped: CodecError[] = [];
  private unreported = 0;
  private readonly copies = new Map<object, unknown>();

  /** Copies the top-level data object. */
  data(data: unknown): SessionData {
    if (typeof data !== 'object' || data === null || Array.isArray(data) || !hasPlainPrototype(data)) {
      throw new CodecError('ERR_REPRISE_CODEC', 'data', `Session data must be a plain object, got ${describe(data)}`);
    }
    return this.record(data, 'data', 0) as SessionData;
  }

  /** The drop reports, capped at {@link MAX_DROP_REPORTS} plus one summary. */
  reports(): CodecError[] {
    if (this.unreported === 0) return this.dropped;
    return [
      ...this.dropped,
      new CodecError('ERR_REPRISE_CODEC', '', `${this.unreported} more values were dropped (reports are capped at ${MAX_DROP_REPORTS})`),
    ];
  }

  private drop(path: string, what: string): typeof DROPPED {
    if (this.dropped.length < MAX_DROP_REPORTS) {
      this.dropped.push(new CodecError('ERR_REPRISE_CODEC', path, `Dropped ${what} at ${path}: the snapshot codec cannot write it`));
    } else {
      this.unreported += 1;
    }
    return DROPPED;
  }

  /** The copy of `value` at `depth` containers below `data`, or `DROPPED`. */
  private value(value: unknown, path: string, depth: number): unknown {
    switch (typeof value) {
      case 'function':
        return this.drop(path, 'a function');
      case 'symbol':
        return value === DROPPED ? DROPPED : this.drop(path, 'a symbol');
      case 'object':
        return value === null ? null : this.object(value, path, depth);
      default:
        return value;
    }
  }

  private object(value: object, path: string, depth: number): unknown {
    if (this.copies.has(value)) return this.copies.get(value);
    if (depth > MAX_DATA_DEPTH) return this.drop(path, `a value nested more than ${MAX_DATA_DEPTH} levels deep`);
    try {
      return this.container(value, path, depth);
    } catch (error) {
      this.copies.delete(value);
      return this.drop(path, `a value that threw while being read (${errorMessage(error)})`);
    }
  }

  private container(value: object, path: string, depth: number): unknown {
    if (Array.isArray(value)) return this.array(value, path, depth);
    if (types.isMap(value)) return this.map(value as Map<unknown, unknown>, path, depth);
    if (types.isSet(value)) return this.set(value as Set<unknown>, path, depth);
    if (types.isDate(value)) return this.remember(value, new Date(Date.prototype.getTime.call(value)));
    if (types.isRegExp(value)) return this.remember(value, new RegExp(value as RegExp));
    if (types.isArrayBuffer(value)) return this.remember(value, ArrayBuffer.prototype.slice.call(value, 0));
    if (types.isTypedArray(value)) return this.typedArray(value, path);
    if (hasPlainPrototype(value)) return this.record(value, path, depth);
    return this.drop(path, describeObject(value));
  }

  private remember<T>(original: object, copy: T): T {
    this.copies.set(original, copy);
    return copy;
  }

  private typedArray(view: ArrayBufferView, path: string): unknown {
    const name = typedArrayName(view);
    const Constructor = name === undefined ? undefined : TYPED_ARRAYS.get(name);
    if (Constructor === undefined) return this.drop(path, name === undefined ? 'an unknown typed array' : `an instance of ${name}`);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
    return this.remember(view, new Constructor(bytes.buffer));
  }

  private record(value: object, path: string, depth: number): Record<string, unknown> {
    const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
    this.copies.set(value, copy);
    for (const key of Object.keys(value)) {
      const keyPath = propertyPath(path, key);
      if (RESERVED_KEYS.has(key)) {
        this.drop(keyPath, `the reserved key ${JSON.stringify(key)}`);
        continue;
      }
      const written = this.value(this.read(value, key, keyPath), keyPath, depth + 1);
      if (written !== DROPPED) copy[key] = written;
    }
    return copy;
  }

  private array(value: readonly unknown[], path: string, depth: number): unknown[] {
    const copy: unknown[] = new Array(value.length);
    this.copies.set(value, copy);
    for (const index of ownIndices(value)) {
      const itemPath = `${path}[${index}]`;
      const written = this.value(this.read(value, index, itemPath), itemPath, depth + 1);
      copy[index] = written === DROPPED ? undefined : written;
    }
    return copy;
  }

  private map(value: Map<unknown, unknown>, path: string, depth: number): Map<unknown, unknown> {
    const copy = new Map<unknown, unknown>();
    this.copies.set(value, copy);
    let index = 0;
    for (const [key, item] of Map.prototype.entries.call(value) as IterableIterator<[unknown, unknown]>) {
      const writtenKey = this.value(key, `${path}<Map key #${index}>`, depth + 1);
      if (writtenKey !== DROPPED) {
        const writtenItem = this.value(item, `${path}<Map value #${index}>`, depth + 1);
        if (writtenItem !== DROPPED) copy.set(writtenKey, writtenItem);
      }
      index += 1;
    }
    return copy;
  }

  private set(value: Set<unknown>, path: string, depth: number): Set<unknown> {
    const copy = new Set<unknown>();
    this.copies.set(value, copy);
    let index = 0;
    for (const member of Set.prototype.values.call(value) as IterableIterator<unknown>) {
      const written = this.value(member, `${path}<Set member #${index}>`, depth + 1);
      if (written !== DROPPED) copy.add(written);
      index += 1;
    }
    return copy;
  }

  /** Reads a property, dropping it when its getter throws. */
  private read(target: object, key: string | number, path: string): unknown {
    try {
      return Reflect.get(target, key);
    } catch (error) {
      return this.drop(path, `a property whose getter threw (${errorMessage(error)})`);
    }
  }
}

type TypedArrayConstructor = new (buffer: ArrayBuffer) => ArrayBufferView;

/** The typed arrays the codec writes, by name (all round-trip through devalue). */
const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayConstructor> = new Map<string, TypedArrayConstructor>([
  ['Int8Array', Int8Array],
  ['Uint8Array', Uint8Array],
  ['Uint8ClampedArray', Uint8ClampedArray],
  ['Int16Array', Int16Array],
  ['Uint16Array', Uint16Array],
  ['Int32Array', Int32Array],
  ['Uint32Array', Uint32Array],
  ['Float32Array', Float32Array],
  ['Float64Array', Float64Array],
  ['BigInt64Array', BigInt64Array],
  ['BigUint64Array', BigUint64Array],
]);

const TYPED_ARRAY_PROTOTYPES: ReadonlySet<object> = new Set([...TYPED_ARRAYS.values()].map((ctor) => ctor.prototype as object));

/** `%TypedArray%.prototype[Symbol.toStringTag]`: the built-in name of a typed array, read from its internal slot. */
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)?.get;

function typedArrayName(view: ArrayBufferView): string | undefined {
  const name: unknown = typedArrayTag?.call(view);
  return typeof name === 'string' ? name : undefined;
}

const OBJECT_PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join('\0');

/** Prototype `Object.prototype`, `null`, or another realm's `Object.prototype`. */
function hasPlainPrototype(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  return (
    typeof proto === 'object' &&
    Object.getPrototypeOf(proto) === null &&
    Object.getOwnPropertyNames(proto).sort().join('\0') === OBJECT_PROTOTYPE_NAMES
  );
}

const CANONICAL_INDEX = /^(?:0|[1-9]\d*)$/;
const MAX_ARRAY_INDEX = 2 ** 32 - 2;

/**
 * The own indices of an array, ascending. Dense arrays are walked slot by slot; at the first hole it
 * switches to the own keys, so a huge sparse array costs its population, not its length.
 */
function* ownIndices(array: readonly unknown[]): Generator<number> {
  const length = array.length;
  let index = 0;
  while (index < length && Object.hasOwn(array, index)) yield index++;
  if (index >= length) return;
  for (const key of Object.keys(array)) {
    if (!CANONICAL_INDEX.test(key)) continue;
    const n = Number(key);
    if (n > index && n <= MAX_ARRAY_INDEX) yield n;
  }
}

function propertyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** `an instance of Foo` / `an instance of Promise` for an object the codec cannot write. */
function describeObject(value: object): string {
  let name: string | undefined;
  try {
    const ctor: unknown = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
    if (typeof ctor === 'function' && ctor.name !== '') name = ctor.name;
  } catch {
    // a proxy trap threw; fall back to the tag
  }
  return `an instance of ${name ?? Object.prototype.toString.call(value).slice(8, -1)}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return hasPlainPrototype(value) ? 'an object' : describeObject(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------

/**
 * Decodes what {@link encodeSnapshot} or {@link encodePointer} wrote. Never revives classes or
 * functions: only the types listed in the module comment are accepted.
 *
 * @throws CodecError `ERR_REPRISE_SNAPSHOT_CORRUPT` when the text is not such a record: not a string,
 *   no `R1:` marker (or another format version), unparseable, an envelope field missing or of the
 *   wrong type, data that is not a plain object, holds a type the codec never writes or nests deeper
 *   than {@link MAX_DATA_DEPTH}, and, refused whole, data carrying a `__proto__`, `constructor` or
 *   `prototype` key anywhere. `path` says where (see the module comment); the parse error, if any, is
 *   the `cause`. `ERR_REPRISE_SNAPSHOT_AUTH` (path `''`) when it is an encrypted record (`E1.…`, written
 *   with `snapshotKeys`): open it first (`openSealedRecord`).
 */
export function decodeRecord(text: string): DecodedRecord {
  const envelope = readEnvelope(text);
  if (envelope['v'] !== 1) throw corrupt('version', `Unsupported snapshot version ${describe(envelope['v'])}`);
  const kind = envelope['t'];
  if (kind !== 's' && kind !== 'p') throw corrupt('kind', `Unknown record kind ${describe(kind)}`);
  const key = readField(envelope, 'key', 'key', 'string') as string;
  const sessionId = readField(envelope, 'id', 'sessionId', 'string') as string;
  const reason = readField(envelope, 'r', 'reason', 'reason') as SnapshotReason;
  const closedAt = readField(envelope, 'x', 'closedAt', 'time') as number;
  if (kind === 'p') return { kind: 'pointer', pointer: { version: 1, key, sessionId, reason, closedAt } };
  const createdAt = readField(envelope, 'c', 'createdAt', 'time') as number;
  const data = checkData(envelope['d']);
  return { kind: 'snapshot', snapshot: { version: 1, key, sessionId, data, createdAt, closedAt, reason } };
}

function corrupt(path: string, message: string, cause?: unknown): CodecError {
  return cause === undefined
    ? new CodecError('ERR_REPRISE_SNAPSHOT_CORRUPT', path, message)
    : new CodecError('ERR_REPRISE_SNAPSHOT_CORRUPT', path, message, { cause });
}

/** Checks the marker and parses the devalue text into the envelope object. */
function readEnvelope(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string') throw corrupt('', `A snapshot must be a string, got ${describe(text)}`);
  const marker = PREFIX_PATTERN.exec(text);
  if (marker === null) throw sealedWithoutKeys(text) ?? corrupt('', 'Not a Reprise snapshot (no R1: marker)');
  if (marker[0] !== PREFIX) throw corrupt('version', `Unsupported snapshot format version ${marker[1]}`);
  let envelope: unknown;
  try {
    envelope = parse(text.slice(PREFIX.length));
  } catch (error) {
    throw corrupt('', `The snapshot could not be parsed: ${errorMessage(error)}`, error);
  }
  if (typeof envelope !== 'object' || envelope === null || Object.getPrototypeOf(envelope) !== Object.prototype) {
    throw corrupt('', `A snapshot envelope must be an object, got ${describe(envelope)}`);
  }
  return envelope as Record<string, unknown>;
}

function readField(envelope: Record<string, unknown>, property: string, name: string, kind: FieldKind): unknown {
  const value = envelope[property];
  const problem = fieldProblem(value, kind);
  if (problem !== undefined) throw corrupt(name, `Snapshot field ${name} ${problem}`);
  return value;
}

/** Checks decoded session data: a plain object holding only what the codec writes, without reserved keys. */
function checkData(data: unknown): SessionData {
  if (typeof data !== 'object' || data === null || !isDecodedRecordObject(data)) {
    throw corrupt('data', `Session data must be a plain object, got ${describe(data)}`);
  }
  checkDecoded(data, 'data', 0, new Set());
  return data as SessionData;
}

function isDecodedRecordObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Walks a decoded value (each object once: cycles are possible) and throws on anything refused. */
function checkDecoded(value: unknown, path: string, depth: number, seen: Set<object>): void {
  if (typeof value === 'function' || typeof value === 'symbol') throw corrupt(path, `Refused snapshot: a ${typeof value} at ${path}`);
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (depth > MAX_DATA_DEPTH) throw corrupt(path, `Refused snapshot: data nested more than ${MAX_DATA_DEPTH} levels deep at ${path}`);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (const index of ownIndices(array)) checkDecoded(array[index], `${path}[${index}]`, depth + 1, seen);
  } else if (proto === Object.prototype || proto === null) {
    checkDecodedObject(value as Record<string, unknown>, path, depth, seen);
  } else if (proto === Map.prototype) {
    let index = 0;
    for (const [key, item] of value as Map<unknown, unknown>) {
      checkDecoded(key, `${path}<Map key #${index}>`, depth + 1, seen);
      checkDecoded(item, `${path}<Map value #${index}>`, depth + 1, seen);
      index += 1;
    }
  } else if (proto === Set.prototype) {
    let index = 0;
    for (const member of value as Set<unknown>) checkDecoded(member, `${path}<Set member #${index++}>`, depth + 1, seen);
  } else if (
    proto !== Date.prototype &&
    proto !== RegExp.prototype &&
    proto !== ArrayBuffer.prototype &&
    !(typeof proto === 'object' && TYPED_ARRAY_PROTOTYPES.has(proto))
  ) {
    throw corrupt(path, `Refused snapshot: ${describeObject(value)} at ${path}, a type the codec never writes`);
  }
}

function checkDecodedObject(value: Record<string, unknown>, path: string, depth: number, seen: Set<object>): void {
  for (const key of Object.keys(value)) {
    const keyPath = propertyPath(path, key);
    if (RESERVED_KEYS.has(key)) throw corrupt(keyPath, `Refused snapshot: reserved key ${JSON.stringify(key)} at ${keyPath}`);
    checkDecoded(value[key], keyPath, depth + 1, seen);
  }
}
