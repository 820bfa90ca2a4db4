import { expect } from 'chai';
import { COOKIE_DEFAULTS } from '../src/cookie-options.js';
import { sessionCookieView, settleSessionCall, type CookieLifetime } from '../src/session-cookie-view.js';

describe('binding kit: session.cookie and connect-style callbacks', () => {
  it('session.cookie reads and sets the lifetime (null is a browser-session cookie); the other fields are read-only', () => {
    const lifetime: CookieLifetime = { maxAge: 60_000, cookieExpiry: 1_000_000 };
    const cookie = sessionCookieView(lifetime, COOKIE_DEFAULTS, 'req.session', 'middleware');
    expect(cookie.maxAge).to.equal(60_000);
    expect(cookie.originalMaxAge).to.equal(COOKIE_DEFAULTS.maxAge);
    expect(cookie.expires?.getTime()).to.equal(1_000_000);
    expect({ ...cookie }).to.include({ path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' });
    cookie.maxAge = null;
    expect(lifetime.maxAge).to.equal('session');
    cookie.maxAge = 5_000;
    expect(lifetime.maxAge).to.equal(5_000);
    expect(() => Object.assign(cookie, { path: '/x' })).to.throw(
      TypeError,
      /req\.session\.cookie\.path is the middleware's cookie\.path option/,
    );
    expect(() => Object.assign(cookie, { expires: new Date() })).to.throw(TypeError, /set req\.session\.cookie\.maxAge \(ms\) instead/);
  });

  it('answers a callback on a later tick (with the error), or returns a promise of the same outcome', async () => {
    const order: string[] = [];
    settleSessionCall(
      () => order.push('action'),
      () => order.push('callback'),
    );
    order.push('after');
    await new Promise((resolve) => process.nextTick(resolve));
    expect(order).to.deep.equal(['action', 'after', 'callback']);
    const failure = new Error('boom');
    const errors: unknown[] = [];
    expect(
      settleSessionCall(
        () => {
          throw failure;
        },
        (error) => errors.push(error),
      ),
    ).to.equal(undefined);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(errors).to.deep.equal([failure]);
    await settleSessionCall(() => undefined, undefined);
    let rejected: unknown;
    await settleSessionCall(() => {
      throw failure;
    }, undefined)?.catch((error: unknown) => {
      rejected = error;
    });
    expect(rejected).to.equal(failure);
  });
});
