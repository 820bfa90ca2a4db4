import * as v from 'valibot';
import { OptionError } from './errors.js';
import { MAX_TIMER_DELAY } from './expiry-timer.js';

/**
 * The one options mechanism of Reprise: every package states its options as a {@link optionsSchema}
 * (valibot field schemas, one frozen defaults object) and reads them with {@link parseOptions}, which
 * refuses unknown names with a "did you mean" hint and turns the first problem into an
 * {@link OptionError} worded the same everywhere: `maxSessions must be a positive integer, got 0`.
 * Schemas are built once, at module load; parsing runs once per construction (and per `setOption`).
 */

/** One option's schema: a synchronous valibot schema (its input is what users pass, its output what the package reads). */
// biome-ignore lint/suspicious/noExplicitAny: the input side of a field is contravariant; any lets every field fit OptionFields
export type OptionField<TInput = any, TOutput = unknown> = v.BaseSchema<TInput, TOutput, v.BaseIssue<unknown>>;

/** The fields of an options object, by option name. */
export type OptionFields = Readonly<Record<string, OptionField>>;

/** Defaults for some of `TFields`' names: each a value its field accepts (`undefined`: none). */
export type OptionDefaults<TFields extends OptionFields> = { readonly [K in keyof TFields]?: v.InferInput<TFields[K]> };

/** `TFields` with every name in `TDefaults` optional, `undefined` read as its default. */
export type DefaultedFields<TFields extends OptionFields, TDefaults> = {
  readonly [K in keyof TFields]: K extends keyof TDefaults ? v.OptionalSchema<TFields[K], () => TDefaults[K]> : TFields[K];
};

/** What {@link optionsSchema} returns: a valibot strict object (unknown names are issues) with the defaults applied. */
export type OptionsSchema<TFields extends OptionFields, TDefaults> = v.StrictObjectSchema<
  DefaultedFields<TFields, TDefaults>,
  v.ErrorMessage<v.StrictObjectIssue>
>;

/** The normalized options `parseOptions(schema, …)` returns. */
export type ParsedOptions<TSchema extends OptionField> = v.InferOutput<TSchema>;

/** The field itself when it accepts every value the documented interface allows, else a type naming the mismatch (a compile error). */
type Accepts<TField, TValue, TDefaulted> = TField extends OptionField
  ? [TValue] extends [v.InferInput<TField> | (TDefaulted extends true ? undefined : never)]
    ? TField
    : { readonly 'the field refuses a value its documented interface allows': TValue }
  : OptionField;

/**
 * Fields that match the documented options interface `TOptions` exactly: one per name (no more, no
 * fewer), each accepting every value the interface allows (with `undefined` accepted when the name
 * has a default). A compile error names the field that drifted.
 */
export type FieldsOf<TOptions, TFields, TDefaults> = {
  readonly [K in keyof TOptions]-?: K extends keyof TFields
    ? Accepts<TFields[K], TOptions[K], K extends keyof TDefaults ? true : false>
    : OptionField;
} & { readonly [K in Exclude<keyof TFields, keyof TOptions>]: { readonly 'not an option of the documented interface': K } };

/** Describes what an option must be, and the value it got: `must be a positive integer, got 0`. */
export function mustBe(description: string): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => `must be ${description}, got ${describeOptionValue(issue.input)}`;
}

/**
 * The schema of an options object: `fields` by name, and `defaults` for some of them (frozen once by
 * the package; a value `undefined` or a name left out means that default). Names outside `fields`
 * are refused. Call it with the documented interface first, so that the fields cannot drift from it:
 * `optionsSchema<MemoryAdapterOptions>()({ maxEntries: positiveIntegerField, … }, DEFAULTS)`.
 */
export function optionsSchema<TOptions>() {
  return <const TFields extends OptionFields & FieldsOf<TOptions, TFields, TDefaults>, const TDefaults extends OptionDefaults<TFields>>(
    fields: TFields,
    defaults: TDefaults,
  ): OptionsSchema<TFields, TDefaults> => {
    const entries: Record<string, OptionField> = {};
    for (const [name, field] of Object.entries(fields)) {
      // A function as default would be called by valibot: each default is wrapped in one.
      entries[name] = Object.hasOwn(defaults, name) ? v.optional(field, () => (defaults as Record<string, unknown>)[name]) : field;
    }
    return v.strictObject(entries, mustBe('an object')) as unknown as OptionsSchema<TFields, TDefaults>;
  };
}

