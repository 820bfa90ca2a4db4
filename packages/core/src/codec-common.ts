/**
 * What the snapshot codec's encoder and decoders share: its limits, the types it writes, how it
 * describes a value in a message, and its errors. See codec.ts for the format.
 */
import { CodecError } from './errors.js';

/**
 * How deep session data may nest: objects (containers and also Dates, RegExps, byte arrays) more than
 * 1000 levels below `data` are dropped at encode (with a report) and refused at decode. The encoder and
 * the format-2 decoder recurse a few frames per level: 1000 levels of any container fit in Node's
 * default stack (~984 KiB) with room for the caller's. When a caller has already used most of the stack,
 * the encoder drops the value that overflowed (with a report) and the decoder refuses the record: a
 * `CodecError` either way, never a crash. The format-1 reader (`devalue`) overflows at about 2,200 levels.
 */
export const MAX_DATA_DEPTH = 1000;

/**
 * At most this many values are reported one by one in `EncodeResult.dropped`; past it one more
 * error (path `''`) counts the values dropped without their own report.
 */
export const MAX_DROP_REPORTS = 100;

/** Whether `for…in` over `target` lists anything (for `Object.prototype`: whether someone polluted it). */
export function hasEnumerableProperty(target: object): boolean {
  for (const _ in target) return true;
  return false;
}

/** Property names that are never written nor read: `__proto__`, `constructor`, `prototype`. */
export function isReservedKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

type TypedArrayConstructor = (new (buffer: ArrayBuffer) => ArrayBufferView) & { readonly BYTES_PER_ELEMENT: number };

/** The typed arrays the codec writes, by name. */
export const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayConstructor> = new Map<string, TypedArrayConstructor>([
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

/** The prototypes of {@link TYPED_ARRAYS}. */
export const TYPED_ARRAY_PROTOTYPES: ReadonlySet<object> = new Set([...TYPED_ARRAYS.values()].map((ctor) => ctor.prototype as object));

/** `%TypedArray%.prototype[Symbol.toStringTag]`: the built-in name of a typed array, read from its internal slot. */
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)?.get;

/** The built-in name of a typed array (`Uint8Array` for a `Buffer`). */
export function typedArrayName(view: ArrayBufferView): string | undefined {
  const name: unknown = typedArrayTag?.call(view);
  return typeof name === 'string' ? name : undefined;
}

const OBJECT_PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join('\0');

/** Prototype `Object.prototype`, `null`, or another realm's `Object.prototype`. */
export function hasPlainPrototype(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  return (
    typeof proto === 'object' &&
    Object.getPrototypeOf(proto) === null &&
    Object.getOwnPropertyNames(proto).sort().join('\0') === OBJECT_PROTOTYPE_NAMES
  );
}

/** Whether `key` is an array index written canonically (`0`, `17`, not `017`); no RegExp (see codec-paths). */
function isCanonicalIndex(key: string): boolean {
  if (key.length === 0 || key.length > 10 || (key.length > 1 && key.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
/** The largest array index. */
export const MAX_ARRAY_INDEX = 2 ** 32 - 2;

/**
 * The own indices of an array, ascending. Dense arrays are walked slot by slot; at the first hole it
 * switches to the own keys, so a huge sparse array costs its population, not its length.
 */
export function* ownIndices(array: readonly unknown[]): Generator<number> {
  const length = array.length;
  let index = 0;
  while (index < length && Object.hasOwn(array, index)) yield index++;
  if (index >= length) return;
  for (const key of Object.keys(array)) {
    if (!isCanonicalIndex(key)) continue;
    const n = Number(key);
    if (n > index && n <= MAX_ARRAY_INDEX) yield n;
  }
}

/** `an instance of Foo` / `an instance of Promise` for an object the codec cannot write. */
export function describeObject(value: object): string {
  let name: string | undefined;
  try {
    const ctor: unknown = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
    if (typeof ctor === 'function' && ctor.name !== '') name = ctor.name;
  } catch {
    // a proxy trap threw; fall back to the tag
  }
  return `an instance of ${name ?? Object.prototype.toString.call(value).slice(8, -1)}`;
}

/** A short description of any value for a message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return hasPlainPrototype(value) ? 'an object' : describeObject(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An `ERR_REPRISE_SNAPSHOT_CORRUPT` error at `path`. */
export function corrupt(path: string, message: string, cause?: unknown): CodecError {
  return cause === undefined
    ? new CodecError('ERR_REPRISE_SNAPSHOT_CORRUPT', path, message)
    : new CodecError('ERR_REPRISE_SNAPSHOT_CORRUPT', path, message, { cause });
}

/** The envelope object of a parsed record, or a corrupt error when it is not a plain object. */
export function checkEnvelope(envelope: unknown): Record<string, unknown> {
  if (typeof envelope !== 'object' || envelope === null || Object.getPrototypeOf(envelope) !== Object.prototype) {
    throw corrupt('', `A snapshot envelope must be an object, got ${describe(envelope)}`);
  }
  return envelope as Record<string, unknown>;
}
