import { expect } from 'chai';
import type { FastifyRequest } from 'fastify';
import { bag, buildApp, cookieIn, deferred, isClearing, SECRET, setCookies, sign, SID, until } from './support/app.js';

const routes = {
  '/login': (request: FastifyRequest) => {
    const before = request.liveSession.id;
    const after = request.liveSession.regenerate();
    bag(request).user = String((request.query as { user?: string }).user ?? 'ada');
    return { before, after, id: request.liveSession.id, data: request.session };
  },
  '/claim': (request: FastifyRequest) => {
    const { user } = request.query as { user: string };
    request.liveSession.persistKey = `user:${user}`;
    return { id: request.liveSession.id };
  },
  '/restore': async (request: FastifyRequest) => ({
    restored: await request.liveSession.restore(String((request.query as { key?: string }).key)),
    data: request.session,
  }),
  '/live': (request: FastifyRequest) => {
    const counter = (request.liveSession.live.get('counter') as { n: number } | undefined) ?? { n: 0 };
    counter.n += 1;
    request.liveSession.live.set('counter', counter);
    return { n: counter.n };
  },
};

describe('request.liveSession', () => {
  describe('regenerate()', () => {
    it('moves the live context (data included) to a new signed id; the old id stops working at once; no hook runs', async () => {
      const closes: string[] = [];
      const t = await buildApp({ routes, session: { secret: SECRET, onClose: (session) => void closes.push(session.id) } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      const fixated = alice.clone();
      const res = await alice.get('/login?user=ada');
      expect(res.body.before).to.equal(oldId);
      expect(res.body.after).to.equal(res.body.id);
      expect(res.body.id).to.not.equal(oldId);
      expect(res.body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.id), SECRET));
      expect(closes).to.deep.equal([]);
      expect(t.manager.get(oldId)).to.equal(undefined);
      const replay = await fixated.get('/read');
      expect(replay.body.data).to.deep.equal({});
      expect(setCookies(replay)).to.deep.equal([]);
      expect((await alice.get('/read')).body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
    });

    it('regenerating the session the request has just created sends only the final id, and the session stays live', async () => {
      const t = await buildApp({ routes });
      const alice = t.browser();
      const res = await alice.get('/login');
      expect(
        setCookies(res)
          .filter((cookie) => cookie.name === SID)
          .map((cookie) => cookie.value),
      ).to.deep.equal([res.body.id]);
      await until(() => t.manager.stats().busy === 0, 'the creating request to end');
      expect(t.manager.get(String(res.body.id))?.state, 'not closed as an orphan').to.equal('live');
      expect((await alice.get('/read')).body.data).to.deep.equal({ user: 'ada' });
    });

    it('a request in flight on the old id finishes with the regenerated session and sends the new cookie', async () => {
      const gate = deferred();
      const entered = deferred();
      const t = await buildApp({
        routes: {
          ...routes,
          '/slow': async (request: FastifyRequest) => {
            entered.resolve();
            await gate.promise;
            bag(request).slow = true;
            return { id: request.liveSession.id };
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const slow = alice.clone().get('/slow');
      await entered.promise;
      const login = await alice.get('/login');
      gate.resolve();
      const res = await slow;
      expect(res.body.id).to.equal(login.body.id);
      expect(cookieIn(res)!.value, 'the slow tab learns the new id').to.equal(login.body.id);
      expect(t.manager.get(String(login.body.id))!.data).to.deep.equal({ cart: 'apple', user: 'ada', slow: true });
    });
  });

  describe('live resources and restore(key)', () => {
    it('live keeps resources across requests, never persisted: a restore starts without them', async () => {
      const t = await buildApp({ routes, session: { maxSessions: 1 } });
      const browser = t.browser();
      await browser.get('/live');
      expect((await browser.get('/live')).body.n).to.equal(2);
      await t.browser().get('/inc');
      expect((await browser.get('/live')).body.n, 'live resources are not in the snapshot').to.equal(1);
    });

    it("a logout stores the context under the application's key; restore(key) at the next login, on another device, merges it", async () => {
      const t = await buildApp({ routes });
      const laptop = t.browser();
      await laptop.get('/set?cart=apple');
      await laptop.get('/claim?user=alice');
      expect(isClearing(cookieIn(await laptop.get('/logout')))).to.equal(true);
      expect((await t.snapshot('user:alice'))?.data).to.deep.equal({ cart: 'apple' });
      const phone = t.browser();
      await phone.get('/set?theme=dark');
      const res = await phone.get('/restore?key=user:alice');
      expect(res.body).to.deep.equal({ restored: true, data: { theme: 'dark', cart: 'apple' } });
      expect((await phone.get('/restore?key=user:alice')).body.restored, 'a snapshot restores once').to.equal(false);
    });
  });
});
