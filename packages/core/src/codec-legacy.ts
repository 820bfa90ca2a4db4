/**
 * The reader of format 1 (`R1:`, a `devalue` text), which Reprise wrote before format 2: records
 * already in a store still decode. `devalue.parse` revives the types; one walk then refuses what the
 * codec never writes (reserved keys, other types, data nested too deeply). Nothing writes format 1 now.
 */
import { parse } from 'devalue';
import {
  checkEnvelope,
  corrupt,
  describe,
  describeObject,
  errorMessage,
  isReservedKey,
  MAX_DATA_DEPTH,
  ownIndices,
  TYPED_ARRAY_PROTOTYPES,
} from './codec-common.js';
import { propertyStep } from './codec-paths.js';
import type { SessionData } from './types.js';

/** Parses the devalue text after the `R1:` marker into the envelope object (its data revived). */
export function parseLegacyEnvelope(text: string): Record<string, unknown> {
  let envelope: unknown;
  try {
    envelope = parse(text);
  } catch (error) {
    throw corrupt('', `The snapshot could not be parsed: ${errorMessage(error)}`, error);
  }
  return checkEnvelope(envelope);
}

/** Checks decoded session data: a plain object holding only what the codec writes, without reserved keys. */
export function checkLegacyData(data: unknown): SessionData {
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
    const keyPath = path + propertyStep(key);
    if (isReservedKey(key)) throw corrupt(keyPath, `Refused snapshot: reserved key ${JSON.stringify(key)} at ${keyPath}`);
    checkDecoded(value[key], keyPath, depth + 1, seen);
  }
}