/** Where {@link parseOptions} is called from, for its messages. */
export interface ParseContext {
  /** Put before every message: `MemoryAdapter` gives `MemoryAdapter: maxEntries must be …`. Default: nothing. */
  readonly what?: string | undefined;
  /** What the whole input is called in a message about it: default `'options'` (`options must be an object, got null`). */
  readonly name?: string | undefined;
  /** Said after an unknown name that is close to no known one: `for other pg settings, pass your own { pool }`. */
  readonly hint?: string | undefined;
}

/** Parse settings: every field's first issue, and the unknown names after them. */
const PARSE_CONFIG: v.Config<v.BaseIssue<unknown>> = Object.freeze({
  abortPipeEarly: true,
  // A field built without a message of its own still speaks like the others.
  message: (issue: v.BaseIssue<unknown>) => `must be ${issue.expected ?? 'something else'}, got ${describeOptionValue(issue.input)}`,
});

/**
 * Validates `input` against `schema` (an {@link optionsSchema}, or one field) and returns the normalized
 * value: defaults filled in, a fresh object. The first problem is thrown as an {@link OptionError}
 * whose `cause` is valibot's `ValiError` (with every issue): an unknown name first, with a hint
 * (`unknown option "idleTimout" (did you mean "idleTimeout"?)`), else the first wrong value, named by
 * its path (`cookie.name …`, `onClose[1] …`). An array is not an options object.
 */
export function parseOptions<TSchema extends OptionField>(
  schema: TSchema,
  input: unknown,
  context: ParseContext = {},
): v.InferOutput<TSchema> {
  const name = context.name ?? 'options';
  if (Array.isArray(input) && entriesOf(schema) !== undefined) throw optionError(context, `${name} must be an object, got an array`);
  const result = v.safeParse(schema, input, PARSE_CONFIG);
  if (result.success) return result.output;
  const issues = result.issues as [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]];
  const issue = issues.find(isUnknownName) ?? issues[0];
  throw optionError(context, describeIssue(schema, issue, name, context.hint), new v.ValiError(issues));
}

function optionError(context: ParseContext, message: string, cause?: unknown): OptionError {
  const text = context.what === undefined ? message : `${context.what}: ${message}`;
  return cause === undefined ? new OptionError(text) : new OptionError(text, { cause });
}

/** An issue about a name the strict object does not know. */
function isUnknownName(issue: v.BaseIssue<unknown>): boolean {
  return issue.type === 'strict_object' && issue.expected === 'never';
}

/** The message for one issue: `<path> <what it must be>`, or the unknown-name message. */
function describeIssue(schema: OptionField, issue: v.BaseIssue<unknown>, name: string, hint: string | undefined): string {
  const keys = (issue.path ?? []).map((item) => item.key as string | number);
  if (isUnknownName(issue)) {
    const parentKeys = keys.slice(0, -1);
    const known = Object.keys(entriesOf(schemaAt(schema, parentKeys)) ?? {});
    return unknownOptionMessage(String(keys.at(-1)), known, parentKeys.length === 0 ? '' : `${formatPath(parentKeys)}.`, hint);
  }
  // An options object's names stand alone (`maxSessions`); an index below a single value follows its name (`onClose[0]`).
  const subject = keys.length === 0 ? name : typeof keys[0] === 'number' ? `${name}${formatPath(keys)}` : formatPath(keys);
  if (issue.type === 'strict_object' && issue.input === undefined && keys.length > 0) {
    // A required name left out: the field's own message for `undefined`.
    const field = schemaAt(schema, keys);
    const missing = field === undefined ? undefined : v.safeParse(field, undefined, PARSE_CONFIG).issues?.[0]?.message;
    return `${subject} ${missing ?? 'is required'}`;
  }
  return `${subject} ${issue.message}`;
}

/** `cookie.name`, `onClose[1]`. */
function formatPath(keys: readonly (string | number)[]): string {
  return keys.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('');
}

type Inspectable = { entries?: Record<string, OptionField>; wrapped?: OptionField; item?: OptionField; pipe?: readonly unknown[] };

/** The object entries of `schema` (through optional wrappers and pipes), if it is an object schema. */
function entriesOf(schema: OptionField | undefined): Record<string, OptionField> | undefined {
  const s = schema as Inspectable | undefined;
  if (s === undefined) return undefined;
  if (s.entries !== undefined) return s.entries;
  if (s.wrapped !== undefined) return entriesOf(s.wrapped);
  return undefined;
}

