import { expect } from 'chai';
import { OptionError, SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { session, type SessionOptions } from '../src/index.js';
import { normalizeOptions } from '../src/options.js';

function refusal(options: unknown): OptionError {
  try {
    session(options as SessionOptions)
      .manager.shutdown()
      .catch(() => undefined);
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    return error as OptionError;
  }
  throw new Error('the options were accepted');
}

describe('options', () => {
  it('an unknown name is refused with a hint, among own, cookie and manager names', () => {
    expect(refusal({ secert: 'x' }).message).to.include('did you mean "secret"');
    expect(refusal({ idleTimout: 1000 }).message).to.include('did you mean "idleTimeout"');
    expect(refusal({ cookie: { maxage: 1000 } }).message).to.include('did you mean "cookie.maxAge"');
  });

  it('wrong values are refused', () => {
    expect(refusal({ cookie: { sameSite: 'sometimes' } }).message).to.include('cookie.sameSite');
    expect(refusal({ cookie: { maxAge: -1 } }).message).to.include('cookie.maxAge');
    expect(refusal({ secret: [] }).message).to.include('secret');
    expect(refusal({ secret: 42 }).message).to.include('secret');
    expect(refusal({ maxSessions: 0 }).message).to.include('maxSessions');
    expect(refusal({ name: 'a b' }).message).to.include('name');
    expect(refusal({ name: 'x', cookie: { name: 'y' } }).message).to.include('not both');
  });

  it('messages name the option and its path, in the wording every Reprise package uses', () => {
    expect(refusal({ cookie: { maxAge: 0 } }).message).to.equal(
      "@reprise/express: cookie.maxAge must be a positive number of ms, 'session' or null, got 0",
    );
    expect(refusal({ cookie: { samesite: 'lax' } }).message).to.equal(
      '@reprise/express: unknown option "cookie.samesite" (did you mean "cookie.sameSite"?)',
    );
    expect(refusal({ cookie: 'sid' }).message).to.equal('@reprise/express: cookie must be an object, got "sid"');
    expect(refusal({ maxSessions: 0 }).message).to.equal('@reprise/express: maxSessions must be a positive integer, got 0');
    expect(refusal({ adapter: {} }).message).to.match(/^@reprise\/express: adapter must implement SessionAdapter/);
    expect(refusal({ manager: {} }).message).to.equal('@reprise/express: manager must be a SessionManager');
    expect(refusal({ rolling: 'yes' }).message).to.equal('@reprise/express: rolling must be a boolean, got "yes"');
    expect(refusal(42).message).to.equal('@reprise/express: options must be an object, got 42');
  });

  it('name is cookie.name; cookie.maxAge null is a browser-session cookie', async () => {
    const middleware = session({ name: 'shop.sid', cookie: { maxAge: null } });
    expect(normalizeOptions({ manager: middleware.manager, name: 'shop.sid', cookie: { maxAge: null } }).cookie).to.include({
      name: 'shop.sid',
      maxAge: 'session',
      path: '/',
    });
    await middleware.manager.shutdown();
  });

  const migrations: Array<[string, Record<string, unknown>, string]> = [
    ['store', { store: {} }, 'adapter'],
    ['genid', { genid: () => 'x' }, 'persistKey'],
    ['proxy', { proxy: true }, 'trust proxy'],
    ['resave: true', { resave: true }, 'checkpointInterval'],
    ['saveUninitialized: true', { saveUninitialized: true }, 'req.liveSession'],
    ["unset: 'keep'", { unset: 'keep' }, 'req.session = null'],
    ['cookie.expires', { cookie: { expires: new Date() } }, 'cookie.maxAge'],
    ['cookie.signed', { cookie: { signed: true } }, 'secret'],
  ];
  for (const [what, options, equivalent] of migrations) {
    it(`express-session's ${what} is refused, naming ${equivalent}`, () => {
      expect(refusal(options).message).to.include(equivalent);
    });
  }

  it("express-session's same-meaning values are accepted: resave: false, saveUninitialized: false, unset: 'destroy', rolling, cookie.maxAge: null", async () => {
    const middleware = session({
      secret: 's',
      resave: false,
      saveUninitialized: false,
      unset: 'destroy',
      rolling: false,
      cookie: { maxAge: null },
    });
    expect(middleware.manager).to.be.instanceOf(SessionManager);
    await middleware.manager.shutdown();
  });

  it('session({ manager }) uses that manager and refuses manager options beside it', async () => {
    const manager = new SessionManager({ adapter: new MemoryAdapter() });
    expect(session({ manager, secret: 's' }).manager).to.equal(manager);
    expect(refusal({ manager, maxSessions: 3 }).message).to.include('maxSessions');
    await manager.shutdown();
  });
});
