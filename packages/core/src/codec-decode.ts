/**
 * The decoder of format 2 (`R2:`): `JSON.parse` (no reviver) then one walk over the parsed data that
 * revives the tags in place, numbers the objects as the encoder did (for `"~r<n>"`), and refuses the
 * whole record on anything the encoder never writes: a reserved key, an unknown or malformed tag,
 * data nested more than `MAX_DATA_DEPTH` levels. The walk recurses once per level of data, so its depth
 * is bounded; `JSON.parse` itself does not recurse.
 */
import {
  checkEnvelope,
  corrupt,
  describe,
  errorMessage,
  hasEnumerableProperty,
  isReservedKey,
  MAX_ARRAY_INDEX,
  MAX_DATA_DEPTH,
  TYPED_ARRAYS,
} from './codec-common.js';
import { formatStep, INDEX, MAP_KEY, MAP_VALUE, PROPERTY, SET_MEMBER, type StepKind } from './codec-paths.js';
import type { SessionData } from './types.js';

/** Parses the JSON text after the `R2:` marker into the envelope object (its `d` not yet revived). */
export function parseEnvelope(json: string): Record<string, unknown> {
  let envelope: unknown;
  try {
    envelope = JSON.parse(json);
  } catch (error) {
    throw corrupt('', `The snapshot could not be parsed: ${errorMessage(error)}`, error);
  }
  return checkEnvelope(envelope);
}

/**
 * Revives the parsed `d` of an envelope into session data (in place).
 * @throws CodecError `ERR_REPRISE_SNAPSHOT_CORRUPT` naming the path of what is refused.
 */
export function readData(data: unknown): SessionData {
  if (typeof data !== 'object' || data === null) throw corrupt('data', `Session data must be a plain object, got ${describe(data)}`);
  let revived: unknown;
  try {
    revived = new DataReader().revive(data, 0);
  } catch (error) {
    if (error instanceof Refusal) {
      const path = `data${error.steps.reverse().join('')}`;
      throw corrupt(path, `Refused snapshot: ${error.what} at ${path}`);
    }
    throw corrupt('', `The snapshot could not be read: ${errorMessage(error)}`, error);
  }
  const proto: unknown = typeof revived === 'object' && revived !== null ? Object.getPrototypeOf(revived) : Array.prototype;
  if (proto !== Object.prototype && proto !== null) throw corrupt('data', `Session data must be a plain object, got ${describe(revived)}`);
  return revived as SessionData;
}

/** Why the walk refuses the record; each level it unwinds through adds its step to the path. */
class Refusal extends Error {
  /** The path's steps, innermost first. */
  readonly steps: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

/**
 * Adds the step `kind`/`key` to the path of a refusal passing through (formatted only then: a stack
 * overflow unwinds through here too).
 */
function through(error: unknown, kind: StepKind, key: string | number): unknown {
  if (error instanceof Refusal) error.steps.push(formatStep(kind, key));
  return error;
}

/** `~`: the first character of every tag. */
const TILDE = 126;
/** Whether `text` from `from` on is `-`? then lowercase hexadecimal digits (no RegExp: see `through`). */
function isHexInteger(text: string, from: number): boolean {
  const start = text.charCodeAt(from) === 45 ? from + 1 : from;
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Whether `text` from `from` on is canonical padded base64. */
function isBase64(text: string, from: number): boolean {
  const length = text.length - from;
  if (length % 4 !== 0) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (padding > length) return false;
  for (let i = from; i < text.length - padding; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47)) return false;
  }
  return true;
}

/** A non-negative integer below `limit`. */
function isIndex(value: unknown, limit: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < limit;
}

const CONTAINER_TAGS: ReadonlySet<string> = new Set(['~M', '~S', '~H', '~R', '~N']);

/**
 * The tag of an array that is a container tag: its first element is `"~M"`, `"~S"`, `"~H"`, `"~R"` or
 * `"~N"` (a string value is never written so: its `~` is doubled; and no string tag is one of these).
 */
function containerTag(array: readonly unknown[]): string | undefined {
  const head = array[0];
  return typeof head === 'string' && head.length === 2 && head.charCodeAt(0) === TILDE && CONTAINER_TAGS.has(head) ? head : undefined;
}