/** The schema at `keys` below `schema` (object entries and array items), if it can be found. */
function schemaAt(schema: OptionField | undefined, keys: readonly (string | number)[]): OptionField | undefined {
  let current = schema;
  for (const key of keys) {
    let s = current as Inspectable | undefined;
    while (s?.wrapped !== undefined) s = s.wrapped as Inspectable;
    current = typeof key === 'number' ? s?.item : s?.entries?.[key];
  }
  return current;
}

/**
 * `unknown option "<prefix><name>"`, with the closest of `known` (two edits at most) as a hint:
 * `(did you mean "idleTimeout"?)`, else `(<otherwise>)` when given.
 */
export function unknownOptionMessage(name: string, known: Iterable<string>, prefix = '', otherwise?: string): string {
  const near = closest(name, known);
  const hint = near !== undefined ? ` (did you mean ${JSON.stringify(prefix + near)}?)` : otherwise === undefined ? '' : ` (${otherwise})`;
  return `unknown option ${JSON.stringify(prefix + name)}${hint}`;
}

/**
 * Throws an {@link OptionError} for the first own name of `options` not in `known`, suggesting the
 * closest known name (edit distance 2 at most): `unknown option "idleTimout" (did you mean "idleTimeout"?)`.
 * `prefix` is put before every name in the message (`'cookie.'` for a nested object). Prefer
 * {@link parseOptions}, which does this and validates the values.
 */
export function assertKnownOptions(options: object, known: ReadonlySet<string>, prefix = ''): void {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new OptionError(unknownOptionMessage(name, known, prefix));
  }
}

/** The first of `names` at the smallest edit distance from `name`, if that distance is 2 or less. */
function closest(name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one UTF-16 unit each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution);
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * Describes an option's value for an error message: short strings quoted, long ones (over 80
 * characters) only by length, numbers and other primitives as written, objects by kind.
 */
export function describeOptionValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

// ---------------------------------------------------------------------------------------------
// Field schemas. Each is built once; `v.optional(field)` (or a default) makes it optional.

/** Why a delay waited on with one `setTimeout` is bounded, for messages. */
export const TIMER_LIMIT_REASON = "about 24.8 days, the longest delay Node's timers hold";

/** Bounds of {@link msField}. */
export interface MsBounds {
  /** Whole ms only. Default `false`. */
  readonly integer?: boolean | undefined;
  /** Smallest value accepted, in ms. Default: any positive number. */
  readonly min?: number | undefined;
  /** Largest value accepted, in ms. Default: no bound (`Infinity` is still refused). */
  readonly max?: number | undefined;
  /** Why `max` (in the message, in parentheses). */
  readonly limit?: string | undefined;
}

/** A safe integer of at least `min`: `must be a positive integer` (min 1) or `must be an integer of at least <min>`. */
export function integerField(min: number): OptionField<number, number> {
  const message = mustBe(min === 1 ? 'a positive integer' : `an integer of at least ${min}`);
  return v.pipe(v.number(message), v.safeInteger(message), v.minValue(min, message));
}

/** A positive safe integer (a count, a size, seconds). */
export const positiveIntegerField = integerField(1);

/** A positive, finite number (not ms: say the unit in `description`): `must be a positive, finite number`. */
export function positiveNumberField(description = 'a positive, finite number'): OptionField<number, number> {
  const message = mustBe(description);
  return v.pipe(v.number(message), v.finite(message), v.gtValue(0, message));
}

/**
 * A positive, finite number of ms (or a positive integer of ms with `integer`), within `bounds`:
 * `must be a positive, finite number of ms`, `must be at least 30 ms`, `must be at most 2147483647 ms (<limit>)`.
 */
export function msField(bounds: MsBounds = {}, or = ''): OptionField<number, number> {
  const { integer = false, min = 0, max = Infinity, limit } = bounds;
  const kind = mustBe(`${integer ? 'a positive integer of ms' : 'a positive, finite number of ms'}${or}`);
  return v.pipe(
    v.number(kind),
    integer ? v.safeInteger(kind) : v.finite(kind),
    v.gtValue(0, kind),
    v.minValue(min, mustBe(`at least ${min} ms${or}`)),
    v.maxValue(max, mustBe(`at most ${max} ms${limit === undefined ? '' : ` (${limit})`}${or}`)),
  );
}

/** A positive, finite number of ms of any length (served by a timer that re-arms). */
export const positiveMsField = msField();

/** A delay waited on with one `setTimeout`: at most 2^31 - 1 ms (2^31 or more would fire at once), the reason in the message. */
export const timerMsField = msField({ max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON });

