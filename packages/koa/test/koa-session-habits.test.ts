import type FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { Context } from 'koa';
import { UnsupportedError } from '../src/index.js';
import { SESSION_PROPERTY_NAMES } from '../src/session-view.js';
import { DAY, T0, expiresAt, fakeDate } from './support/clock.js';
import { buildApp, cookieIn, setCookies, SID } from './support/app.js';

/** What a handler threw, as the response body: its name, code and message (or `thrown: false`). */
function outcome(ctx: Context, action: () => unknown): void {
  try {
    action();
    ctx.body = { thrown: false, data: ctx.session.toJSON() };
  } catch (error) {
    const { name, message, code } = error as { name: string; message: string; code?: string };
    ctx.body = { thrown: true, name, code, message, data: ctx.session.toJSON(), isUnsupported: error instanceof UnsupportedError };
  }
}

/** A callback-style call (passport's habit) as a promise of the error it was called with. */
function called(start: (callback: (error?: Error) => void) => unknown): Promise<Error | undefined> {
  return new Promise((resolve) => void start(resolve));
}

const routes = {
  '/properties': (ctx: Context) => {
    const s = ctx.session;
    ctx.body = { isNew: s.isNew, populated: s.populated, length: s.length, maxAge: s.maxAge, externalKey: s.externalKey ?? null };
  },
  '/max-age': (ctx: Context) => {
    const days = String(ctx.query.days);
    ctx.session.maxAge = days === 'session' ? 'session' : Number(days) * DAY;
    ctx.body = {
      maxAge: ctx.session.maxAge,
      sessionMaxAge: ctx.sessionMaxAge,
      keys: Object.keys(ctx.session),
      has: 'maxAge' in ctx.session,
    };
  },
  '/bad-max-age': (ctx: Context) => outcome(ctx, () => (ctx.session.maxAge = -1)),
  '/assign-max-age': (ctx: Context) => {
    ctx.session = { user: 'ada', maxAge: 30 * DAY } as Record<string, unknown>;
    ctx.body = { data: ctx.session.toJSON(), maxAge: ctx.sessionMaxAge };
  },
  '/assign-reserved': (ctx: Context) => outcome(ctx, () => (ctx.session = { user: 'eve', isNew: false } as Record<string, unknown>)),
  '/object-assign': (ctx: Context) => {
    Object.assign(ctx.session, { maxAge: 2 * DAY, views: 1 });
    ctx.body = { data: ctx.session.toJSON(), maxAge: ctx.sessionMaxAge };
  },
  '/save': async (ctx: Context) => {
    await ctx.session.save();
    ctx.body = { id: ctx.liveSession.id, data: ctx.session.toJSON() };
  },
  '/save-callback': async (ctx: Context) => {
    const error = await called((done) => ctx.session.save(done));
    ctx.body = { error: error?.message ?? null, id: ctx.session.externalKey };
  },
  '/regenerate': async (ctx: Context) => {
    const before = ctx.session.externalKey ?? null;
    await ctx.session.regenerate();
    ctx.body = { before, after: ctx.liveSession.id, data: ctx.session.toJSON() };
  },
  // passport 0.6+ at login: regenerate(cb), write the user, save(cb), as koa-passport hands it ctx.session.
  '/passport-login': async (ctx: Context) => {
    const before = ctx.session.externalKey ?? null;
    const regenerated = await called((done) => ctx.session.regenerate(done));
    ctx.session.passport = { user: 'ada' };
    const saved = await called((done) => ctx.session.save(done));
    ctx.body = { before, after: ctx.liveSession.id, errors: [regenerated ?? null, saved ?? null], data: ctx.session.toJSON() };
  },
  '/json': (ctx: Context) => {
    ctx.session.cart = ['apple'];
    const copy = ctx.session.toJSON();
    copy.cart = 'changed in the copy';
    ctx.body = { stringified: JSON.stringify(ctx.session), copy, spread: { ...ctx.session } };
  },
  '/body': (ctx: Context) => {
    ctx.body = ctx.session;
  },
  '/manually-commit': (ctx: Context) => outcome(ctx, () => (ctx.session.manuallyCommit as unknown as () => void)()),
  '/commit': (ctx: Context) => outcome(ctx, () => (ctx.session.commit as unknown as () => void)()),
  '/write': (ctx: Context) => {
    const name = String(ctx.query.name);
    outcome(ctx, () => ((ctx.session as Record<string, unknown>)[name] = 'x'));
  },
  '/delete': (ctx: Context) => outcome(ctx, () => delete (ctx.session as Record<string, unknown>)[String(ctx.query.name)]),
  '/define': (ctx: Context) =>
    outcome(ctx, () => Object.defineProperty(ctx.session, String(ctx.query.name), { value: 1, enumerable: true })),
  '/session-options': (ctx: Context) => outcome(ctx, () => (ctx as unknown as { sessionOptions: unknown }).sessionOptions),
  '/regenerate-session': (ctx: Context) => outcome(ctx, () => (ctx as unknown as { regenerateSession(): unknown }).regenerateSession()),
  '/every-habit': async (ctx: Context) => {
    const s = ctx.session;
    s.views = 1;
    s.maxAge = 3 * DAY;
    await s.save();
    await s.regenerate();
    for (const name of SESSION_PROPERTY_NAMES) {
      if (name === 'maxAge') continue;
      try {
        (s as Record<string, unknown>)[name] = 'x';
      } catch {
        // refused, as asserted elsewhere
      }
    }
    ctx.body = { id: ctx.liveSession.id };
  },
};

