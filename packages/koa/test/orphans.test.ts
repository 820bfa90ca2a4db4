import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Context, Middleware } from 'koa';
import request from 'supertest';
import { buildApp, cookieIn, deferred, isClearing, setCookies, until } from './support/app.js';

const routes = {
  '/throw-400': (ctx: Context) => {
    ctx.session.cart = 'apple';
    ctx.throw(400, 'bad input');
  },
  /** Reads the session (which restores it), then fails. */
  '/read-then-fail': (ctx: Context) => {
    void ctx.session.cart;
    throw new Error('downstream failure');
  },
};

describe('orphans', () => {
  describe('a session whose creating response never carried its cookie', () => {
    it('a thrown error after the first write: a 500 without the cookie, and the session is closed', async () => {
      const closes: string[] = [];
      const t = buildApp({ routes, session: { onClose: (_session, reason) => void closes.push(reason) } });
      const closed = once(t.manager, 'close');
      const res = await request(t.app.callback()).get('/boom').expect(500);
      expect(setCookies(res)).to.deep.equal([]);
      await closed;
      expect(closes).to.deep.equal(['closed']);
      expect(t.manager.size).to.equal(0);
      expect(t.manager.stats()).to.include({ live: 0, busy: 0, overCap: 0 });
      expect(t.appErrors.map((error) => error.message)).to.deep.equal(['boom']);
    });

    it('ctx.throw(400) after the first write: same, the 400 carries no cookie and holds no session', async () => {
      const t = buildApp({ routes });
      const closed = once(t.manager, 'close');
      const res = await request(t.app.callback()).get('/throw-400').expect(400);
      expect(res.text).to.equal('bad input');
      expect(setCookies(res)).to.deep.equal([]);
      await closed;
      expect(t.manager.size).to.equal(0);
    });

    it('does not hold a cap slot: a later visitor does not push out a real session', async () => {
      const t = buildApp({ routes, session: { maxSessions: 2 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const aliceId = alice.sid!;
      const closed = once(t.manager, 'close');
      await t.browser().get('/boom', { status: 500 });
      await closed;
      await t.browser().get('/inc');
      expect(t.manager.stats().closed.evicted).to.equal(0);
      expect(t.manager.get(aliceId)?.state).to.equal('live');
      expect(t.manager.size).to.equal(2);
    });

    it('a client that goes away before the response: the session it caused is closed', async () => {
      const entered = deferred();
      const aborted = deferred();
      const gate = deferred();
      const t = buildApp({
        routes: {
          '/slow-write': async (ctx: Context) => {
            ctx.session.cart = 'apple';
            ctx.res.once('close', () => aborted.resolve());
            entered.resolve();
            await gate.promise;
            ctx.body = 'too late';
          },
        },
      });
      const server = t.app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        const req = http.get({ host: '127.0.0.1', port, path: '/slow-write' });
        req.on('error', () => {});
        await entered.promise;
        expect(t.manager.size).to.equal(1);
        const closed = once(t.manager, 'close');
        req.destroy();
        await aborted.promise;
        gate.resolve();
        const [session, reason] = (await closed) as [{ data: unknown }, string];
        expect(reason).to.equal('closed');
        expect(session.data).to.deep.equal({ cart: 'apple' });
        expect(t.manager.size).to.equal(0);
      } finally {
        server.close();
      }
    });

    it('an error rendered by an error handler before session() still carries the cookie: the session stays', async () => {
      const errorPage: Middleware = async (ctx, next) => {
        try {
          await next();
        } catch {
          ctx.status = 500;
          ctx.body = 'sorry';
        }
      };
      const t = buildApp({ outer: [errorPage] });
      const browser = t.browser();
      const res = await browser.get('/boom', { status: 500 });
      expect(res.text).to.equal('sorry');
      const id = cookieIn(res)!.value;
      await until(() => t.manager.stats().busy === 0, 'the response to end');
      expect(t.manager.get(id)?.data).to.deep.equal({ x: 1 });
      expect((await browser.get('/read')).body.data).to.deep.equal({ x: 1 });
    });
  });

  describe('a restore whose response failed', () => {
    it('keeps the cookie working: the next request gets the same restored session (no second restore)', async () => {
      const t = buildApp({ keys: ['k1'], routes, session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      await t.browser().get('/inc');
      const failed = await alice.get('/read-then-fail', { status: 500 });
      expect(setCookies(failed)).to.deep.equal([]);
      expect(alice.sid).to.equal(id);
      expect(t.manager.get(id)?.data, 'restored, and not closed as an orphan').to.deep.equal({ cart: 'apple' });
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(isClearing(cookieIn(res))).to.equal(false);
      expect(t.manager.stats().restored, 'the same restore, not a second one').to.equal(1);
      expect(t.manager.stats().closed.closed).to.equal(0);
    });

    it('the cookie still finds the data after the restored session was itself evicted before the next request', async () => {
      // "Nothing acknowledged is lost": a restored session closes under the id its visitor holds.
      const t = buildApp({ routes, session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      await t.browser().get('/inc');
      await alice.get('/read-then-fail', { status: 500 });
      await until(() => t.manager.stats().busy === 0, 'the failed response to end');
      await t.browser().get('/inc');
      await until(() => t.manager.stats().closing === 0, 'the evictions to finish');
      expect(t.manager.stats().closed.evicted, 'alice, the second visitor, then the restored session').to.equal(3);
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(t.manager.stats().restored).to.equal(2);
    });
  });
});
