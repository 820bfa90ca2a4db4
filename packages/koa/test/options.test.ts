import { expect } from 'chai';
import { OptionError, SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { session, type SessionOptions } from '../src/index.js';
import { assertKnownSessionOptions, normalizeCookie, type CookieOptions } from '../src/options.js';

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

/** `session()` with loosely typed options, to pass typos and wrong values. */
function sessionWith(options: Record<string, unknown>) {
  return session(options as SessionOptions);
}

describe('session() options', () => {
  describe('unknown names', () => {
    it('accepts every manager option, its own options and every cookie option', () => {
      const middleware = sessionWith({
        adapter: new MemoryAdapter(),
        maxSessions: 10,
        idleTimeout: 60_000,
        absoluteTimeout: 3_600_000,
        snapshotTtl: 86_400_000,
        hookTimeout: 1_000,
        maxSnapshotBytes: 4_096,
        maxPendingPersists: 100,
        shutdownTimeout: 2_000,
        adapterTimeout: 500,
        retryAfter: 9,
        onClose: () => undefined,
        onRestore: () => undefined,
        now: () => Date.now(),
        ipBinding: false,
        cookie: { name: 'sid', maxAge: 60_000, httpOnly: true, sameSite: 'strict', secure: 'auto', domain: 'example.com', path: '/' },
      });
      expect(middleware.manager.getOption('adapterTimeout')).to.equal(500);
      expect(middleware.manager.getOption('retryAfter')).to.equal(9);
    });

    it('refuses an unknown manager option, suggesting the close one', () => {
      expect(optionError(() => sessionWith({ idleTimout: 60_000 })).message).to.equal(
        'unknown option "idleTimout" (did you mean "idleTimeout"?)',
      );
      expect(optionError(() => sessionWith({ retryafter: 5 })).message).to.equal(
        'unknown option "retryafter" (did you mean "retryAfter"?)',
      );
    });

    it("refuses a typo of session()'s own options, suggesting them", () => {
      expect(optionError(() => sessionWith({ cookies: { name: 'sid' } })).message).to.equal(
        'unknown option "cookies" (did you mean "cookie"?)',
      );
      expect(optionError(() => sessionWith({ ipbinding: true })).message).to.equal(
        'unknown option "ipbinding" (did you mean "ipBinding"?)',
      );
      const manager = new SessionManager({ adapter: new MemoryAdapter() });
      expect(optionError(() => sessionWith({ manger: manager })).message).to.equal('unknown option "manger" (did you mean "manager"?)');
    });

    it('names an unknown option without a suggestion when none is close', () => {
      expect(optionError(() => sessionWith({ resave: false })).message).to.equal('unknown option "resave"');
      expect(optionError(() => sessionWith({ saveUninitialized: true })).message).to.equal('unknown option "saveUninitialized"');
    });

    it("suggests koa-session's names too, and words wrong values like every Reprise package", () => {
      expect(optionError(() => sessionWith({ renw: true })).message).to.equal('unknown option "renw" (did you mean "renew"?)');
      expect(optionError(() => sessionWith({ maxSessions: 0 })).message).to.equal('maxSessions must be a positive integer, got 0');
      expect(optionError(() => sessionWith({ ipBinding: 1 })).message).to.equal('ipBinding must be a boolean, got 1');
      expect(optionError(() => sessionWith({ manager: {} })).message).to.equal('manager must be a SessionManager');
      expect(optionError(() => sessionWith({ cookie: { path: 'shop' } })).message).to.equal(
        `cookie.path must be a string starting with '/', got "shop"`,
      );
    });

    it('refuses an unknown name even with an undefined value', () => {
      expect(optionError(() => sessionWith({ maxSesions: undefined })).message).to.equal(
        'unknown option "maxSesions" (did you mean "maxSessions"?)',
      );
    });

    it('with a ready manager, a typo is reported as unknown, not as a manager option', () => {
      const manager = new SessionManager({ adapter: new MemoryAdapter() });
      expect(optionError(() => sessionWith({ manager, idleTimout: 1_000 })).message).to.equal(
        'unknown option "idleTimout" (did you mean "idleTimeout"?)',
      );
      expect(optionError(() => sessionWith({ manager, idleTimeout: 1_000 })).message).to.match(
        /cannot take manager options \(idleTimeout\)/,
      );
    });

    it('refuses an unknown cookie option, naming it cookie.<name> and suggesting the close one', () => {
      expect(optionError(() => sessionWith({ cookie: { maxage: 60_000 } })).message).to.equal(
        'unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)',
      );
      expect(optionError(() => sessionWith({ cookie: { samesite: 'lax' } })).message).to.equal(
        'unknown option "cookie.samesite" (did you mean "cookie.sameSite"?)',
      );
      expect(optionError(() => sessionWith({ cookie: { expires: new Date() } })).message).to.equal('unknown option "cookie.expires"');
      const manager = new SessionManager({ adapter: new MemoryAdapter() });
      expect(optionError(() => sessionWith({ manager, cookie: { httponly: true } })).message).to.equal(
        'unknown option "cookie.httponly" (did you mean "cookie.httpOnly"?)',
      );
    });

    it('assertKnownSessionOptions checks the top level and the cookie object', () => {
      expect(() => assertKnownSessionOptions({ cookie: { path: '/' }, ipBinding: true, maxSessions: 3 })).not.to.throw();
      expect(optionError(() => assertKnownSessionOptions({ cookie: { pth: '/' } })).message).to.equal(
        'unknown option "cookie.pth" (did you mean "cookie.path"?)',
      );
      expect(optionError(() => assertKnownSessionOptions({ cokie: {} })).message).to.equal(
        'unknown option "cokie" (did you mean "cookie"?)',
      );
    });

    it('normalizeCookie refuses unknown names and a cookie option that is not an object', () => {
      expect(optionError(() => normalizeCookie({ domian: 'example.com' } as CookieOptions)).message).to.equal(
        'unknown option "cookie.domian" (did you mean "cookie.domain"?)',
      );
      expect(optionError(() => normalizeCookie('sid' as unknown as CookieOptions)).message).to.equal('cookie must be an object, got "sid"');
      expect(normalizeCookie({ name: 'sid', maxAge: undefined })).to.include({ name: 'sid', maxAge: 7 * 24 * 3_600_000 });
    });
  });

  describe('durations and the new manager options', () => {
    it('passes adapterTimeout and retryAfter to the manager, with their defaults (5000 ms, 5 s)', () => {
      const middleware = session();
      expect(middleware.manager.getOption('adapterTimeout')).to.equal(5_000);
      expect(middleware.manager.getOption('retryAfter')).to.equal(5);
    });

    for (const name of ['hookTimeout', 'shutdownTimeout', 'adapterTimeout'] as const) {
      it(`refuses ${name} of 2^31 ms and accepts 2^31 - 1`, () => {
        expect(optionError(() => sessionWith({ [name]: 2 ** 31 })).message).to.equal(
          `${name} must be at most 2147483647 ms (about 24.8 days, the longest delay Node's timers hold), got 2147483648`,
        );
        expect(sessionWith({ [name]: 2 ** 31 - 1 }).manager.getOption(name)).to.equal(2 ** 31 - 1);
      });
    }

    it('cookie.maxAge must be positive and finite', () => {
      for (const maxAge of [0, -1, NaN, Infinity]) {
        expect(optionError(() => sessionWith({ cookie: { maxAge } })).message).to.match(
          /^cookie\.maxAge must be a positive number of ms or 'session'/,
        );
      }
    });
  });
});
