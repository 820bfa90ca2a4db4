import { expect } from 'chai';
import type { Context } from 'koa';
import { buildApp, cookieIn, setCookies, type AppOptions } from './support/app.js';

const HOME = { 'X-Forwarded-For': '203.0.113.7' };
const ELSEWHERE = { 'X-Forwarded-For': '198.51.100.9' };

function boundApp(options: AppOptions = {}) {
  return buildApp({
    proxy: true,
    ...options,
    session: { ipBinding: true, ...options.session },
    routes: {
      '/ip': (ctx: Context) => void (ctx.body = { ip: ctx.ip }),
      '/fail': (ctx: Context) => {
        void ctx.session.cart;
        ctx.throw(503);
      },
      ...options.routes,
    },
  });
}

describe('ipBinding', () => {
  for (const keys of [undefined, ['k1']]) {
    describe(keys ? 'signed cookies' : 'unsigned cookies', () => {
      it('a cookie presented from another IP (app.proxy + X-Forwarded-For) is no cookie; the session is not touched', async () => {
        let clock = 1_000_000;
        const t = boundApp({ keys, session: { now: () => clock } });
        const owner = t.browser(HOME);
        expect((await owner.get('/ip')).body.ip, 'the app sees the forwarded IP').to.equal('203.0.113.7');
        await owner.get('/set?cart=apple');
        const id = owner.sid!;
        const lastActive = t.manager.get(id)!.lastActiveAt;
        clock += 1_000;
        const thief = owner.clone(ELSEWHERE);
        const read = await thief.get('/read');
        expect(read.body.data).to.deep.equal({});
        expect(setCookies(read), 'no cookie: nothing to set or clear').to.deep.equal([]);
        expect(t.manager.get(id)!.lastActiveAt, 'not touched').to.equal(lastActive);
        const write = await thief.get('/set?cart=stolen');
        expect(write.body.id, 'a write gets a session of its own').to.not.equal(id);
        const home = await owner.get('/read');
        expect(home.body.data).to.deep.equal({ cart: 'apple' });
      });

      it('the same client behind a changing proxy chain keeps its session (the first X-Forwarded-For entry counts)', async () => {
        const t = boundApp({ keys });
        const browser = t.browser({ 'X-Forwarded-For': '203.0.113.7, 10.0.0.1' });
        await browser.get('/set?cart=apple');
        const res = await browser.get('/read', { headers: { 'X-Forwarded-For': '203.0.113.7, 10.0.0.2' } });
        expect(res.body.data).to.deep.equal({ cart: 'apple' });
      });

      it('a session restored after eviction is bound to the same IP', async () => {
        const t = boundApp({ keys, session: { ipBinding: true, maxSessions: 1 } });
        const owner = t.browser(HOME);
        await owner.get('/set?cart=apple');
        await t.browser(ELSEWHERE).get('/inc');
        const restored = await owner.get('/read');
        expect(restored.body.data).to.deep.equal({ cart: 'apple' });
        const newId = cookieIn(restored)!.value;
        const thief = await owner.clone(ELSEWHERE).get('/read');
        expect(thief.body.data).to.deep.equal({});
        expect(t.manager.get(newId)?.state).to.equal('live');
      });

      it('a restored session whose response failed is not handed to another IP through the old cookie', async () => {
        const t = boundApp({ keys, session: { ipBinding: true, maxSessions: 1 } });
        const owner = t.browser(HOME);
        await owner.get('/set?cart=apple');
        const stolen = owner.clone(ELSEWHERE);
        await t.browser(HOME).get('/inc');
        await owner.get('/fail', { status: 503 });
        const thief = await stolen.get('/read');
        expect(thief.body.data).to.deep.equal({});
        expect(setCookies(thief)).to.deep.equal([]);
        const home = await owner.get('/read');
        expect(home.body.data, 'the owner still gets it').to.deep.equal({ cart: 'apple' });
      });
    });
  }

  it('with app.keys, the binding survives the close: an evicted session is not restored for another IP, and stays restorable at home', async () => {
    const t = boundApp({ keys: ['k1'], session: { ipBinding: true, maxSessions: 1 } });
    const owner = t.browser(HOME);
    await owner.get('/set?cart=apple');
    await t.browser(HOME).get('/inc');
    const thief = await owner.clone(ELSEWHERE).get('/read');
    expect(thief.body.data).to.deep.equal({});
    expect(t.manager.stats().restored).to.equal(0);
    const home = await owner.get('/read');
    expect(home.body.data).to.deep.equal({ cart: 'apple' });
  });

  it('without app.proxy, X-Forwarded-For is ignored (the socket address counts)', async () => {
    const t = buildApp({ session: { ipBinding: true } });
    const browser = t.browser(HOME);
    await browser.get('/set?cart=apple');
    const res = await browser.clone(ELSEWHERE).get('/read');
    expect(res.body.data).to.deep.equal({ cart: 'apple' });
  });

  it('is off by default: another IP with the cookie gets the session', async () => {
    const t = buildApp({ proxy: true });
    const browser = t.browser(HOME);
    await browser.get('/set?cart=apple');
    const res = await browser.clone(ELSEWHERE).get('/read');
    expect(res.body.data).to.deep.equal({ cart: 'apple' });
  });
});
