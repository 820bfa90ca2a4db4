import { expect } from 'chai';
import type { FastifyRequest } from 'fastify';
import { bag, buildApp, cookieIn, isClearing, SECRET, setCookies, sign } from './support/app.js';

type Route = (request: FastifyRequest) => unknown;

/** Runs `action` and returns the name and message of what it throws (or `null`). */
function thrown(action: () => unknown): { name: string; message: string } | null {
  try {
    action();
    return null;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
}

/** Untyped access to `request.session`, for the calls a JavaScript user makes. */
function loose(request: FastifyRequest): Record<string, (...args: unknown[]) => unknown> & Record<string, unknown> {
  return request.session as unknown as Record<string, (...args: unknown[]) => unknown> & Record<string, unknown>;
}

describe("@fastify/session's habits on request.session", () => {
  describe('sessionId, encryptedSessionId, get, set', () => {
    const routes: Record<string, Route> = {
      '/ids': (request) => ({
        sessionId: request.session.sessionId,
        encrypted: request.session.encryptedSessionId,
        live: request.liveSession.id,
      }),
      '/get-set': (request) => {
        const before = loose(request).get!('cart');
        loose(request).set!('cart', 'apple');
        return { before: before ?? null, after: loose(request).get!('cart'), direct: bag(request).cart };
      },
      '/peek': (request) => ({ cart: loose(request).get!('cart') ?? null }),
    };

    it('sessionId is the live session id (reading it creates the session); encryptedSessionId is the signed cookie value', async () => {
      const t = await buildApp({ routes, session: { secret: SECRET } });
      const browser = t.browser();
      const res = await browser.get('/ids');
      const id = String(res.body.live);
      expect(res.body).to.deep.equal({ sessionId: id, encrypted: sign(id, SECRET), live: id });
      expect(cookieIn(res)!.value).to.equal(sign(id, SECRET));
    });

    it('get(key) reads without creating; set(key, value) writes (and creates)', async () => {
      const t = await buildApp({ routes });
      const peek = await t.browser().get('/peek');
      expect(peek.body).to.deep.equal({ cart: null });
      expect(t.manager.stats().created).to.equal(0);
      const browser = t.browser();
      const res = await browser.get('/get-set');
      expect(res.body).to.deep.equal({ before: null, after: 'apple', direct: 'apple' });
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
    });
  });

  describe('the methods are not data', () => {
    const routes: Record<string, Route> = {
      '/shape': (request) => {
        bag(request).cart = 'apple';
        return {
          keys: Object.keys(request.session),
          json: JSON.stringify(request.session),
          spread: { ...request.session },
          hasDestroy: 'destroy' in request.session,
          destroyIsFunction: typeof request.session.destroy === 'function',
        };
      },
      '/assign-method': (request) => thrown(() => (loose(request).destroy = () => undefined)),
      '/assign-cookie': (request) => thrown(() => (loose(request).cookie = { maxAge: 1 } as never)),
      '/set-reserved': (request) => {
        loose(request).set!('cookie', 'a data key named cookie');
        return { viaGet: loose(request).get!('cookie'), viaProperty: typeof request.session.cookie };
      },
    };

    it('are neither enumerated, serialized, spread nor persisted', async () => {
      const t = await buildApp({ routes, session: { maxSessions: 1 } });
      const browser = t.browser();
      const res = await browser.get('/shape');
      expect(res.body).to.deep.equal({
        keys: ['cart'],
        json: '{"cart":"apple"}',
        spread: { cart: 'apple' },
        hasDestroy: false,
        destroyIsFunction: true,
      });
      await t.browser().get('/inc');
      expect((await t.snapshot(browser.sid!))?.data).to.deep.equal({ cart: 'apple' });
    });

    it('their names cannot be assigned as data (a TypeError naming set()), and set() stores a data key of that name', async () => {
      const t = await buildApp({ routes });
      expect((await t.browser().get('/assign-method')).body).to.deep.equal({
        name: 'TypeError',
        message:
          'request.session.destroy is a session method, not a data key: use request.session.set("destroy", value) to store a key of that name',
      });
      expect((await t.browser().get('/assign-cookie')).body).to.include({ name: 'TypeError' });
      expect(t.manager.stats().created, 'a refused write creates nothing').to.equal(0);
      expect((await t.browser().get('/set-reserved')).body).to.deep.equal({ viaGet: 'a data key named cookie', viaProperty: 'object' });
    });
  });

  describe('destroy()', () => {
    const routes: Record<string, Route> = {
      '/destroy': async (request) => {
        await request.session.destroy();
        return { data: request.session };
      },
      '/destroy-cb': (request) =>
        new Promise((resolve, reject) => request.session.destroy((error) => (error === undefined ? resolve({ ok: true }) : reject(error)))),
    };

    for (const path of ['/destroy', '/destroy-cb']) {
      it(`${path === '/destroy' ? 'as a promise' : 'with a callback'}: closes the session (reason closed, hooks run) and clears the cookie`, async () => {
        const closes: string[] = [];
        const t = await buildApp({ routes, session: { onClose: (_s, reason) => void closes.push(reason) } });
        const browser = t.browser();
        await browser.get('/set?cart=apple');
        const id = browser.sid!;
        const res = await browser.get(path);
        expect(isClearing(cookieIn(res))).to.equal(true);
        expect(closes).to.deep.equal(['closed']);
        expect(t.manager.get(id)).to.equal(undefined);
        expect((await browser.get('/read')).body.data).to.deep.equal({});
      });
    }

    it('without a session: nothing to close, no session created', async () => {
      const t = await buildApp({ routes });
      const res = await t.browser().get('/destroy');
      expect(res.body.data).to.deep.equal({});
      expect(t.manager.stats().created).to.equal(0);
      expect(setCookies(res).every((cookie) => isClearing(cookie))).to.equal(true);
    });
  });

  describe('regenerate()', () => {
    const routes: Record<string, Route> = {
      '/regenerate': async (request) => {
        const before = request.liveSession.id;
        const keep = (request.query as { keep?: string }).keep;
        await (keep === undefined ? request.session.regenerate() : request.session.regenerate(keep.split(',') as never));
        bag(request).user = 'ada';
        return { before, after: request.session.sessionId, data: request.session };
      },
      '/regenerate-cb': (request) =>
        new Promise((resolve) => {
          const before = request.liveSession.id;
          request.session.regenerate(() => resolve({ before, after: request.liveSession.id, data: request.session }));
        }),
      '/regenerate-fresh': async (request) => {
        await request.session.regenerate(['cart'] as never);
        return 'ok';
      },
    };

    it("gives a new id (the old one stops working at once) and empties the data, as @fastify/session's does; no hook runs", async () => {
      const closes: string[] = [];
      const t = await buildApp({ routes, session: { secret: SECRET, onClose: (_s, reason) => void closes.push(reason) } });
      const alice = t.browser();
      await alice.get('/set?cart=apple&theme=dark');
      const stolen = alice.clone();
      const res = await alice.get('/regenerate');
      expect(res.body.after).to.not.equal(res.body.before);
      expect(res.body.data).to.deep.equal({ user: 'ada' });
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.after), SECRET));
      expect((await stolen.get('/read')).body.data, 'the old id gets nothing').to.deep.equal({});
      expect((await alice.get('/read')).body.data).to.deep.equal({ user: 'ada' });
      expect(closes).to.deep.equal([]);
      expect(t.manager.stats()).to.include({ live: 1 });
    });

    it('regenerate(keep) keeps the listed keys; the callback form works', async () => {
      const t = await buildApp({ routes });
      const alice = t.browser();
      await alice.get('/set?cart=apple&theme=dark');
      expect((await alice.get('/regenerate?keep=cart,missing')).body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
      const before = alice.sid;
      const cb = await alice.get('/regenerate-cb');
      expect(cb.body.before).to.equal(before);
      expect(cb.body.after).to.not.equal(before);
      expect(cb.body.data).to.deep.equal({});
      expect(alice.sid).to.equal(cb.body.after);
    });

    it('without a session it creates none', async () => {
      const t = await buildApp({ routes });
      const res = await t.browser().get('/regenerate-fresh');
      expect(setCookies(res)).to.deep.equal([]);
      expect(t.manager.stats().created).to.equal(0);
    });
  });

  describe('save(), reload(), touch()', () => {
    it('save() and reload() resolve (the live session is the saved state, and the newest); the writes are there on the next request', async () => {
      const t = await buildApp({
        routes: {
          '/save': async (request) => {
            bag(request).cart = 'apple';
            await request.session.save();
            await new Promise<void>((resolve, reject) =>
              request.session.save((error) => (error === undefined ? resolve() : reject(error))),
            );
            await request.session.reload();
            await new Promise<void>((resolve, reject) =>
              request.session.reload((error) => (error === undefined ? resolve() : reject(error))),
            );
            return { data: request.session };
          },
        },
      });
      const browser = t.browser();
      expect((await browser.get('/save')).body.data).to.deep.equal({ cart: 'apple' });
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
    });

    it('touch() marks activity now and creates nothing without a session', async () => {
      let clock = 1_000_000;
      const t = await buildApp({
        session: { idleTimeout: 60_000, now: () => clock },
        routes: {
          '/touch': (request) => {
            const before = request.liveSession.lastActiveAt;
            clock += 30_000;
            request.session.touch();
            return { before, after: request.liveSession.lastActiveAt };
          },
          '/touch-anonymous': (request) => {
            request.session.touch();
            return 'ok';
          },
        },
      });
      await t.browser().get('/touch-anonymous');
      expect(t.manager.stats().created).to.equal(0);
      const browser = t.browser();
      await browser.get('/inc');
      const res = await browser.get('/touch');
      expect(res.body).to.deep.equal({ before: 1_000_000, after: 1_030_000 });
    });
  });

  describe('cookie and options()', () => {
    const routes: Record<string, Route> = {
      '/cookie': (request) => ({ ...request.session.cookie, expires: null }),
      '/set-expires': (request) => thrown(() => Object.assign(request.session.cookie, { expires: new Date() })),
      '/set-path': (request) => thrown(() => Object.assign(request.session.cookie, { path: '/other' })),
      '/options': (request) => {
        request.session.options({ maxAge: 60_000 });
        return { maxAge: request.session.cookie.maxAge };
      },
      '/options-path': (request) => thrown(() => request.session.options({ path: '/x' } as never)),
    };

    it('cookie shows the plugin cookie settings', async () => {
      const t = await buildApp({ routes, session: { cookie: { maxAge: 120_000, sameSite: 'strict' } } });
      expect((await t.browser().get('/cookie')).body).to.deep.equal({
        maxAge: 120_000,
        originalMaxAge: 120_000,
        expires: null,
        path: '/',
        httpOnly: true,
        secure: 'auto',
        sameSite: 'strict',
      });
      expect(t.manager.stats().created, 'reading the cookie creates nothing').to.equal(0);
    });

    it('cookie.expires and the attributes are read-only, each error naming what to use', async () => {
      const t = await buildApp({ routes });
      expect((await t.browser().get('/set-expires')).body).to.deep.equal({
        name: 'TypeError',
        message: 'request.session.cookie.expires cannot be set: set request.session.cookie.maxAge (ms) instead',
      });
      expect((await t.browser().get('/set-path')).body).to.deep.equal({
        name: 'TypeError',
        message: "request.session.cookie.path is the plugin's cookie.path option and cannot change per session (only cookie.maxAge can)",
      });
    });

    it('options({ maxAge }) sets this session cookie lifetime; any other option is refused', async () => {
      const t = await buildApp({ routes });
      const res = await t.browser().get('/options');
      expect(res.body.maxAge).to.equal(60_000);
      expect(cookieIn(res)!.attributes['max-age']).to.equal('60');
      expect((await t.browser().get('/options-path')).body).to.deep.equal({
        name: 'OptionError',
        message: 'request.session.options(): only maxAge can change per session; "path" is the plugin\'s cookie.path option',
      });
    });
  });

  describe('what has no same-meaning equivalent throws, naming the Reprise one', () => {
    const routes: Record<string, Route> = {
      '/is-modified': (request) => thrown(() => loose(request).isModified!()),
      '/is-saved': (request) => thrown(() => loose(request).isSaved!()),
      '/session-store': (request) => thrown(() => (request as unknown as { sessionStore: unknown }).sessionStore),
    };

    it('isModified(), isSaved() and request.sessionStore', async () => {
      const t = await buildApp({ routes });
      const modified = (await t.browser().get('/is-modified')).body;
      expect(modified.name).to.equal('TypeError');
      expect(modified.message).to.match(/^request\.session\.isModified\(\) is not supported: a Reprise session is live in memory/);
      expect((await t.browser().get('/is-saved')).body.message).to.match(
        /^request\.session\.isSaved\(\) is not supported.*save\(\) resolves at once/,
      );
      expect((await t.browser().get('/session-store')).body.message).to.match(/use fastify\.sessionManager/);
      expect(t.manager.stats().created).to.equal(0);
    });
  });
});
