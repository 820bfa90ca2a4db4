/**
 * The encoder of format 2 (`R2:`): writes session data as JSON text in one pass, with a tag (a string
 * starting with `~`, or an array whose first element is one) for each value JSON has not, and drops
 * what the codec cannot write with a report naming its path. The tags are listed in codec.ts.
 */
import { types } from 'node:util';
import {
  MAX_DATA_DEPTH,
  MAX_DROP_REPORTS,
  describe,
  describeObject,
  errorMessage,
  hasEnumerableProperty,
  hasPlainPrototype,
  isReservedKey,
  ownIndices,
  TYPED_ARRAYS,
  typedArrayName,
} from './codec-common.js';
import { formatStep, INDEX, MAP_KEY, MAP_VALUE, PROPERTY, SET_MEMBER, type StepKind } from './codec-paths.js';
import { CodecError } from './errors.js';

/** Session data as format-2 JSON text, and what was left out. */
export interface WrittenData {
  readonly text: string;
  /** One report per dropped value (at most `MAX_DROP_REPORTS`, plus one summary). */
  readonly dropped: CodecError[];
}

/**
 * Writes session data (a plain object) as format-2 JSON text.
 * @throws CodecError `ERR_REPRISE_CODEC` at path `data` when `data` is not a plain object or cannot be read.
 */
export function writeData(data: unknown): WrittenData {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !hasPlainPrototype(data)) {
    throw new CodecError('ERR_REPRISE_CODEC', 'data', `Session data must be a plain object, got ${describe(data)}`);
  }
  const writer = new DataWriter();
  let text: string;
  try {
    text = writer.record(data, 0, Object.getPrototypeOf(data) === null);
  } catch (error) {
    throw new CodecError('ERR_REPRISE_CODEC', 'data', `Session data could not be read: ${errorMessage(error)}`, { cause: error });
  }
  return { text, dropped: writer.reports() };
}

const UNDEFINED = '"~u"';
/** `~`: the first character of every tag; a string starting with it is written with one more. */
const TILDE = 126;
const getTime = Date.prototype.getTime;
const mapEntries = Map.prototype.entries;
const setValues = Set.prototype.values;
const regExpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source')?.get as (this: RegExp) => string;
const regExpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags')?.get as (this: RegExp) => string;

/** Integers in this range are small integers for V8, which turns them into text quickly. */
const SMALL_INTEGER = 2 ** 30 - 1;

/**
 * A number as JSON, or its tag when JSON has no form for it (`NaN`, `±Infinity`, `-0`). Conversions are
 * picked for speed: a template for small integers, two small halves for larger safe integers (Dates'
 * times), `JSON.stringify` (twice as fast as a template on Node 20) for the rest. All give the same
 * text as `String(value)`.
 */
function numberText(value: number): string {
  if (Number.isInteger(value)) {
    if (value <= SMALL_INTEGER && value >= -SMALL_INTEGER) return value === 0 && 1 / value < 0 ? '"~n-0"' : `${value}`;
    return value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER ? integerText(value) : JSON.stringify(value);
  }
  if (Number.isFinite(value)) return JSON.stringify(value);
  return `"~n${String(value)}"`;
}

/** A safe integer as decimal text, written from two small integers (high digits, then 8 low digits). */
function integerText(value: number): string {
  const magnitude = Math.abs(value);
  const high = Math.floor(magnitude / 1e8);
  const low = `${magnitude - high * 1e8}`;
  const digits = high === 0 ? low : `${high}${'00000000'.slice(low.length)}${low}`;
  return value < 0 ? `-${digits}` : digits;
}

/**
 * A string as JSON text. Short strings are scanned here and quoted as they are when nothing needs
 * escaping (a quote, a backslash, a control character, a surrogate: a lone one is escaped), which is
 * faster than calling `JSON.stringify` for each; the others go to `JSON.stringify`.
 */
