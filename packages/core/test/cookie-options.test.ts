import { expect } from 'chai';
import { COOKIE_DEFAULTS, COOKIE_OPTIONS_SCHEMA, parseCookieOptions } from '../src/cookie-options.js';
import { OptionError } from '../src/errors.js';
import { parseOptions } from '../src/option-schema.js';

/** The message of the OptionError `action` throws (failing when it throws nothing or something else). */
function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    expect((error as OptionError).code).to.equal('ERR_REPRISE_OPTION');
    return (error as OptionError).message;
  }
  expect.fail('expected an OptionError');
}

describe('session cookie options (parseCookieOptions)', () => {
  it('gives the frozen defaults for undefined, {} and names left undefined', () => {
    const expected = {
      name: 'reprise.sid',
      maxAge: 604_800_000,
      httpOnly: true,
      sameSite: 'lax',
      secure: 'auto',
      domain: undefined,
      path: '/',
    };
    expect(COOKIE_DEFAULTS).to.deep.equal(expected);
    expect(Object.isFrozen(COOKIE_DEFAULTS)).to.equal(true);
    for (const input of [undefined, {}, { name: undefined, maxAge: undefined, domain: undefined }]) {
      const settings = parseCookieOptions(input);
      expect(settings).to.deep.equal(expected);
      expect(Object.isFrozen(settings)).to.equal(true);
    }
  });

  it('keeps every value it accepts', () => {
    const given = {
      name: 'sid',
      maxAge: 'session',
      httpOnly: false,
      sameSite: false,
      secure: true,
      domain: 'example.com',
      path: '/shop',
    } as const;
    expect(parseCookieOptions(given)).to.deep.equal(given);
    for (const sameSite of ['lax', 'strict', 'none', false] as const) expect(parseCookieOptions({ sameSite }).sameSite).to.equal(sameSite);
    for (const secure of [true, false, 'auto'] as const) expect(parseCookieOptions({ secure }).secure).to.equal(secure);
  });

  it('maxAge: any positive, finite number of ms or "session"; 0, negatives, NaN, Infinity and other strings are refused', () => {
    expect(parseCookieOptions({ maxAge: Number.MIN_VALUE }).maxAge).to.equal(Number.MIN_VALUE);
    expect(parseCookieOptions({ maxAge: 1 }).maxAge).to.equal(1);
    expect(parseCookieOptions({ maxAge: Number.MAX_VALUE }).maxAge).to.equal(Number.MAX_VALUE);
    for (const [maxAge, shown] of [
      [0, '0'],
      [-1, '-1'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      ['7d', '"7d"'],
      [null, 'null'],
    ] as const) {
      expect(refusal(() => parseCookieOptions({ maxAge }))).to.equal(
        `cookie.maxAge must be a positive number of ms or 'session', got ${shown}`,
      );
    }
  });

  it('name must be a cookie token', () => {
    expect(parseCookieOptions({ name: "a!#$%&'*+-.^_`|~9" }).name).to.equal("a!#$%&'*+-.^_`|~9");
    for (const name of ['', 'a b', 'a;b', 'a=b', 'é', 'a,b']) {
      expect(refusal(() => parseCookieOptions({ name }))).to.equal(
        `cookie.name must be a cookie token (letters, digits and !#$%&'*+-.^_\`|~), got ${JSON.stringify(name)}`,
      );
    }
  });

  it('names each wrong value cookie.<name>', () => {
    expect(refusal(() => parseCookieOptions({ httpOnly: 'yes' }))).to.equal('cookie.httpOnly must be a boolean, got "yes"');
    expect(refusal(() => parseCookieOptions({ sameSite: 'Lax' }))).to.equal(
      'cookie.sameSite must be one of "lax", "strict", "none", false, got "Lax"',
    );
    expect(refusal(() => parseCookieOptions({ sameSite: true }))).to.match(/^cookie\.sameSite must be one of/);
    expect(refusal(() => parseCookieOptions({ secure: 'always' }))).to.equal(
      'cookie.secure must be one of true, false, "auto", got "always"',
    );
    expect(refusal(() => parseCookieOptions({ domain: '' }))).to.equal('cookie.domain must be a non-empty string, got ""');
    expect(refusal(() => parseCookieOptions({ domain: () => 'x' }))).to.equal('cookie.domain must be a non-empty string, got a function');
    expect(refusal(() => parseCookieOptions({ path: 'shop' }))).to.equal(`cookie.path must be a string starting with '/', got "shop"`);
  });

  it('refuses unknown names with a "did you mean" hint on the cookie.<name> path, before wrong values', () => {
    expect(refusal(() => parseCookieOptions({ maxage: 1 }))).to.equal('unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)');
    expect(refusal(() => parseCookieOptions({ path: 'bad', samesite: 'lax' }))).to.equal(
      'unknown option "cookie.samesite" (did you mean "cookie.sameSite"?)',
    );
    expect(refusal(() => parseCookieOptions({ expires: new Date() }))).to.equal('unknown option "cookie.expires"');
  });

  it('refuses a cookie option that is not an object, and prefixes every message with `what`', () => {
    expect(refusal(() => parseCookieOptions('sid'))).to.equal('cookie must be an object, got "sid"');
    expect(refusal(() => parseCookieOptions(null))).to.equal('cookie must be an object, got null');
    expect(refusal(() => parseCookieOptions([]))).to.equal('cookie must be an object, got an array');
    expect(refusal(() => parseCookieOptions([], { what: '@reprise/x' }))).to.equal('@reprise/x: cookie must be an object, got an array');
    expect(refusal(() => parseCookieOptions({ pth: '/' }, { what: '@reprise/x' }))).to.equal(
      '@reprise/x: unknown option "cookie.pth" (did you mean "cookie.path"?)',
    );
  });

  it('COOKIE_OPTIONS_SCHEMA nests as a binding option: its paths and hints follow the nesting', () => {
    expect(refusal(() => parseOptions(COOKIE_OPTIONS_SCHEMA, { httponly: true }))).to.equal(
      'unknown option "httponly" (did you mean "httpOnly"?)',
    );
    expect(parseOptions(COOKIE_OPTIONS_SCHEMA, {})).to.deep.equal(COOKIE_DEFAULTS);
  });
});
