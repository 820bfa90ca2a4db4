import { expect } from 'chai';
import { ValiError } from 'valibot';
import { OptionError } from '../src/errors.js';
import {
  anyStringField,
  booleanField,
  customField,
  describeOptionValue,
  functionField,
  integerField,
  listField,
  msField,
  msOrOffField,
  notInThisForm,
  oneOfField,
  optionalField,
  optionsSchema,
  parseOptions,
  patternField,
  positiveIntegerField,
  positiveMsField,
  positiveNumberField,
  stringField,
  timerMsField,
  timerMsOrOffField,
  ttlMsField,
  type OptionField,
  type ParseContext,
} from '../src/option-schema.js';
import { DEFAULTS, MANAGER_OPTIONS_SCHEMA, MANAGER_OPTION_NAMES, type SessionManagerOptions } from '../src/options.js';
import { SessionManager } from '../src/session-manager.js';
import { TestAdapter } from './support/test-adapter.js';

/** Runs `action` and returns the OptionError it throws (failing when it throws nothing or something else). */
function optionError(action: () => unknown): OptionError {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    expect((error as OptionError).code).to.equal('ERR_REPRISE_OPTION');
    return error as OptionError;
  }
  expect.fail('expected an OptionError');
}

/** The message `field` gives for `value` (named `x`), or `'ok'` when it accepts it. */
function verdict(field: OptionField, value: unknown, context: ParseContext = { name: 'x' }): string {
  try {
    parseOptions(field, value, context);
    return 'ok';
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    return (error as Error).message;
  }
}

/** A small documented interface and its schema, as a package states them. */
interface CookieOptions {
  /** Default `'sid'`. */
  name?: string | undefined;
  /** ms; no default. */
  maxAge?: number | undefined;
}
interface DemoOptions {
  /** Required. */
  store: { get(): void };
  /** Default 10. */
  size?: number | undefined;
  /** No default. */
  limit?: number | undefined;
  /** Default a function. */
  log?: ((line: string) => void) | undefined;
  cookie?: CookieOptions | undefined;
  hooks?: (() => void) | readonly (() => void)[] | undefined;
}
const log = (_line: string): void => {};
const DEMO_DEFAULTS = Object.freeze({ size: 10, log });
const COOKIE = optionsSchema<CookieOptions>()(
  { name: patternField(/^[a-z]+$/, 'a lowercase word'), maxAge: optionalField(positiveMsField) },
  Object.freeze({ name: 'sid' }),
);
const DEMO = optionsSchema<DemoOptions>()(
  {
    store: customField<{ get(): void }>((value) => typeof (value as { get?: unknown } | null)?.get === 'function', 'must have a get()'),
    size: positiveIntegerField,
    limit: optionalField(positiveIntegerField),
    log: functionField<(line: string) => void>(),
    cookie: optionalField(COOKIE),
    hooks: optionalField(listField(functionField<() => void>())),
  },
  DEMO_DEFAULTS,
);
const store = { get() {} };