class DataReader {
  /** The objects revived, in the encoder's order: `"~r<n>"` is `refs[n]`. */
  private readonly refs: unknown[] = [];
  /** Whether `Object.prototype` has an enumerable property (someone polluted it). */
  private readonly polluted = hasEnumerableProperty(Object.prototype);

  /** The value `value` (a parsed object or array) stands for, `depth` levels below data. */
  revive(value: object, depth: number): unknown {
    if (!Array.isArray(value)) return this.record(value as Record<string, unknown>, depth);
    const tag = containerTag(value);
    return tag === undefined ? this.array(value, depth) : this.container(tag, value, depth);
  }

  /** A value found inside a container. */
  private item(value: unknown, depth: number): unknown {
    if (typeof value === 'object') return value === null ? null : this.revive(value, depth);
    if (typeof value === 'string' && value.charCodeAt(0) === TILDE) return this.tagged(value, depth);
    return value;
  }

  /** Numbers a new object, `depth` levels below data. */
  private enter(value: unknown, depth: number): void {
    if (depth > MAX_DATA_DEPTH) throw new Refusal(`data nested more than ${MAX_DATA_DEPTH} levels deep`);
    this.refs.push(value);
  }

  /**
   * A parsed object, revived in place (or copied into `into`, a null-prototype object). `for…in` is
   * the fastest walk over a parsed object's keys; it would also list enumerable properties inherited
   * from a polluted `Object.prototype`, so those are skipped (`readData` checks that once).
   */
  private record(value: Record<string, unknown>, depth: number, into?: Record<string, unknown>): Record<string, unknown> {
    const target = into ?? value;
    this.enter(target, depth);
    for (const key in value) {
      if (this.polluted && !Object.hasOwn(value, key)) continue;
      if (isReservedKey(key)) throw through(new Refusal(`reserved key ${JSON.stringify(key)}`), PROPERTY, key);
      const item = value[key];
      if (typeof item === 'object' || (typeof item === 'string' && item.charCodeAt(0) === TILDE)) {
        try {
          target[key] = this.item(item, depth + 1);
        } catch (error) {
          throw through(error, PROPERTY, key);
        }
      } else if (into !== undefined) {
        target[key] = item;
      }
    }
    return target;
  }

