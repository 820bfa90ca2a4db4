import { expect } from 'chai';
import type { Context } from 'koa';
import { buildApp, cookieIn, isClearing, setCookies } from './support/app.js';

const routes = {
  '/push': (ctx: Context) => {
    const cart = (ctx.session.cart ??= []) as string[];
    cart.push(String(ctx.query.item));
    ctx.body = { cart };
  },
  '/bad-assign': (ctx: Context) => {
    const results: string[] = [];
    for (const value of ['text', 42, ['array']]) {
      try {
        ctx.session = value as unknown as Record<string, unknown>;
        results.push('accepted');
      } catch (error) {
        results.push((error as Error).name);
      }
    }
    ctx.body = { results, data: ctx.session };
  },
  '/live': (ctx: Context) => {
    const counter = (ctx.liveSession.live.get('counter') as { n: number } | undefined) ?? { n: 0 };
    counter.n += 1;
    ctx.liveSession.live.set('counter', counter);
    ctx.body = { n: counter.n, data: ctx.session };
  },
};

describe('ctx.session, koa-session style', () => {
  it('assigning an object replaces the data of the session (same id, no new cookie)', async () => {
    const t = buildApp();
    const browser = t.browser();
    await browser.get('/set?a=1&b=2');
    const id = browser.sid!;
    const res = await browser.get(`/replace?json=${encodeURIComponent(JSON.stringify({ c: 3 }))}`);
    expect(res.body).to.deep.equal({ id, data: { c: 3 } });
    expect(setCookies(res)).to.deep.equal([]);
    expect((await browser.get('/read')).body.data).to.deep.equal({ c: 3 });
  });

  it('assigning an object on a request without a session creates one with that data', async () => {
    const t = buildApp();
    const res = await t.browser().get(`/replace?json=${encodeURIComponent(JSON.stringify({ user: 'ada' }))}`);
    expect(res.body.data).to.deep.equal({ user: 'ada' });
    expect(cookieIn(res)!.value).to.equal(res.body.id);
  });

  it('anything but an object or null is refused', async () => {
    const t = buildApp({ routes });
    const res = await t.browser().get('/bad-assign');
    expect(res.body.results).to.deep.equal(['TypeError', 'TypeError', 'TypeError']);
    expect(res.body.data).to.deep.equal({});
    expect(setCookies(res)).to.deep.equal([]);
  });

  it('the data is live: nested objects changed in place are there on the next request', async () => {
    const t = buildApp({ routes });
    const browser = t.browser();
    await browser.get('/push?item=apple');
    const res = await browser.get('/push?item=pear');
    expect(res.body.cart).to.deep.equal(['apple', 'pear']);
  });

  it('ctx.liveSession.live keeps live resources across requests, never persisted: a restore starts without them', async () => {
    const t = buildApp({ routes, session: { maxSessions: 1 } });
    const browser = t.browser();
    await browser.get('/live');
    expect((await browser.get('/live')).body.n).to.equal(2);
    await t.browser().get('/inc');
    const restored = await browser.get('/live');
    expect(restored.body.n, 'live resources are not in the snapshot').to.equal(1);
  });

  it('ctx.liveSession.isNew: true in the creating request only, false once restored', async () => {
    const t = buildApp({ session: { maxSessions: 1 } });
    const browser = t.browser();
    expect((await browser.get('/id')).body.isNew).to.equal(true);
    expect((await browser.get('/id')).body.isNew).to.equal(false);
    await t.browser().get('/inc');
    const restored = await browser.get('/id');
    expect(restored.body.id, 'restored under the same id').to.equal(browser.sid);
    expect(restored.body.isNew).to.equal(false);
    expect(t.manager.stats().restored).to.equal(1);
  });

  describe('ctx.session = undefined', () => {
    const routes = {
      '/undefined': (ctx: Context) => {
        ctx.session = undefined as unknown as Record<string, unknown>;
        ctx.body = 'unreachable';
      },
      '/undefined-caught': (ctx: Context) => {
        try {
          ctx.session = undefined as unknown as Record<string, unknown>;
          ctx.body = { thrown: false };
        } catch (error) {
          ctx.body = { thrown: true, name: (error as Error).name, data: ctx.session };
        }
      },
    };

    it('is a TypeError (500 unless caught), as in koa-session; it does not close the session', async () => {
      const closes: string[] = [];
      const t = buildApp({ routes, session: { onClose: (_s, reason) => void closes.push(reason) } });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      const id = browser.sid!;
      const res = await browser.get('/undefined', { status: 500 });
      expect(isClearing(cookieIn(res))).to.equal(false);
      expect(t.appErrors.map((error) => error.name)).to.deep.equal(['TypeError']);
      const caught = await browser.get('/undefined-caught');
      expect(caught.body).to.deep.equal({ thrown: true, name: 'TypeError', data: { cart: 'apple' } });
      expect(closes).to.deep.equal([]);
      expect(t.manager.get(id)?.state).to.equal('live');
      expect((await browser.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
    });

    it('on a request without a session creates nothing', async () => {
      const t = buildApp({ routes });
      const res = await t.browser().get('/undefined-caught');
      expect(res.body).to.deep.equal({ thrown: true, name: 'TypeError', data: {} });
      expect(setCookies(res)).to.deep.equal([]);
      expect(t.manager.stats().created).to.equal(0);
    });
  });

  describe('__proto__ written through ctx.session', () => {
    const json = '{"__proto__": {"isAdmin": true}, "name": "ann"}';
    const routes = {
      '/assign': (ctx: Context) => {
        Object.assign(ctx.session, JSON.parse(json));
        ctx.body = { isAdmin: ctx.session.isAdmin ?? null, protoIsObject: Object.getPrototypeOf(ctx.session) === Object.prototype };
      },
      '/replace-proto': (ctx: Context) => {
        ctx.session = JSON.parse(json) as Record<string, unknown>;
        ctx.body = { isAdmin: ctx.session.isAdmin ?? null, protoIsObject: Object.getPrototypeOf(ctx.session) === Object.prototype };
      },
      '/admin': (ctx: Context) => {
        ctx.body = { isAdmin: ctx.session.isAdmin ?? null, name: ctx.session.name ?? null };
      },
    };

    for (const [what, path] of [
      ['Object.assign on a new session', '/assign'],
      ['assigning parsed JSON as the data', '/replace-proto'],
    ] as const) {
      it(`${what}: an own property, the prototype never changes, and the rest is persisted`, async () => {
        const t = buildApp({ routes, session: { maxSessions: 1 } });
        const browser = t.browser();
        const first = await browser.get(path);
        expect(first.body).to.deep.equal({ isAdmin: null, protoIsObject: true });
        expect((await browser.get('/admin')).body).to.deep.equal({ isAdmin: null, name: 'ann' });
        // Also once it has an existing session.
        const again = await browser.get(path);
        expect(again.body).to.deep.equal({ isAdmin: null, protoIsObject: true });
        // Evicted and restored: the snapshot was written (the reserved key dropped with a report).
        await t.browser().get('/inc');
        const back = await browser.get('/admin');
        expect(back.body).to.deep.equal({ isAdmin: null, name: 'ann' });
        expect(t.errors.map((error) => error.code)).to.include('ERR_REPRISE_CODEC');
        expect(t.errors.map((error) => error.code)).to.not.include('ERR_REPRISE_RESTORE');
      });
    }
  });
});