describe('the options mechanism (option-schema)', () => {
  describe('parseOptions: unknown names', () => {
    it('refuses an unknown name with the closest known one as a hint', () => {
      expect(optionError(() => parseOptions(DEMO, { store, sise: 3 })).message).to.equal('unknown option "sise" (did you mean "size"?)');
      expect(optionError(() => parseOptions(DEMO, { store, Log: log })).message).to.equal('unknown option "Log" (did you mean "log"?)');
    });

    it('gives no hint when no name is within two edits, or the context hint when there is one', () => {
      expect(optionError(() => parseOptions(DEMO, { store, capacity: 3 })).message).to.equal('unknown option "capacity"');
      expect(optionError(() => parseOptions(DEMO, { store, capacity: 3 }, { hint: 'see the README' })).message).to.equal(
        'unknown option "capacity" (see the README)',
      );
      expect(optionError(() => parseOptions(DEMO, { store, sise: 3 }, { hint: 'see the README' })).message).to.equal(
        'unknown option "sise" (did you mean "size"?)',
      );
    });

    it('names a nested unknown name by its path, with a nested hint', () => {
      expect(optionError(() => parseOptions(DEMO, { store, cookie: { maxage: 5 } })).message).to.equal(
        'unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)',
      );
      expect(optionError(() => parseOptions(DEMO, { store, cookie: { expires: 5 } })).message).to.equal('unknown option "cookie.expires"');
    });

    it('reports an unknown name before a wrong value, whatever their order', () => {
      expect(optionError(() => parseOptions(DEMO, { store, size: 0, sise: 3 })).message).to.equal(
        'unknown option "sise" (did you mean "size"?)',
      );
      expect(optionError(() => parseOptions(DEMO, { sise: 3, store: 5 })).message).to.equal('unknown option "sise" (did you mean "size"?)');
    });

    it('refuses an unknown name whose value is undefined, and inherited enumerable names', () => {
      expect(optionError(() => parseOptions(DEMO, { store, sise: undefined })).message).to.match(/^unknown option "sise"/);
      const inherited = Object.assign(Object.create({ sise: 3 }) as object, { store });
      expect(optionError(() => parseOptions(DEMO, inherited)).message).to.match(/^unknown option "sise"/);
    });

    it('refuses a "__proto__" own name (as JSON.parse makes it) without touching any prototype', () => {
      const hostile = JSON.parse('{"__proto__": {"polluted": true}, "size": 2}') as object;
      expect(optionError(() => parseOptions(DEMO, { ...hostile, store })).message).to.equal('unknown option "__proto__"');
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    it('puts `what` before every message', () => {
      expect(optionError(() => parseOptions(DEMO, { store, sise: 3 }, { what: 'Demo' })).message).to.equal(
        'Demo: unknown option "sise" (did you mean "size"?)',
      );
      expect(optionError(() => parseOptions(DEMO, { store, size: 0 }, { what: 'Demo' })).message).to.equal(
        'Demo: size must be a positive integer, got 0',
      );
    });
  });

  describe('parseOptions: values', () => {
    it('names a wrong value by its path: top level, nested, array index', () => {
      expect(optionError(() => parseOptions(DEMO, { store, size: 1.5 })).message).to.equal('size must be a positive integer, got 1.5');
      expect(optionError(() => parseOptions(DEMO, { store, cookie: { name: 'Sid' } })).message).to.equal(
        'cookie.name must be a lowercase word, got "Sid"',
      );
      expect(optionError(() => parseOptions(DEMO, { store, hooks: [() => {}, 'x'] })).message).to.equal(
        'hooks[1] must be a function, got "x"',
      );
      expect(optionError(() => parseOptions(DEMO, { store, hooks: 5 })).message).to.equal('hooks[0] must be a function, got 5');
    });

    it('says what the whole input must be when it is no object (arrays included), naming it', () => {
      for (const [input, got] of [
        [null, 'null'],
        [undefined, 'undefined'],
        [5, '5'],
        ['x', '"x"'],
        [[], 'an array'],
        [[store], 'an array'],
        [() => {}, 'a function'],
      ] as const) {
        expect(optionError(() => parseOptions(DEMO, input)).message).to.equal(`options must be an object, got ${got}`);
      }
      expect(optionError(() => parseOptions(DEMO, null, { name: 'the first argument', what: 'Demo' })).message).to.equal(
        'Demo: the first argument must be an object, got null',
      );
      expect(optionError(() => parseOptions(DEMO, { store, cookie: 'sid' })).message).to.equal('cookie must be an object, got "sid"');
    });

    it('reports a required name left out with its field message', () => {
      expect(optionError(() => parseOptions(DEMO, {})).message).to.equal('store must have a get()');
      expect(optionError(() => parseOptions(DEMO, { store: undefined })).message).to.equal('store must have a get()');
    });

    it('wraps every issue: cause is a ValiError holding them all', () => {
      const error = optionError(() => parseOptions(DEMO, { store: 1, size: 0, sise: 1 }));
      expect(error.cause).to.be.instanceOf(ValiError);
      expect((error.cause as ValiError<typeof DEMO>).issues).to.have.length(3);
    });
  });

  describe('defaults', () => {
    it('undefined, or a name left out, means the default; an optional name without one stays undefined', () => {
      const left = parseOptions(DEMO, { store });
      expect(left).to.deep.equal({ store, size: 10, log });
      expect(left.size).to.equal(10);
      expect(left.log).to.equal(log);
      expect(left.limit).to.equal(undefined);
      expect('limit' in left).to.equal(false);
      const explicit = parseOptions(DEMO, { store, size: undefined, log: undefined, limit: undefined });
      expect(explicit.size).to.equal(10);
      expect(explicit.log).to.equal(log);
      expect(explicit.limit).to.equal(undefined);
      expect(parseOptions(DEMO, { store, cookie: {} }).cookie).to.deep.equal({ name: 'sid' });
    });

    it('a function default is handed over, never called', () => {
      let calls = 0;
      const counted = (): void => {
        calls += 1;
      };
      const schema = optionsSchema<{ onEvent?: (() => void) | undefined }>()(
        { onEvent: functionField<() => void>() },
        { onEvent: counted },
      );
      expect(parseOptions(schema, {}).onEvent).to.equal(counted);
      expect(calls).to.equal(0);
    });

    it('a given value wins over the default, and each parse returns a fresh object', () => {
      const a = parseOptions(DEMO, { store, size: 3 });
      const b = parseOptions(DEMO, { store });
      expect(a.size).to.equal(3);
      expect(b.size).to.equal(10);
      expect(a).not.to.equal(b);
      expect(DEMO_DEFAULTS.size).to.equal(10);
    });

    it('defaults objects are frozen, and the manager schema carries every documented option', () => {
      expect(Object.isFrozen(DEFAULTS)).to.equal(true);
      expect(Reflect.set(DEFAULTS, 'maxSessions', 1)).to.equal(false);
      expect(DEFAULTS.maxSessions).to.equal(100);
      expect(Object.keys(MANAGER_OPTIONS_SCHEMA.entries)).to.have.members([...MANAGER_OPTION_NAMES]);
      const parsed = parseOptions(MANAGER_OPTIONS_SCHEMA, { adapter: new TestAdapter() });
      for (const [name, value] of Object.entries(DEFAULTS)) {
        expect(parsed[name as keyof typeof parsed], name).to.equal(value);
      }
    });

    it('a wrong default is refused at parse time, as a given value would be', () => {
      const schema = optionsSchema<{ n?: number | undefined }>()({ n: positiveIntegerField }, { n: 0 });
      expect(optionError(() => parseOptions(schema, {})).message).to.equal('n must be a positive integer, got 0');
    });
  });

  describe('field schemas: boundaries and wrong types', () => {
    const table = (field: OptionField, cases: readonly (readonly [unknown, string])[]): void => {
      for (const [value, expected] of cases) expect(verdict(field, value), describeOptionValue(value)).to.equal(expected);
    };

    it('positiveIntegerField and integerField(min)', () => {
      table(positiveIntegerField, [
        [1, 'ok'],
        [Number.MAX_SAFE_INTEGER, 'ok'],
        [0, 'x must be a positive integer, got 0'],
        [-1, 'x must be a positive integer, got -1'],
        [1.5, 'x must be a positive integer, got 1.5'],
        [2 ** 53, 'x must be a positive integer, got 9007199254740992'],
        [Number.NaN, 'x must be a positive integer, got NaN'],
        [Infinity, 'x must be a positive integer, got Infinity'],
        ['1', 'x must be a positive integer, got "1"'],
        [1n, 'x must be a positive integer, got 1n'],
        [null, 'x must be a positive integer, got null'],
        [undefined, 'x must be a positive integer, got undefined'],
        [{}, 'x must be a positive integer, got an object'],
      ]);
      table(integerField(2), [
        [2, 'ok'],
        [1, 'x must be an integer of at least 2, got 1'],
      ]);
      table(integerField(0), [
        [0, 'ok'],
        [-1, 'x must be an integer of at least 0, got -1'],
      ]);
    });

    it('positiveNumberField', () => {
      table(positiveNumberField(), [
        [Number.MIN_VALUE, 'ok'],
        [0, 'x must be a positive, finite number, got 0'],
        [Infinity, 'x must be a positive, finite number, got Infinity'],
      ]);
    });

    it('positiveMsField: any positive finite length', () => {
      table(positiveMsField, [
        [0.001, 'ok'],
        [2 ** 40, 'ok'],
        [0, 'x must be a positive, finite number of ms, got 0'],
        [-0, 'x must be a positive, finite number of ms, got 0'],
        [Infinity, 'x must be a positive, finite number of ms, got Infinity'],
        [Number.NaN, 'x must be a positive, finite number of ms, got NaN'],
        ['5', 'x must be a positive, finite number of ms, got "5"'],
      ]);
    });

    it('timerMsField: 2^31 - 1 ms is the longest, 2^31 is refused with the reason', () => {
      table(timerMsField, [
        [2 ** 31 - 1, 'ok'],
        [0.5, 'ok'],
        [2 ** 31, "x must be at most 2147483647 ms (about 24.8 days, the longest delay Node's timers hold), got 2147483648"],
        [
          Number.MAX_SAFE_INTEGER,
          "x must be at most 2147483647 ms (about 24.8 days, the longest delay Node's timers hold), got 9007199254740991",
        ],
        [0, 'x must be a positive, finite number of ms, got 0'],
      ]);
    });

    it('ttlMsField: up to Number.MAX_SAFE_INTEGER', () => {
      table(ttlMsField, [
        [Number.MAX_SAFE_INTEGER, 'ok'],
        [Number.MAX_SAFE_INTEGER + 2, 'x must be at most 9007199254740991 ms (Number.MAX_SAFE_INTEGER), got 9007199254740992'],
      ]);
    });

    it('msField: integers, a minimum, a maximum', () => {
      const field = msField({ integer: true, min: 30, max: 1_000, limit: 'why' });
      table(field, [
        [30, 'ok'],
        [1_000, 'ok'],
        [29, 'x must be at least 30 ms, got 29'],
        [1_001, 'x must be at most 1000 ms (why), got 1001'],
        [30.5, 'x must be a positive integer of ms, got 30.5'],
        [0, 'x must be a positive integer of ms, got 0'],
      ]);
    });

    it('msOrOffField and timerMsOrOffField: the off value or a length, the message says both', () => {
      table(timerMsOrOffField, [
        [0, 'ok'],
        [2 ** 31 - 1, 'ok'],
        [-1, 'x must be a positive, finite number of ms or 0 (off), got -1'],
        [false, 'x must be a positive, finite number of ms or 0 (off), got false'],
        ['0', 'x must be a positive, finite number of ms or 0 (off), got "0"'],
        [2 ** 31, "x must be at most 2147483647 ms (about 24.8 days, the longest delay Node's timers hold) or 0 (off), got 2147483648"],
      ]);
      table(msOrOffField(false, { integer: true }), [
        [false, 'ok'],
        [5, 'ok'],
        [0, 'x must be a positive integer of ms or false (off), got 0'],
        [true, 'x must be a positive integer of ms or false (off), got true'],
      ]);
    });

    it('booleanField, stringField, patternField, anyStringField', () => {
      table(booleanField, [
        [true, 'ok'],
        [false, 'ok'],
        ['true', 'x must be a boolean, got "true"'],
        [0, 'x must be a boolean, got 0'],
      ]);
      table(anyStringField, [
        ['', 'ok'],
        [5, 'x must be a string, got 5'],
      ]);
      table(stringField({ maxLength: 3 }), [
        ['abc', 'ok'],
        ['abcd', 'x must be a string of at most 3 characters, got "abcd"'],
      ]);
      table(stringField({ nonEmpty: true }), [
        ['a', 'ok'],
        ['', 'x must be a non-empty string, got ""'],
      ]);
      table(patternField(/^\d+$/, 'digits'), [
        ['12', 'ok'],
        ['1a', 'x must be digits, got "1a"'],
        [12, 'x must be digits, got 12'],
      ]);
      const long = 'y'.repeat(81);
      expect(verdict(anyStringField, Symbol('s'))).to.equal('x must be a string, got Symbol(s)');
      expect(verdict(stringField({ maxLength: 3 }), long)).to.equal(
        'x must be a string of at most 3 characters, got a string of 81 characters',
      );
    });

    it('functionField, oneOfField, customField, notInThisForm, optionalField', () => {
      table(functionField('a clock'), [
        [() => 1, 'ok'],
        [5, 'x must be a clock, got 5'],
        [{}, 'x must be a clock, got an object'],
      ]);
      table(oneOfField(['lax', 'strict', false]), [
        ['lax', 'ok'],
        [false, 'ok'],
        ['Lax', 'x must be one of "lax", "strict", false, got "Lax"'],
        [true, 'x must be one of "lax", "strict", false, got true'],
      ]);
      table(
        customField(
          (value) => value === 7,
          (value) => `must be seven, not ${String(value)}`,
        ),
        [
          [7, 'ok'],
          [8, 'x must be seven, not 8'],
        ],
      );
      table(notInThisForm('applies to { url } only'), [
        [undefined, 'ok'],
        [5, 'x applies to { url } only'],
      ]);
      table(optionalField(positiveIntegerField), [
        [undefined, 'ok'],
        [1, 'ok'],
        [null, 'x must be a positive integer, got null'],
      ]);
    });

    it('listField: one item or an array, as a fresh array', () => {
      const field = listField(functionField<() => void>());
      const one = (): void => {};
      const given = [one, one];
      const parsed = parseOptions(field, given, { name: 'hooks' });
      expect(parsed).to.deep.equal([one, one]);
      expect(parsed).not.to.equal(given);
      expect(parseOptions(field, one, { name: 'hooks' })).to.deep.equal([one]);
      expect(verdict(field, [one, 3], { name: 'hooks' })).to.equal('hooks[1] must be a function, got 3');
    });
  });

  describe('core options through it', () => {
    it('setOption and the constructor give the same message for the same value', () => {
      const manager = new SessionManager({ adapter: new TestAdapter() });
      const fromConstructor = optionError(() => new SessionManager({ adapter: new TestAdapter(), hookTimeout: 2 ** 31 })).message;
      const fromSetOption = optionError(() => manager.setOption('hookTimeout', 2 ** 31)).message;
      expect(fromSetOption).to.equal(fromConstructor);
      expect(optionError(() => manager.setOption('idleTimout' as never, 1 as never)).message).to.equal(
        'setOption: unknown option "idleTimout" (did you mean "idleTimeout"?)',
      );
      expect(optionError(() => manager.setOption('adapter' as never, 1 as never)).message).to.equal('setOption: unknown option "adapter"');
      expect(optionError(() => manager.onClose(5 as never)).message).to.equal('onClose[0] must be a function, got 5');
    });

    it('coordination options: a bad coordinator names the missing methods; leaseMs is bounded', () => {
      expect(optionError(() => new SessionManager({ adapter: new TestAdapter(), coordinator: { join() {} } as never })).message).to.equal(
        'coordinator must implement SessionCoordinator; missing: claim, renew, release, owner, requestHandover, leave',
      );
      expect(optionError(() => new SessionManager({ adapter: new TestAdapter(), leaseMs: 29 })).message).to.equal(
        'leaseMs must be at least 30 ms, got 29',
      );
      expect(optionError(() => new SessionManager({ adapter: new TestAdapter(), leaseMs: 100 })).message).to.equal(
        'leaseMs needs a coordinator (several instances); without one, leave it out',
      );
    });
  });
});

/**
 * Compile-time checks (run by `tsc -p tsconfig.test.json`, never called): a schema whose fields drift
 * from the documented interface does not compile.
 */
export function driftIsACompileError(): void {
  interface Documented {
    a?: number | undefined;
    b?: number | false | undefined;
  }
  // @ts-expect-error a documented option (b) is missing from the schema
  optionsSchema<Documented>()({ a: positiveIntegerField }, {});
  // @ts-expect-error an option the interface does not document (c)
  optionsSchema<Documented>()({ a: positiveIntegerField, b: msOrOffField(false), c: positiveIntegerField }, {});
  // @ts-expect-error b's field refuses false, which the interface allows
  optionsSchema<Documented>()({ a: positiveIntegerField, b: positiveMsField }, {});
  // @ts-expect-error a is optional in the interface, but required in the schema (no default, not optional)
  optionsSchema<Documented>()({ a: positiveIntegerField, b: optionalField(msOrOffField(false)) }, {});
  // @ts-expect-error a default of the wrong type
  optionsSchema<Documented>()({ a: positiveIntegerField, b: optionalField(msOrOffField(false)) }, { a: 'x' });
  optionsSchema<Documented>()({ a: positiveIntegerField, b: optionalField(msOrOffField(false)) }, { a: 1 });
  const _every: Required<Record<keyof SessionManagerOptions, unknown>> = MANAGER_OPTIONS_SCHEMA.entries;
  void _every;
}
