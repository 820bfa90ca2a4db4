import type FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { OptionError, SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { session, type SessionOptions } from '../src/index.js';
import { DAY, MINUTE, T0, expiresAt, fakeDate } from './support/clock.js';
import { buildApp, cookieIn, setCookies, sign } from './support/app.js';

/** The OptionError `action` throws (failing when it throws nothing or something else). */
function optionError(action: () => unknown): OptionError {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    return error as OptionError;
  }
  expect.fail('expected an OptionError');
}

/** `session()` with loosely typed options, as a JavaScript application passes them. */
function sessionWith(options: Record<string, unknown>) {
  return session(options as SessionOptions);
}

/** A Koa app with `middleware` and a counter that writes the session. */
function counterApp(middleware: Koa.Middleware, keys?: string[]): Koa {
  const app = new Koa();
  app.silent = true;
  if (keys !== undefined) app.keys = keys;
  app.use(middleware);
  app.use((ctx) => {
    ctx.session.views = (Number(ctx.session.views) || 0) + 1;
    ctx.body = { views: ctx.session.views, id: ctx.liveSession.id };
  });
  return app;
}

describe("session() with koa-session's options", () => {
  let clock: FakeTimers.Clock | undefined;
  afterEach(() => {
    clock?.uninstall();
    clock = undefined;
  });

  describe('the call forms session(options, app) and session(app, options)', () => {
    it("koa-session's README configuration, with the app, runs unchanged (rolling: true)", async () => {
      clock = fakeDate();
      const app = new Koa();
      app.keys = ['some secret hurr'];
      const CONFIG = {
        key: 'koa.sess',
        maxAge: 86_400_000,
        autoCommit: true,
        overwrite: true,
        httpOnly: true,
        signed: true,
        rolling: true,
        renew: false,
        secure: true,
        sameSite: null,
      };
      app.use(session(CONFIG, app));
      app.use((ctx) => {
        ctx.session.views = (Number(ctx.session.views) || 0) + 1;
        ctx.body = `${String(ctx.session.views)} views`;
      });
      const res = await request(app.callback()).get('/').expect(200, '1 views');
      const cookie = cookieIn(res, 'koa.sess')!;
      expect(cookie.attributes).to.deep.equal({ path: '/', expires: new Date(T0 + DAY).toUTCString(), secure: true, httponly: true });
      expect(cookieIn(res, 'koa.sess.sig')!.value).to.equal(sign('koa.sess', cookie.value, 'some secret hurr'));
      await request(app.callback())
        .get('/')
        .set('Cookie', `koa.sess=${cookie.value}; koa.sess.sig=${cookieIn(res, 'koa.sess.sig')!.value}`)
        .expect(200, '2 views');
    });

    it('session(app), session(app, options) and session(options, app) all work; the app is only checked', async () => {
      for (const make of [
        (app: Koa) => session(app),
        (app: Koa) => session(app, { key: 'sid' }),
        (app: Koa) => session({ key: 'sid' }, app),
      ]) {
        const app = new Koa();
        const res = await request(counterApp(make(app)).callback())
          .get('/')
          .expect(200);
        expect(setCookies(res)).to.have.length(1);
      }
    });

    it('a second argument that is not an app is an OptionError', () => {
      expect(optionError(() => session({}, { key: 'sid' } as unknown as Koa)).message).to.match(/second argument must be the Koa app/);
      expect(optionError(() => session(new Koa(), new Koa() as never)).message).to.equal('session() options must be an object');
    });
  });

  describe('cookie options, the same as cookie.*', () => {
    it('key, maxAge, httpOnly, sameSite, domain and path set the cookie', async () => {
      clock = fakeDate();
      const middleware = sessionWith({
        key: 'app.sess',
        maxAge: 5 * MINUTE,
        httpOnly: false,
        sameSite: 'Strict',
        domain: 'example.com',
        path: '/shop',
      });
      const res = await request(counterApp(middleware).callback()).get('/shop').expect(200);
      expect(cookieIn(res, 'app.sess')!.attributes).to.deep.equal({
        path: '/shop',
        expires: new Date(T0 + 5 * MINUTE).toUTCString(),
        domain: 'example.com',
        samesite: 'strict',
      });
    });

    it("maxAge: 'session' is a browser-session cookie; sameSite null sets none, true is strict", async () => {
      const plain = await request(counterApp(sessionWith({ maxAge: 'session', sameSite: null })).callback())
        .get('/')
        .expect(200);
      expect(cookieIn(plain)!.attributes).to.deep.equal({ path: '/', httponly: true });
      const strict = await request(counterApp(sessionWith({ sameSite: true })).callback())
        .get('/')
        .expect(200);
      expect(cookieIn(strict)!.attributes.samesite).to.equal('strict');
    });

    it('secure: false never sends Secure, even over HTTPS behind a proxy', async () => {
      const app = counterApp(sessionWith({ secure: false }));
      app.proxy = true;
      const res = await request(app.callback()).get('/').set('X-Forwarded-Proto', 'https').expect(200);
      expect(cookieIn(res)!.attributes.secure).to.equal(undefined);
    });

    it('apply with a ready manager too', async () => {
      const manager = new SessionManager({ adapter: new MemoryAdapter() });
      const res = await request(counterApp(sessionWith({ manager, key: 'shared.sid' })).callback())
        .get('/')
        .expect(200);
      expect(cookieIn(res, 'shared.sid')).to.not.equal(undefined);
    });

    it('an alias and its cookie.* name together are an OptionError', () => {
      expect(optionError(() => sessionWith({ key: 'a', cookie: { name: 'b' } })).message).to.equal(
        'session() options "key" (koa-session\'s name) and "cookie.name" are the same setting: give it once',
      );
      expect(optionError(() => sessionWith({ maxAge: 1_000, cookie: { maxAge: 2_000 } })).message).to.match(/"maxAge".*"cookie.maxAge"/);
    });

    it("invalid values are refused by cookie.*'s checks", () => {
      expect(optionError(() => sessionWith({ sameSite: 'sometimes' })).message).to.match(/cookie\.sameSite/);
      expect(optionError(() => sessionWith({ key: 'koa:sess' })).message).to.match(/cookie\.name must be a cookie token/);
      expect(optionError(() => sessionWith({ maxAge: -1 })).message).to.match(/cookie\.maxAge/);
      expect(optionError(() => sessionWith({ domain: () => 'example.com' })).message).to.match(/cookie\.domain must be a non-empty string/);
    });

    it('a typo is suggested among them', () => {
      expect(optionError(() => sessionWith({ maxage: 1_000 })).message).to.equal('unknown option "maxage" (did you mean "maxAge"?)');
    });
  });

  describe('autoCommit, overwrite, signed: true is what Reprise does; false is refused', () => {
    it('true is accepted', () => {
      expect(() => sessionWith({ autoCommit: true, overwrite: true, signed: true })).to.not.throw();
    });

    for (const [name, hint] of [
      ['autoCommit', /when session\(\) finishes, always/],
      ['overwrite', /always overwrites/],
      ['signed', /whenever app\.keys is set/],
    ] as const) {
      it(`${name}: false is an OptionError saying what Reprise does`, () => {
        const error = optionError(() => sessionWith({ [name]: false }));
        expect(error.message).to.include(`"${name}" cannot be false`).and.to.match(hint);
        expect(optionError(() => sessionWith({ [name]: 'yes' })).message).to.include('a boolean is expected');
      });
    }

    it('signed: true on an app without app.keys fails every request, naming app.keys, as koa-session does', async () => {
      const app = counterApp(sessionWith({ signed: true }));
      const errors: Error[] = [];
      app.on('error', (error: Error) => errors.push(error));
      const res = await request(app.callback()).get('/').expect(500);
      expect(setCookies(res)).to.deep.equal([]);
      expect(errors[0]).to.be.instanceOf(OptionError);
      expect(errors[0]!.message).to.include('app.keys');
    });

    it('signed: true with app.keys signs the cookie', async () => {
      const res = await request(counterApp(sessionWith({ signed: true }), ['k1']).callback())
        .get('/')
        .expect(200);
      expect(cookieIn(res, 'reprise.sid.sig')).to.not.equal(undefined);
    });
  });

  describe('rolling and renew: the cookie slides with activity', () => {
    for (const options of [{ rolling: true }, { renew: true }, { rolling: true, renew: false }, { rolling: false, renew: true }]) {
      it(`${JSON.stringify(options)} is accepted, and the cookie slides`, async () => {
        clock = fakeDate();
        const t = buildApp({ session: { ...options, maxAge: 100 * MINUTE } as SessionOptions });
        const browser = t.browser();
        await browser.get('/inc');
        clock.tick(60 * MINUTE);
        const later = await browser.get('/read');
        expect(expiresAt(cookieIn(later))).to.equal(T0 + 160 * MINUTE);
      });
    }

    for (const options of [{ rolling: false }, { renew: false }, { rolling: false, renew: false }]) {
      it(`${JSON.stringify(options)} (a cookie that does not slide) is an OptionError naming absoluteTimeout`, () => {
        const error = optionError(() => sessionWith(options));
        expect(error.message).to.include('always slides').and.to.include('absoluteTimeout');
      });
    }

    it('a non-boolean is refused', () => {
      expect(optionError(() => sessionWith({ rolling: 'yes' })).message).to.equal(
        'session() option "rolling" must be a boolean, got "yes"',
      );
    });
  });

  describe('the options Reprise has no equivalent for are refused, naming what to use', () => {
    const fn = () => undefined;
    const cases: [string, unknown, RegExp][] = [
      ['store', { get: fn, set: fn, destroy: fn }, /`adapter`.*RedisAdapter/],
      ['ContextStore', class {}, /`adapter`/],
      ['externalKey', { get: fn, set: fn }, /persistKey.*restore\(key\)/],
      ['encode', fn, /only the session id/],
      ['decode', fn, /only the session id/],
      ['genid', fn, /128-bit random/],
      ['prefix', 'sess:', /RedisAdapter\(\{ prefix \}\)/],
      ['valid', fn, /ctx\.session = null.*ipBinding/],
      ['beforeSave', fn, /onClose/],
    ];
    for (const [name, value, hint] of cases) {
      it(`${name}`, () => {
        const error = optionError(() => sessionWith({ [name]: value }));
        expect(error.code).to.equal('ERR_REPRISE_OPTION');
        expect(error.message).to.include(`session() option "${name}" is koa-session's`).and.to.match(hint);
      });
    }
  });
});