  /** A parsed array that is no tag, revived in place. */
  private array(value: unknown[], depth: number): unknown[] {
    this.enter(value, depth);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === 'object' || (typeof item === 'string' && item.charCodeAt(0) === TILDE)) {
        try {
          value[i] = this.item(item, depth + 1);
        } catch (error) {
          throw through(error, INDEX, i);
        }
      }
    }
    return value;
  }

  /** A string tag: `"~~…"`, `"~u"`, `"~n…"`, `"~b…"`, `"~D…"`, `"~r…"`, `"~B…"`. */
  private tagged(text: string, depth: number): unknown {
    switch (text.charCodeAt(1)) {
      case TILDE:
        return text.slice(1);
      case 117: // u
        if (text.length !== 2) break;
        return undefined;
      case 110: // n
        return specialNumber(text.slice(2));
      case 98: // b
        if (!isHexInteger(text, 2)) break;
        return text.charCodeAt(2) === 45 ? -BigInt(`0x${text.slice(3)}`) : BigInt(`0x${text.slice(2)}`);
      case 68: // D
        return this.date(text, depth);
      case 114: {
        // r
        const id = integer(text, 2);
        if (!(id >= 0 && id < this.refs.length)) throw new Refusal(`a reference to no earlier object (${describe(text)})`);
        return this.refs[id];
      }
      case 66: // B
        return this.bytes(text.slice(2), depth);
    }
    throw new Refusal(`an unknown or malformed tag ${describe(text)}`);
  }

  /** An array tag: `["~M",…]`, `["~S",…]`, `["~H",…]`, `["~R",…]`, `["~N",{…}]`. */
  private container(tag: string, value: unknown[], depth: number): unknown {
    switch (tag) {
      case '~M':
        return this.map(value, depth);
      case '~S':
        return this.set(value, depth);
      case '~H':
        return this.holey(value, depth);
      case '~R':
        return this.regExp(value, depth);
      case '~N': {
        const body = value[1];
        if (value.length !== 2 || typeof body !== 'object' || body === null || Array.isArray(body)) break;
        return this.record(body as Record<string, unknown>, depth, Object.create(null) as Record<string, unknown>);
      }
    }
    throw new Refusal(`an unknown or malformed tag ${describe(tag)}`);
  }

  /** `"~D<ms>"`, `"~D"` for an invalid Date. */
  private date(text: string, depth: number): Date {
    const time = text.length === 2 ? Number.NaN : integer(text, 2);
    if (text.length !== 2 && Number.isNaN(time)) throw new Refusal('a malformed Date tag');
    const date = new Date(time);
    this.enter(date, depth);
    return date;
  }

  private map(value: unknown[], depth: number): Map<unknown, unknown> {
    if (value.length % 2 !== 1) throw new Refusal('a malformed Map tag');
    const map = new Map<unknown, unknown>();
    this.enter(map, depth);
    for (let i = 1; i < value.length; i += 2) {
      let key: unknown;
      try {
        key = this.item(value[i], depth + 1);
      } catch (error) {
        throw through(error, MAP_KEY, (i - 1) / 2);
      }
      try {
        map.set(key, this.item(value[i + 1], depth + 1));
      } catch (error) {
        throw through(error, MAP_VALUE, (i - 1) / 2);
      }
    }
    return map;
  }

  private set(value: unknown[], depth: number): Set<unknown> {
    const set = new Set<unknown>();
    this.enter(set, depth);
    for (let i = 1; i < value.length; i++) {
      try {
        set.add(this.item(value[i], depth + 1));
      } catch (error) {
        throw through(error, SET_MEMBER, i - 1);
      }
    }
    return set;
  }

  /** `["~H",length,index,value,…]`, indices ascending. */
  private holey(value: unknown[], depth: number): unknown[] {
    const length = value[1];
    if (value.length % 2 !== 0 || !isIndex(length, MAX_ARRAY_INDEX + 2)) throw new Refusal('a malformed tag "~H"');
    const array = new Array<unknown>(length);
    this.enter(array, depth);
    let previous = -1;
    for (let i = 2; i < value.length; i += 2) {
      const index: unknown = value[i];
      if (!isIndex(index, length) || index <= previous) throw new Refusal('a malformed tag "~H" (bad index)');
      previous = index;
      try {
        array[index] = this.item(value[i + 1], depth + 1);
      } catch (error) {
        throw through(error, INDEX, index);
      }
    }
    return array;
  }

  private regExp(value: unknown[], depth: number): RegExp {
    const [, source, flags] = value;
    if (value.length !== 3 || typeof source !== 'string' || typeof flags !== 'string') throw new Refusal('a malformed tag "~R"');
    let regExp: RegExp;
    try {
      regExp = new RegExp(source, flags);
    } catch (error) {
      throw new Refusal(`an invalid RegExp (${errorMessage(error)})`);
    }
    this.enter(regExp, depth);
    return regExp;
  }

  /** `<Name>:<base64>` of an `ArrayBuffer` or a typed array. */
  private bytes(body: string, depth: number): ArrayBuffer | ArrayBufferView {
    const colon = body.indexOf(':');
    const name = colon === -1 ? '' : body.slice(0, colon);
    const Constructor = TYPED_ARRAYS.get(name);
    if ((name !== 'ArrayBuffer' && Constructor === undefined) || !isBase64(body, colon + 1))
      throw new Refusal('an unknown or malformed bytes tag');
    const decoded = Buffer.from(body.slice(colon + 1), 'base64');
    if (Constructor !== undefined && decoded.byteLength % Constructor.BYTES_PER_ELEMENT !== 0) {
      throw new Refusal(`a malformed ${name} tag (${decoded.byteLength} bytes)`);
    }
    const bytes = new Uint8Array(decoded); // a copy in its own ArrayBuffer (decoded may sit in Buffer's pool)
    const result = Constructor === undefined ? bytes.buffer : new Constructor(bytes.buffer);
    this.enter(result, depth);
    return result;
  }
}

/**
 * The integer written in `text` from index `from` to its end (an optional `-`, 1 to 16 decimal digits, as the encoder writes them),
 * or `NaN`. Faster than `Number()` for the 13 digits of a Date's time, and strict.
 */
function integer(text: string, from: number): number {
  const negative = text.charCodeAt(from) === 45;
  const start = negative ? from + 1 : from;
  if (text.length === start || text.length - start > 16) return Number.NaN;
  let value = 0;
  for (let i = start; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

function specialNumber(body: string): number {
  switch (body) {
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    case '-0':
      return -0;
    default:
      throw new Refusal('a malformed number tag');
  }
}
