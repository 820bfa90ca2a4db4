/**
 * Paths of the snapshot codec: where in the session data a value sits, as `data.cart[2].handle`
 * (the format is documented in codec.ts). The encoder and the decoders build them only when they
 * report a problem: a step is a kind plus a key, formatted on demand.
 */

/** A property of an object: `.name`, or `["other key"]` when the name is not an identifier. */
export const PROPERTY = 0;
/** An array index: `[3]`. */
export const INDEX = 1;
/** The key of the i-th entry of a Map: `<Map key #i>`. */
export const MAP_KEY = 2;
/** The value of the i-th entry of a Map: `<Map value #i>`. */
export const MAP_VALUE = 3;
/** The i-th member of a Set: `<Set member #i>`. */
export const SET_MEMBER = 4;

/** How a step names its place (one of the constants above). */
export type StepKind = typeof PROPERTY | typeof INDEX | typeof MAP_KEY | typeof MAP_VALUE | typeof SET_MEMBER;

/**
 * Whether `key` is an identifier of ASCII letters, digits, `_` and `$` not starting with a digit.
 * (No RegExp: paths are formatted while unwinding from a stack overflow, where V8 cannot compile one.)
 */
function isIdentifier(key: string): boolean {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
    if (!letter && (i === 0 || c < 48 || c > 57)) return false;
  }
  return true;
}

/** `.name` for an identifier, `["x-y"]` (JSON-quoted) for any other property name. */
export function propertyStep(key: string): string {
  return isIdentifier(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** One step of a path, formatted. */
export function formatStep(kind: StepKind, key: string | number): string {
  switch (kind) {
    case PROPERTY:
      return propertyStep(String(key));
    case INDEX:
      return `[${key}]`;
    case MAP_KEY:
      return `<Map key #${key}>`;
    case MAP_VALUE:
      return `<Map value #${key}>`;
    case SET_MEMBER:
      return `<Set member #${key}>`;
  }
}