function quote(value: string): string {
  if (value.length > 64) return JSON.stringify(value);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/**
 * The text of a primitive that needs no tag (a string not starting with `~`, a finite number other
 * than `-0`, a boolean, `null`), or `undefined` for anything else.
 */
function primitiveText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value.charCodeAt(0) === TILDE ? undefined : quote(value);
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) ? numberText(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return value === null ? 'null' : undefined;
  }
}

/** A string value: tagged strings' `~` doubled. */
function stringText(value: string): string {
  return quote(value.charCodeAt(0) === TILDE ? `~${value}` : value);
}

const KEY_CACHE_SIZE = 2048;
/**
 * `"key":` and `,"key":` for the property names met lately (they repeat from object to object); names
 * up to 64 characters.
 */
const keyTexts = new Map<string, string>();
const nextKeyTexts = new Map<string, string>();

/** `"key":`, or `,"key":` when `next` (a property after the first). */
function keyText(key: string, next: boolean): string {
  const cache = next ? nextKeyTexts : keyTexts;
  let text = cache.get(key);
  if (text === undefined) {
    text = `${next ? ',' : ''}${quote(key)}:`;
    if (key.length <= 64) {
      if (cache.size >= KEY_CACHE_SIZE) cache.clear();
      cache.set(key, text);
    }
  }
  return text;
}

/**
 * Writes one session data object. Objects are numbered in the order they are first written (data is
 * 0); a later meeting of the same object writes `"~r<n>"`, so shared references and cycles keep
 * their identity. Each method returns the text of a value, or `undefined` when it is dropped.
 */
class DataWriter {
  private readonly ids = new Map<object, number>();
  /** The objects numbered, in order: the numbers of an abandoned part are taken back. */
  private readonly order: object[] = [];
  private readonly dropped: CodecError[] = [];
  private unreported = 0;
  /** Whether `Object.prototype` has an enumerable property (someone polluted it). */
  private readonly polluted = hasEnumerableProperty(Object.prototype);

  /** The drop reports, capped at {@link MAX_DROP_REPORTS} plus one summary. */
  reports(): CodecError[] {
    if (this.unreported === 0) return this.dropped;
    return [
      ...this.dropped,
      new CodecError('ERR_REPRISE_CODEC', '', `${this.unreported} more values were dropped (reports are capped at ${MAX_DROP_REPORTS})`),
    ];
  }

  /**
   * The steps from data to the containers being written: the one at depth d was reached by
   * `kinds[d]`/`keys[d]` (kept up to date as the walk goes down, so no path is built unless a value
   * is dropped).
   */
  private readonly kinds: StepKind[] = [PROPERTY];
  private readonly keys: (string | number)[] = ['data'];

  /** The path of the value under `key` of the container at `depth - 1`, itself at `depth`. */
  private path(kind: StepKind, key: string | number, depth: number): string {
    let path = 'data';
    for (let d = 1; d < depth; d++) path += formatStep(this.kinds[d] as StepKind, this.keys[d] as string | number);
    return path + formatStep(kind, key);
  }

  private drop(kind: StepKind, key: string | number, depth: number, what: string): undefined {
    if (this.dropped.length < MAX_DROP_REPORTS) {
      const path = this.path(kind, key, depth);
      this.dropped.push(new CodecError('ERR_REPRISE_CODEC', path, `Dropped ${what} at ${path}: the snapshot codec cannot write it`));
    } else {
      this.unreported += 1;
    }
    return undefined;
  }

  private remember(value: object): void {
    this.ids.set(value, this.order.length);
    this.order.push(value);
  }

  /** Takes back the numbers given since `known` objects were numbered (their text was abandoned). */
  private forget(known: number): void {
    for (let i = known; i < this.order.length; i++) this.ids.delete(this.order[i] as object);
    this.order.length = known;
  }

