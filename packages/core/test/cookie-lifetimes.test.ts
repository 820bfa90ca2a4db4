import { expect } from 'chai';
import { CookieLifetimes } from '../src/cookie-lifetimes.js';

describe('binding kit: CookieLifetimes', () => {
  const DAY = 86_400_000;

  it('a session has the default lifetime until it gets its own; a browser-session cookie has no expiry', () => {
    const lifetimes = new CookieLifetimes<object>(7 * DAY);
    const a = {};
    expect(lifetimes.maxAgeOf(undefined)).to.equal(7 * DAY);
    expect(lifetimes.maxAgeOf(a)).to.equal(7 * DAY);
    lifetimes.setMaxAge(a, 'session');
    expect(lifetimes.maxAgeOf(a)).to.equal('session');
    expect(lifetimes.expiryOf(a, false, 1_000)).to.equal(undefined);
    expect(lifetimes.issue(a, false, 1_000)).to.equal('session');
    expect(lifetimes.issue(a, false, 10 * DAY)).to.equal(undefined);
  });

  it('issues a new cookie once, then again when changed or when its expiry moved by a tenth of its lifetime (rolling)', () => {
    const lifetimes = new CookieLifetimes<object>(10_000);
    const a = {};
    expect(lifetimes.expiryOf(a, false, 0)).to.equal(10_000);
    expect(lifetimes.issue(a, false, 0)).to.equal(10_000);
    expect(lifetimes.expiryOf(a, false, 500)).to.equal(10_000);
    expect(lifetimes.expiryOf(a, true, 500)).to.equal(10_500);
    expect(lifetimes.issue(a, false, 999)).to.equal(undefined);
    expect(lifetimes.issue(a, false, 1_000)).to.equal(10_000);
    expect(lifetimes.expiryOf(a, false, 1_500)).to.equal(11_000);
    expect(lifetimes.issue(a, true, 1_001)).to.equal(10_000);
  });

  it('not rolling: the first expiry stays until the cookie changes', () => {
    const lifetimes = new CookieLifetimes<object>(10_000, false);
    const a = {};
    expect(lifetimes.issue(a, false, 0)).to.equal(10_000);
    expect(lifetimes.issue(a, false, 9_000)).to.equal(undefined);
    expect(lifetimes.expiryOf(a, false, 9_000)).to.equal(10_000);
    expect(lifetimes.issue(a, true, 9_000)).to.equal(10_000);
    expect(lifetimes.expiryOf(a, false, 9_500)).to.equal(19_000);
  });

  it("keeps a binding's token per session next to its lifetime, independent of it", () => {
    const lifetimes = new CookieLifetimes<object, string>(10_000);
    const a = {};
    const b = {};
    expect(lifetimes.tokenOf(a)).to.equal(undefined);
    lifetimes.setToken(a, 'sig-a');
    expect(lifetimes.tokenOf(a)).to.equal('sig-a');
    expect(lifetimes.tokenOf(b)).to.equal(undefined);
    // The token leaves the lifetime alone: never issued, the default lifetime, issued at the first response.
    expect(lifetimes.maxAgeOf(a)).to.equal(10_000);
    expect(lifetimes.issue(a, false, 1_000)).to.equal(10_000);
    lifetimes.setMaxAge(a, 'session');
    expect(lifetimes.tokenOf(a)).to.equal('sig-a');
    lifetimes.setToken(a, undefined);
    expect(lifetimes.tokenOf(a)).to.equal(undefined);
    expect(lifetimes.maxAgeOf(a)).to.equal('session');
  });
});