describe('koa-session habits on ctx.session', () => {
  let clock: FakeTimers.Clock | undefined;
  afterEach(() => {
    clock?.uninstall();
    clock = undefined;
  });

  describe('maxAge', () => {
    it('setting it is the cookie lifetime of this session (= ctx.sessionMaxAge), creates the session, and is no data key', async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'], routes, session: { idleTimeout: 100 * DAY } });
      const browser = t.browser();
      const res = await browser.get('/max-age?days=30');
      expect(res.body).to.deep.equal({ maxAge: 30 * DAY, sessionMaxAge: 30 * DAY, keys: [], has: true });
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 30 * DAY);
      expect(expiresAt(cookieIn(res, `${SID}.sig`))).to.equal(T0 + 30 * DAY);
      expect(t.manager.stats().live, 'koa-session saves a session whose maxAge was set').to.equal(1);
      const read = await browser.get('/properties');
      expect(read.body).to.include({ maxAge: 30 * DAY, length: 0, populated: false });
    });

    it("'session' gives a browser-session cookie", async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/max-age?days=session');
      expect(res.body.maxAge).to.equal('session');
      expect(cookieIn(res)!.attributes.expires).to.equal(undefined);
    });

    it('reading it on a request without a session gives cookie.maxAge and creates nothing', async () => {
      const t = buildApp({ routes, session: { cookie: { maxAge: 5 * DAY } } });
      const res = await t.browser().get('/properties');
      expect(res.body.maxAge).to.equal(5 * DAY);
      expect(setCookies(res)).to.deep.equal([]);
      expect(t.manager.stats().created).to.equal(0);
    });

    it('an invalid lifetime is an OptionError naming ctx.session.maxAge; nothing is created', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/bad-max-age');
      expect(res.body).to.include({ thrown: true, code: 'ERR_REPRISE_OPTION' });
      expect(res.body.message).to.match(/ctx\.session\.maxAge/);
      expect(setCookies(res)).to.deep.equal([]);
    });

    it('assigning an object with maxAge sets the lifetime and the rest as data, as koa-session does', async () => {
      clock = fakeDate();
      const t = buildApp({ routes });
      const res = await t.browser().get('/assign-max-age');
      expect(res.body).to.deep.equal({ data: { user: 'ada' }, maxAge: 30 * DAY });
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 30 * DAY);
    });

    it('Object.assign(ctx.session, { maxAge, ... }) does the same', async () => {
      clock = fakeDate();
      const t = buildApp({ routes });
      const res = await t.browser().get('/object-assign');
      expect(res.body).to.deep.equal({ data: { views: 1 }, maxAge: 2 * DAY });
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 2 * DAY);
    });
  });

  describe('isNew, populated, length, externalKey', () => {
    it('without a session: new, empty, no key; nothing is created by reading them', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/properties');
      expect(res.body).to.deep.equal({ isNew: true, populated: false, length: 0, maxAge: 7 * DAY, externalKey: null });
      expect(setCookies(res)).to.deep.equal([]);
      expect(t.manager.stats().created).to.equal(0);
    });

    it('a session the visitor comes back with is not new, live or restored; its keys are counted', async () => {
      const t = buildApp({ routes, session: { maxSessions: 1 } });
      const browser = t.browser();
      await browser.get('/set?a=1&b=2');
      const back = await browser.get('/properties');
      expect(back.body).to.deep.equal({ isNew: false, populated: true, length: 2, maxAge: 7 * DAY, externalKey: browser.sid });
      await t.browser().get('/inc');
      const restored = await browser.get('/properties');
      expect(restored.body).to.include({ isNew: false, length: 2, externalKey: browser.sid });
      expect(t.manager.stats().restored).to.equal(1);
    });

    it('after a logout the request has no session: new again', async () => {
      const t = buildApp({
        routes: {
          '/logout-then': (ctx: Context) => {
            const before = ctx.session.isNew;
            ctx.session = null;
            ctx.body = { before, after: ctx.session.isNew, populated: ctx.session.populated };
          },
        },
      });
      const browser = t.browser();
      await browser.get('/inc');
      const res = await browser.get('/logout-then');
      expect(res.body).to.deep.equal({ before: false, after: true, populated: false });
    });
  });

  describe('save()', () => {
    it('on a request without a session creates it (even empty) and sends its cookie; the next request finds it', async () => {
      const t = buildApp({ routes });
      const browser = t.browser();
      const res = await browser.get('/save');
      expect(cookieIn(res)!.value).to.equal(res.body.id);
      expect(res.body.data).to.deep.equal({});
      const back = await browser.get('/properties');
      expect(back.body).to.include({ isNew: false, externalKey: res.body.id });
    });

    it('on an existing session re-sends the cookie (koa-session saves "no matter what")', async () => {
      const t = buildApp({ routes });
      const browser = t.browser();
      await browser.get('/inc');
      const read = await browser.get('/read');
      expect(setCookies(read), 'no save: no cookie').to.deep.equal([]);
      const saved = await browser.get('/save');
      expect(cookieIn(saved)!.value).to.equal(browser.sid);
      expect(saved.body.data).to.deep.equal({ views: 1 });
    });

    it('save(callback) calls back without an error (passport calls it so)', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/save-callback');
      expect(res.body.error).to.equal(null);
      expect(cookieIn(res)!.value).to.equal(res.body.id);
    });
  });

  describe('regenerate()', () => {
    it('moves the session to a new id keeping its data; the old id no longer finds it', async () => {
      const t = buildApp({ routes });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      const old = browser.sid!;
      const res = await browser.get('/regenerate');
      expect(res.body.before).to.equal(old);
      expect(res.body.after).to.not.equal(old);
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(cookieIn(res)!.value).to.equal(res.body.after);
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
      const stale = await t.browser().get('/read', { cookie: `${SID}=${old}` });
      expect(stale.body.data).to.deep.equal({});
    });

    it('on a request without a session creates one', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/regenerate');
      expect(res.body.before).to.equal(null);
      expect(cookieIn(res)!.value).to.equal(res.body.after);
    });

    it("passport's login (regenerate(cb), write, save(cb)) works: a new id holding the user", async () => {
      const t = buildApp({ keys: ['k1'], routes });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      const old = browser.sid!;
      const res = await browser.get('/passport-login');
      expect(res.body.errors).to.deep.equal([null, null]);
      expect(res.body.before).to.equal(old);
      expect(res.body.after).to.not.equal(old);
      expect(browser.sid).to.equal(res.body.after);
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple', passport: { user: 'ada' } });
    });
  });

  describe('toJSON()', () => {
    it('is a plain copy of the data; JSON.stringify, spreading and ctx.body = ctx.session give the data alone', async () => {
      const t = buildApp({ routes });
      const browser = t.browser();
      const res = await browser.get('/json');
      expect(JSON.parse(res.body.stringified)).to.deep.equal({ cart: ['apple'] });
      expect(res.body.copy).to.deep.equal({ cart: 'changed in the copy' });
      expect(res.body.spread).to.deep.equal({ cart: ['apple'] });
      expect((await browser.get('/read')).body.data, 'the copy is not the data').to.deep.equal({ cart: ['apple'] });
      expect((await browser.get('/body')).body).to.deep.equal({ cart: ['apple'] });
    });
  });

  describe('what fails loudly, naming the Reprise way', () => {
    for (const name of ['manuallyCommit', 'commit']) {
      it(`${name}() throws an UnsupportedError: Reprise sets the cookie when session() finishes`, async () => {
        const t = buildApp({ routes });
        const res = await t.browser().get(`/${name === 'commit' ? 'commit' : 'manually-commit'}`);
        expect(res.body).to.include({ thrown: true, isUnsupported: true, code: 'ERR_REPRISE_UNSUPPORTED', name: 'UnsupportedError' });
        expect(res.body.message).to.include(`ctx.session.${name}()`).and.to.include('when the session() middleware finishes');
      });
    }

    for (const name of [...SESSION_PROPERTY_NAMES].filter((n) => n !== 'maxAge')) {
      it(`writing, deleting or defining ctx.session.${name} throws an UnsupportedError and writes no data`, async () => {
        const t = buildApp({ routes });
        const browser = t.browser();
        for (const path of ['/write', '/delete', '/define']) {
          const res = await browser.get(`${path}?name=${name}`);
          expect(res.body, path).to.include({ thrown: true, code: 'ERR_REPRISE_UNSUPPORTED' });
          expect(res.body.message).to.include(`ctx.session.${name}`);
          expect(res.body.data).to.deep.equal({});
        }
        expect(t.manager.stats().created).to.equal(0);
      });
    }

    it('deleting maxAge throws too', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/delete?name=maxAge');
      expect(res.body).to.include({ thrown: true, code: 'ERR_REPRISE_UNSUPPORTED' });
    });

    it('assigning an object holding a session property name (maxAge apart) throws and leaves the data as it was', async () => {
      const t = buildApp({ routes });
      const browser = t.browser();
      await browser.get('/set?user=ada');
      const res = await browser.get('/assign-reserved');
      expect(res.body).to.include({ thrown: true, code: 'ERR_REPRISE_UNSUPPORTED' });
      expect(res.body.message).to.include('ctx.session.isNew');
      expect(res.body.data).to.deep.equal({ user: 'ada' });
    });

    it("koa-session's ctx.sessionOptions and koa-generic-session's ctx.regenerateSession() name their Reprise equivalents", async () => {
      const t = buildApp({ routes });
      const options = await t.browser().get('/session-options');
      expect(options.body).to.include({ thrown: true, code: 'ERR_REPRISE_UNSUPPORTED' });
      expect(options.body.message).to.include('ctx.sessionMaxAge');
      const regenerate = await t.browser().get('/regenerate-session');
      expect(regenerate.body).to.include({ thrown: true, code: 'ERR_REPRISE_UNSUPPORTED' });
      expect(regenerate.body.message).to.include('ctx.liveSession.regenerate()');
    });

    it('an uncaught one is a 500 the app sees, with the message', async () => {
      const t = buildApp({ routes: { '/raw': (ctx: Context) => (ctx.session.manuallyCommit as unknown as () => void)() } });
      await t.browser().get('/raw', { status: 500 });
      expect(t.appErrors.map((error) => (error as UnsupportedError).code)).to.deep.equal(['ERR_REPRISE_UNSUPPORTED']);
    });
  });

  it('a reference to ctx.session taken before save(), maxAge or ctx.liveSession created the session reads what is written after', async () => {
    const t = buildApp({
      routes: {
        '/held': async (ctx: Context) => {
          const held = ctx.session;
          const how = String(ctx.query.how);
          if (how === 'save') await held.save();
          else if (how === 'maxAge') held.maxAge = DAY;
          else void ctx.liveSession;
          held.views = 1;
          ctx.body = { views: held.views ?? null, keys: Object.keys(held), isNew: held.isNew, populated: held.populated };
        },
      },
    });
    for (const how of ['save', 'maxAge', 'liveSession']) {
      const browser = t.browser();
      const res = await browser.get(`/held?how=${how}`);
      expect(res.body, how).to.deep.equal({ views: 1, keys: ['views'], isNew: true, populated: true });
      expect((await browser.get('/read')).body.data, how).to.deep.equal({ views: 1 });
    }
  });

  it('no session property name ever reaches the data or the snapshot', async () => {
    const t = buildApp({ routes, session: { maxSessions: 1 } });
    const browser = t.browser();
    const res = await browser.get('/every-habit');
    const id = res.body.id as string;
    expect((await browser.get('/read')).body.data).to.deep.equal({ views: 1 });
    await t.browser().get('/inc');
    expect(t.manager.get(id), 'evicted').to.equal(undefined);
    const snapshot = await t.snapshot(id);
    expect(snapshot?.data).to.deep.equal({ views: 1 });
  });
});