  /** The text of `value`, found under `key` of the container above it, `depth` levels below data. */
  private value(value: unknown, kind: StepKind, key: string | number, depth: number): string | undefined {
    switch (typeof value) {
      case 'string':
        return stringText(value);
      case 'number':
        return numberText(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'undefined':
        return UNDEFINED;
      case 'bigint':
        return `"~b${value.toString(16)}"`;
      case 'object':
        return value === null ? 'null' : this.object(value, kind, key, depth);
      case 'function':
        return this.drop(kind, key, depth, 'a function');
      default:
        return this.drop(kind, key, depth, 'a symbol');
    }
  }

  private object(value: object, kind: StepKind, key: string | number, depth: number): string | undefined {
    const id = this.ids.get(value);
    if (id !== undefined) return `"~r${id}"`;
    if (depth > MAX_DATA_DEPTH) return this.drop(kind, key, depth, `a value nested more than ${MAX_DATA_DEPTH} levels deep`);
    const known = this.order.length;
    try {
      this.kinds[depth] = kind;
      this.keys[depth] = key;
      return this.container(value, kind, key, depth);
    } catch (error) {
      this.forget(known);
      return this.drop(kind, key, depth, `a value that threw while being read (${errorMessage(error)})`);
    }
  }

  /**
   * Writes an object by its type: the usual prototypes first (a method called on an object that is not
   * what its prototype says throws, and the object is dropped); anything else (subclasses of the
   * built-ins, objects of another realm) by its internal slots.
   */
  private container(value: object, kind: StepKind, key: string | number, depth: number): string | undefined {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype) return this.record(value, depth, false);
    if (proto === Array.prototype && Array.isArray(value)) return this.array(value, depth);
    if (proto === Date.prototype) return this.date(value as Date);
    if (proto === Map.prototype) return this.map(value as Map<unknown, unknown>, depth);
    if (Array.isArray(value)) return this.array(value, depth);
    if (types.isDate(value)) return this.date(value as Date);
    if (types.isMap(value)) return this.map(value as Map<unknown, unknown>, depth);
    if (types.isSet(value)) return this.set(value as Set<unknown>, depth);
    if (types.isRegExp(value)) return this.regExp(value as RegExp);
    if (types.isArrayBuffer(value)) return this.bytes(value, 'ArrayBuffer', new Uint8Array(value as ArrayBuffer));
    if (types.isTypedArray(value)) return this.typedArray(value, kind, key, depth);
    if (hasPlainPrototype(value)) return this.record(value, depth, proto === null);
    return this.drop(kind, key, depth, describeObject(value));
  }