/** A store TTL in ms: at most `Number.MAX_SAFE_INTEGER`. */
export const ttlMsField = msField({ max: Number.MAX_SAFE_INTEGER, limit: 'Number.MAX_SAFE_INTEGER' });

/**
 * `off` (`0` or `false`: the feature off) or a number of ms within `bounds`; the messages add
 * `or 0 (off)`: `checkpointInterval must be a positive, finite number of ms or 0 (off), got -1`.
 */
export function msOrOffField<const TOff extends 0 | false>(off: TOff, bounds: MsBounds = {}): OptionField<number | TOff, number | TOff> {
  const or = ` or ${String(off)} (off)`;
  const kind = mustBe(`${bounds.integer === true ? 'a positive integer of ms' : 'a positive, finite number of ms'}${or}`);
  return v.union([v.literal(off), msField(bounds, or)], kind) as OptionField<number | TOff, number | TOff>;
}

/** A `0` (off) or a delay one `setTimeout` holds (see {@link timerMsField}). */
export const timerMsOrOffField = msOrOffField(0, { max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON });

/** A boolean: `must be a boolean`. */
export const booleanField: OptionField<boolean, boolean> = v.boolean(mustBe('a boolean'));

/**
 * A string (of at least one character with `nonEmpty`, of at most `maxLength` UTF-16 units):
 * `must be a string`, `must be a non-empty string`, `must be a string of at most 64 characters`.
 */
export function stringField(
  bounds: { readonly nonEmpty?: boolean | undefined; readonly maxLength?: number | undefined } = {},
): OptionField<string, string> {
  const { nonEmpty = false, maxLength = Infinity } = bounds;
  const message = mustBe(
    `${nonEmpty ? 'a non-empty string' : 'a string'}${maxLength === Infinity ? '' : ` of at most ${maxLength} characters`}`,
  );
  return v.pipe(v.string(message), v.minLength(nonEmpty ? 1 : 0, message), v.maxLength(maxLength, message));
}

/** Any string (`''` included). */
export const anyStringField = stringField();

/** A string matching `pattern`; `description` says what it must be: `must be 1 to 64 letters, digits, - or _`. */
export function patternField(pattern: RegExp, description: string): OptionField<string, string> {
  const message = mustBe(description);
  return v.pipe(v.string(message), v.regex(pattern, message));
}

/** A function, typed `T` (its signature is not checked at run time): `must be <description>`. */
export function functionField<T extends (...args: never[]) => unknown>(description = 'a function'): OptionField<T, T> {
  return v.custom<T>((value) => typeof value === 'function', mustBe(description));
}

/** One of `values` (compared with `===`): `must be one of "lax", "strict", false`. */
export function oneOfField<const T extends readonly (string | number | boolean)[]>(values: T): OptionField<T[number], T[number]> {
  const message = mustBe(`one of ${values.map((value) => (typeof value === 'string' ? JSON.stringify(value) : String(value))).join(', ')}`);
  return v.union(
    values.map((value) => v.literal(value, message)),
    message,
  ) as unknown as OptionField<T[number], T[number]>;
}

/**
 * A value `check` accepts, typed `T`; `message` says what it must be (the value is not echoed unless
 * `message` does it: give a function of the value for a message that depends on it).
 */
export function customField<T>(check: (value: unknown) => boolean, message: string | ((value: unknown) => string)): OptionField<T, T> {
  return v.custom<T>(check, typeof message === 'string' ? message : (issue) => message(issue.input));
}

/** `field`, or `undefined` (no default): the name may be left out. */
export function optionalField<TField extends OptionField>(field: TField): v.OptionalSchema<TField, undefined> {
  return v.optional(field);
}

/**
 * A name that must stay unset in this form of the options (`message` says why, whole): `undefined`
 * is accepted. `connectTimeout: notInThisForm('applies to { url } only: …')`.
 */
export function notInThisForm(message: string): v.OptionalSchema<v.NeverSchema<string>, undefined> {
  return v.optional(v.never(message));
}

/** One element or an array of them, normalized into a fresh array; the message names the index (`onClose[1] must be …`). */
export function listField<TItem>(item: OptionField<TItem, TItem>): OptionField<TItem | readonly TItem[], TItem[]> {
  return v.pipe(
    v.unknown(),
    v.transform((value): unknown[] => (Array.isArray(value) ? [...(value as unknown[])] : [value])),
    v.array(item),
  ) as unknown as OptionField<TItem | readonly TItem[], TItem[]>;
}
