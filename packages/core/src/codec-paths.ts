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

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `.name` for an identifier, `["x-y"]` (JSON-quoted) for any other property name. */
export function propertyStep(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
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