  /**
   * A plain object as a JSON object; one with a `null` prototype as `["~N",{…}]`. Its keys are listed
   * by `for…in` (faster than `Object.keys`) when that lists only its own keys: its prototype is this
   * realm's `Object.prototype`, unpolluted, or `null`.
   */
  record(value: object, depth: number, nullPrototype: boolean): string {
    this.remember(value);
    let out = '';
    if (nullPrototype || (!this.polluted && Object.getPrototypeOf(value) === Object.prototype)) {
      for (const key in value) {
        const text = this.property(value, key, depth, out !== '');
        if (text !== undefined) out += text;
      }
    } else {
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        const text = this.property(value, keys[i] as string, depth, out !== '');
        if (text !== undefined) out += text;
      }
    }
    return nullPrototype ? `["~N",{${out}}]` : `{${out}}`;
  }

  /** `"key":value` (`,"key":value` when `next`) for a property of a plain object, or `undefined` when it is dropped. */
  private property(value: object, key: string, depth: number, next: boolean): string | undefined {
    if (isReservedKey(key)) return this.drop(PROPERTY, key, depth + 1, `the reserved key ${JSON.stringify(key)}`);
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (error) {
      return this.drop(PROPERTY, key, depth + 1, `a property whose getter threw (${errorMessage(error)})`);
    }
    const text = this.value(item, PROPERTY, key, depth + 1);
    return text === undefined ? undefined : keyText(key, next) + text;
  }

  /** A dense array as a JSON array; one with holes as `["~H",length,index,value,…]`. */
  private array(value: readonly unknown[], depth: number): string {
    this.remember(value);
    const known = this.order.length;
    const reported = this.dropped.length;
    const unreported = this.unreported;
    const length = value.length;
    let out = '[';
    for (let i = 0; i < length; i++) {
      if (i > 0) out += ',';
      let item: unknown;
      try {
        item = value[i];
      } catch (error) {
        out += UNDEFINED;
        this.drop(INDEX, i, depth + 1, `a property whose getter threw (${errorMessage(error)})`);
        continue;
      }
      if (item === undefined && !Object.hasOwn(value, i)) {
        this.forget(known);
        this.dropped.length = reported;
        this.unreported = unreported;
        return this.holey(value, depth);
      }
      out += this.value(item, INDEX, i, depth + 1) ?? UNDEFINED;
    }
    return `${out}]`;
  }

  private holey(value: readonly unknown[], depth: number): string {
    let out = `["~H",${value.length}`;
    for (const index of ownIndices(value)) {
      out += `,${index},`;
      let item: unknown;
      try {
        item = value[index];
      } catch (error) {
        out += UNDEFINED;
        this.drop(INDEX, index, depth + 1, `a property whose getter threw (${errorMessage(error)})`);
        continue;
      }
      out += this.value(item, INDEX, index, depth + 1) ?? UNDEFINED;
    }
    return `${out}]`;
  }

  /**
   * `["~M",key,value,…]`; an entry whose key or value is dropped is left out. Entries of primitives
   * JSON writes as they are (the usual case: options, counters) take a shorter path.
   */
  private map(value: Map<unknown, unknown>, depth: number): string {
    const entries = mapEntries.call(value) as IterableIterator<[unknown, unknown]>;
    this.remember(value);
    let out = '["~M"';
    let index = 0;
    for (const [key, item] of entries) {
      let keyText = primitiveText(key);
      let itemText = keyText === undefined ? undefined : primitiveText(item);
      if (itemText === undefined) {
        const known = this.order.length;
        keyText = this.value(key, MAP_KEY, index, depth + 1);
        itemText = keyText === undefined ? undefined : this.value(item, MAP_VALUE, index, depth + 1);
        if (keyText !== undefined && itemText === undefined) this.forget(known);
      }
      if (itemText !== undefined) out += `,${keyText},${itemText}`;
      index += 1;
    }
    return `${out}]`;
  }

  /** `["~S",member,…]`; a dropped member is left out. */
  private set(value: Set<unknown>, depth: number): string {
    const members = setValues.call(value) as IterableIterator<unknown>;
    this.remember(value);
    let out = '["~S"';
    let index = 0;
    for (const member of members) {
      const text = this.value(member, SET_MEMBER, index, depth + 1);
      if (text !== undefined) out += `,${text}`;
      index += 1;
    }
    return `${out}]`;
  }

  /** `"~D<ms>"` (`"~D"` for an invalid Date). */
  private date(value: Date): string {
    const time = getTime.call(value);
    this.remember(value);
    return Number.isNaN(time) ? '"~D"' : `"~D${integerText(time)}"`;
  }

  /** `["~R",source,flags]`. */
  private regExp(value: RegExp): string {
    const source = regExpSource.call(value);
    const flags = regExpFlags.call(value);
    this.remember(value);
    return `["~R",${quote(source)},${quote(flags)}]`;
  }

  private typedArray(view: ArrayBufferView, kind: StepKind, key: string | number, depth: number): string | undefined {
    const name = typedArrayName(view);
    if (name === undefined || !TYPED_ARRAYS.has(name)) {
      return this.drop(kind, key, depth, name === undefined ? 'an unknown typed array' : `an instance of ${name}`);
    }
    return this.bytes(view, name, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  }

  /** `"~B<Name>:<base64 of the visible bytes>"` (`~BArrayBuffer:…`, `~BUint8Array:…`, …). */
  private bytes(value: object, name: string, bytes: Uint8Array): string {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    this.remember(value);
    return `"~B${name}:${text}"`;
  }
}
