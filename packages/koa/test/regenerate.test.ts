import { expect } from 'chai';
import type { Context } from 'koa';
import { buildApp, cookieIn, deferred, setCookies, sign, SID, until } from './support/app.js';

const routes = {
  '/login': (ctx: Context) => {
    const before = ctx.liveSession.id;
    const after = ctx.liveSession.regenerate();
    ctx.session.user = String(ctx.query.user ?? 'ada');
    ctx.body = { before, after, id: ctx.liveSession.id, data: ctx.session };
  },
};

describe('regenerate', () => {
  it('moves the live context to a new id with a new (signed) cookie; the data comes along and no hook runs', async () => {
    const closes: string[] = [];
    const t = buildApp({ keys: ['k1'], routes, session: { onClose: (session) => void closes.push(session.id) } });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const oldId = alice.sid!;
    const res = await alice.get('/login?user=ada');
    expect(res.body.before).to.equal(oldId);
    expect(res.body.after).to.equal(res.body.id);
    expect(res.body.id).to.not.equal(oldId);
    expect(res.body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
    expect(cookieIn(res)!.value).to.equal(res.body.id);
    expect(cookieIn(res, `${SID}.sig`)!.value).to.equal(sign(SID, res.body.id, 'k1'));
    expect(closes, 'regenerate is not a close').to.deep.equal([]);
    const stats = t.manager.stats();
    expect(stats.closed).to.deep.equal({ evicted: 0, expired: 0, closed: 0, shutdown: 0, handover: 0 });
    expect(stats.live).to.equal(1);
    expect(t.manager.get(oldId)).to.equal(undefined);
    const next = await alice.get('/read');
    expect(next.body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
    expect(setCookies(next)).to.deep.equal([]);
  });

  it('the old id stops working at once: a replay gets nothing (an unknown id: its cookie is left alone)', async () => {
    const t = buildApp({ keys: ['k1'], routes });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const fixated = alice.clone();
    const res = await alice.get('/login');
    const replay = await fixated.get('/read');
    expect(replay.body.data).to.deep.equal({});
    expect(setCookies(replay)).to.deep.equal([]);
    const write = await fixated.get('/id');
    expect(write.body.id).to.not.equal(res.body.id);
    expect(write.body.data).to.deep.equal({});
    // The regenerated session is untouched by the replays.
    expect((await alice.get('/read')).body.data).to.deep.equal({ cart: 'apple', user: 'ada' });
  });

  it('regenerating the session the request has just created sends only the final id, and the session stays live', async () => {
    const t = buildApp({ routes });
    const alice = t.browser();
    const res = await alice.get('/login');
    const cookies = setCookies(res).filter((cookie) => cookie.name === SID);
    expect(cookies.map((cookie) => cookie.value)).to.deep.equal([res.body.id]);
    await until(() => t.manager.stats().busy === 0, 'the creating request to end');
    expect(t.manager.get(res.body.id)?.state, 'not closed as an orphan').to.equal('live');
    expect((await alice.get('/read')).body.data).to.deep.equal({ user: 'ada' });
  });

  it('a request in flight on the old id finishes with the regenerated session and sends the new cookie', async () => {
    const gate = deferred();
    const entered = deferred();
    const t = buildApp({
      routes: {
        ...routes,
        '/slow': async (ctx: Context) => {
          entered.resolve();
          await gate.promise;
          ctx.session.slow = true;
          ctx.body = { id: ctx.liveSession.id };
        },
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const tab = alice.clone();
    const slow = tab.get('/slow');
    await entered.promise;
    const login = await alice.get('/login');
    gate.resolve();
    const res = await slow;
    expect(res.body.id).to.equal(login.body.id);
    expect(cookieIn(res)!.value, 'the slow tab learns the new id').to.equal(login.body.id);
    expect(t.manager.get(login.body.id)!.data).to.deep.equal({ cart: 'apple', user: 'ada', slow: true });
  });
});
