import { expect } from 'chai';
import type { Middleware } from 'koa';
import request from 'supertest';
import { buildApp, cookieIn, setCookies, SID, until } from './support/app.js';

describe('lazy creation', () => {
  it('a request that only reads ctx.session creates no live session and sets no cookie', async () => {
    const t = buildApp({
      routes: {
        '/peek': (ctx) => {
          const data = ctx.session;
          ctx.body = {
            views: data.views ?? null,
            has: 'views' in data,
            keys: Object.keys(data),
            json: JSON.stringify(data),
          };
        },
      },
    });
    const res = await request(t.app.callback()).get('/peek').expect(200);
    expect(res.body).to.deep.equal({ views: null, has: false, keys: [], json: '{}' });
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(t.manager.size).to.equal(0);
    expect(t.manager.stats().created).to.equal(0);
  });

  it('deleting a property of the empty session, or assigning an empty object, creates nothing', async () => {
    const t = buildApp({
      routes: {
        '/noop': (ctx) => {
          delete ctx.session.views;
          ctx.session = {};
          ctx.body = 'ok';
        },
      },
    });
    const res = await request(t.app.callback()).get('/noop').expect(200);
    expect(setCookies(res)).to.deep.equal([]);
    expect(t.manager.stats().created).to.equal(0);
  });

  it('anonymous reads at the cap evict no real session', async () => {
    const t = buildApp({ session: { maxSessions: 1 } });
    const user = t.browser();
    await user.get('/inc');
    const id = user.sid!;
    for (let i = 0; i < 20; i += 1) {
      const res = await request(t.app.callback()).get('/read').expect(200);
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    expect(t.manager.get(id)?.state).to.equal('live');
    expect(t.manager.stats().closed.evicted).to.equal(0);
    const again = await user.get('/inc');
    expect(again.body).to.include({ views: 2, id });
  });

  it('the first write creates the session, with the written value, and sets its cookie', async () => {
    const t = buildApp();
    const res = await request(t.app.callback()).get('/set?name=ada').expect(200);
    const cookie = cookieIn(res);
    expect(cookie, 'session cookie').to.not.equal(undefined);
    expect(cookie!.value).to.equal(res.body.id);
    expect(res.body.data).to.deep.equal({ name: 'ada' });
    expect(t.manager.size).to.equal(1);
    expect(t.manager.get(res.body.id)!.data).to.deep.equal({ name: 'ada' });
  });

  it('several writes in one request create one session, readable through ctx.session and ctx.liveSession', async () => {
    const t = buildApp({
      routes: {
        '/many': (ctx) => {
          ctx.session.a = 1;
          ctx.session.b = 2;
          Object.defineProperty(ctx.session, 'c', { value: 3, enumerable: true, writable: true, configurable: true });
          ctx.body = { session: { ...ctx.session }, live: { ...ctx.liveSession.data } };
        },
      },
    });
    const res = await request(t.app.callback()).get('/many').expect(200);
    expect(res.body.session).to.deep.equal({ a: 1, b: 2, c: 3 });
    expect(res.body.live).to.deep.equal({ a: 1, b: 2, c: 3 });
    expect(t.manager.stats().created).to.equal(1);
  });

  it('defining a property is a write: it creates the session', async () => {
    const t = buildApp({
      routes: {
        '/define': (ctx) => {
          Object.defineProperty(ctx.session, 'flag', { value: true, enumerable: true, writable: true, configurable: true });
          ctx.body = 'ok';
        },
      },
    });
    const res = await request(t.app.callback()).get('/define').expect(200);
    const id = cookieIn(res)!.value;
    expect(t.manager.get(id)!.data).to.deep.equal({ flag: true });
  });

  it('reading ctx.liveSession is a request for a session: it creates one', async () => {
    const t = buildApp();
    const res = await request(t.app.callback()).get('/id').expect(200);
    expect(cookieIn(res)?.value).to.equal(res.body.id);
    expect(t.manager.get(res.body.id)?.state).to.equal('live');
  });

  it('setting ctx.sessionMaxAge creates the session', async () => {
    const t = buildApp({
      routes: {
        '/remember': (ctx) => {
          ctx.sessionMaxAge = 60_000;
          ctx.body = 'ok';
        },
      },
    });
    const res = await request(t.app.callback()).get('/remember').expect(200);
    expect(cookieIn(res)).to.not.equal(undefined);
    expect(t.manager.size).to.equal(1);
  });

  it('a read-only request with a live cookie touches the session but sets no cookie', async () => {
    let clock = 1_000_000;
    const t = buildApp({ session: { now: () => clock, idleTimeout: 60_000 } });
    const user = t.browser();
    await user.get('/inc');
    const id = user.sid!;
    const before = t.manager.getExpiration(id)!;
    clock += 5_000;
    const res = await user.get('/read');
    expect(res.body.data).to.deep.equal({ views: 1 });
    expect(cookieIn(res)).to.equal(undefined);
    expect(t.manager.getExpiration(id)).to.equal(before + 5_000);
    expect(t.manager.get(id)!.lastActiveAt).to.equal(clock);
  });

  it('works with a supertest agent: one session across requests, one cookie', async () => {
    const t = buildApp();
    const agent = request.agent(t.app.callback());
    const first = await agent.get('/inc').expect(200);
    const second = await agent.get('/inc').expect(200);
    expect(first.body).to.include({ views: 1, isNew: true });
    expect(second.body).to.include({ views: 2, isNew: false, id: first.body.id });
    expect(t.manager.stats().created).to.equal(1);
    expect(cookieIn(first, SID)).to.not.equal(undefined);
  });

  describe('after session() has finished the request (a write in a middleware mounted before it)', () => {
    const late: Middleware = async (ctx, next) => {
      await next();
      if (ctx.query.late !== undefined) ctx.session.late = true;
    };

    it('a write that would create a session is ignored and reported (never a throw), and creates nothing', async () => {
      const t = buildApp({ outer: [late] });
      const res = await t.browser().get('/read?late');
      expect(res.body.data).to.deep.equal({});
      expect(setCookies(res)).to.deep.equal([]);
      expect(t.appErrors).to.deep.equal([]);
      expect(t.errors.map((error) => error.code)).to.deep.equal(['ERR_REPRISE_SESSION_CLOSED']);
      expect(t.errors[0]!.message).to.match(/after the request finished was ignored/);
      await until(() => t.manager.stats().busy === 0, 'requests to end');
      expect(t.manager.stats()).to.include({ live: 0, busy: 0, created: 0 });
    });

    it('an existing session still takes the write', async () => {
      const t = buildApp({ outer: [late] });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      await browser.get('/read?late');
      await until(() => t.manager.stats().busy === 0, 'requests to end');
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple', late: true });
    });
  });

  describe('a deferred write after the response (setTimeout in a handler)', () => {
    it('on a request without a cookie: ignored and reported, the process stays up (no uncaughtException)', async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown): void => void uncaught.push(error);
      // Mocha's own handler would fail the test on an uncaught exception: keep ours the only one meanwhile.
      const mochaHandlers = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', onUncaught);
      try {
        let fired!: () => void;
        const done = new Promise<void>((resolve) => (fired = resolve));
        const t = buildApp({
          routes: {
            '/later': (ctx) => {
              setTimeout(() => {
                try {
                  ctx.session.x = 1;
                } finally {
                  fired();
                }
              }, 5);
              ctx.body = 'ok';
            },
          },
        });
        const res = await t.browser().get('/later');
        expect(setCookies(res)).to.deep.equal([]);
        await done;
        await new Promise((resolve) => setImmediate(resolve));
        expect(uncaught).to.deep.equal([]);
        expect(t.errors.map((error) => error.code)).to.deep.equal(['ERR_REPRISE_SESSION_CLOSED']);
        expect(t.manager.stats()).to.include({ created: 0, live: 0, busy: 0 });
      } finally {
        process.off('uncaughtException', onUncaught);
        for (const handler of mochaHandlers) process.on('uncaughtException', handler);
      }
    });

    it('on a request with a live session: the write goes to the session', async () => {
      let fired!: () => void;
      const done = new Promise<void>((resolve) => (fired = resolve));
      const t = buildApp({
        routes: {
          '/later': (ctx) => {
            setTimeout(() => {
              ctx.session.later = true;
              fired();
            }, 5);
            ctx.body = 'ok';
          },
        },
      });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      await browser.get('/later');
      await done;
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple', later: true });
      expect(t.errors).to.deep.equal([]);
    });
  });
});
