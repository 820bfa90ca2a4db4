import { types } from 'node:util';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Session data as readable JSON. What JSON has stays as it is; a `Date` becomes its ISO string
 * (as `JSON.stringify` writes it); everything else the snapshot codec keeps becomes a one-key object
 * tagged with `$`:
 *
 * | value | readable form |
 * | --- | --- |
 * | `undefined`, an array hole | `{ "$undefined": true }` |
 * | a sparse array (length over twice its elements + 16) | `{ "$sparse": { "length": n, "items": { "index": value, … } } }` |
 * | `NaN`, `Infinity`, `-Infinity`, `-0` | `{ "$number": "NaN" }` … |
 * | bigint | `{ "$bigint": "12345678901234567890" }` |
 * | invalid `Date` | `{ "$date": "Invalid Date" }` |
 * | `RegExp` | `{ "$regexp": "/a+/gi" }` |
 * | `Map` | `{ "$map": [[key, value], …] }` |
 * | `Set` | `{ "$set": [member, …] }` |
 * | `ArrayBuffer`, `Uint8Array`, `Uint8ClampedArray` | `{ "$Uint8Array": "hex digits" }` (name of the type) |
 * | other typed arrays | `{ "$Float64Array": [1.5, …] }` (bigints of `BigInt64Array` as strings) |
 * | an object seen before (shared or cyclic) | `{ "$ref": "data.path.of.first.place" }` |
 * | an object with a key starting with `$` | `{ "$object": { … } }` (so it is never read as a tag) |
 *
 * Paths are the codec's (`data.cart[2]`, `data.byUser<Map value #0>`).
 */
export function readable(data: unknown): Json {
  return new Renderer().value(data, 'data');
}

const BYTE_VIEWS: ReadonlySet<string> = new Set(['Uint8Array', 'Uint8ClampedArray']);

class Renderer {
  readonly #seen = new Map<object, string>();

  value(value: unknown, path: string): Json {
    switch (typeof value) {
      case 'undefined':
        return { $undefined: true };
      case 'number':
        return Number.isFinite(value) && !Object.is(value, -0) ? value : { $number: Object.is(value, -0) ? '-0' : String(value) };
      case 'bigint':
        return { $bigint: value.toString() };
      case 'string':
      case 'boolean':
        return value;
      case 'object':
        return value === null ? null : this.#object(value, path);
      default:
        return { $unknown: typeof value }; // the codec never decodes functions or symbols
    }
  }

  #object(value: object, path: string): Json {
    const first = this.#seen.get(value);
    if (first !== undefined) return { $ref: first };
    this.#seen.set(value, path);
    if (types.isDate(value)) {
      const time = (value as Date).getTime();
      return Number.isNaN(time) ? { $date: 'Invalid Date' } : (value as Date).toISOString();
    }
    if (types.isRegExp(value)) return { $regexp: String(value) };
    if (types.isMap(value)) return { $map: this.#entries(value as Map<unknown, unknown>, path) };
    if (types.isSet(value))
      return { $set: [...(value as Set<unknown>)].map((member, i) => this.value(member, `${path}<Set member #${i}>`)) };
    if (types.isArrayBuffer(value)) return { $ArrayBuffer: Buffer.from(value as ArrayBuffer).toString('hex') };
    if (types.isTypedArray(value)) return typedArray(value);
    if (Array.isArray(value)) return this.#array(value, path);
    return this.#record(value as Record<string, unknown>, path);
  }

  #entries(map: Map<unknown, unknown>, path: string): Json[] {
    return [...map].map(([key, item], i) => [this.value(key, `${path}<Map key #${i}>`), this.value(item, `${path}<Map value #${i}>`)]);
  }

  #array(array: readonly unknown[], path: string): Json {
    const indices = Object.keys(array).filter((key) => /^(?:0|[1-9]\d*)$/.test(key));
    if (array.length > 2 * indices.length + 16) {
      const items: Record<string, Json> = {};
      for (const index of indices) items[index] = this.value(array[Number(index)], `${path}[${index}]`);
      return { $sparse: { length: array.length, items } };
    }
    const out: Json[] = [];
    for (let i = 0; i < array.length; i += 1) {
      out.push(Object.hasOwn(array, i) ? this.value(array[i], `${path}[${i}]`) : { $undefined: true });
    }
    return out;
  }

  #record(record: Record<string, unknown>, path: string): Json {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(record)) out[key] = this.value(record[key], propertyPath(path, key));
    return Object.keys(out).some((key) => key.startsWith('$')) ? { $object: out } : out;
  }
}

function typedArray(view: NodeJS.TypedArray): Json {
  const name = Object.prototype.toString.call(view).slice(8, -1);
  if (BYTE_VIEWS.has(name)) return { [`$${name}`]: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex') };
  return {
    [`$${name}`]: Array.from(view as ArrayLike<number | bigint>, (item) =>
      typeof item === 'bigint' ? item.toString() : readableNumber(item),
    ),
  };
}

function readableNumber(value: number): Json {
  return Number.isFinite(value) && !Object.is(value, -0) ? value : Object.is(value, -0) ? '-0' : String(value);
}

function propertyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
