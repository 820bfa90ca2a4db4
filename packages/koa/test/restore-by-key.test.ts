import { expect } from 'chai';
import type { Context } from 'koa';
import { buildApp, cookieIn, isClearing, setCookies, SID, until, type Browser } from './support/app.js';

const routes = {
  /** Login: a new id, the user's key, and whatever the user left at the last logout. */
  '/login': async (ctx: Context) => {
    const user = String(ctx.query.user);
    ctx.liveSession.regenerate();
    ctx.session.login = user;
    const restored = await ctx.liveSession.restore(`user:${user}`);
    ctx.liveSession.persistKey = `user:${user}`;
    ctx.body = { restored, id: ctx.liveSession.id, data: ctx.session, persistKey: ctx.liveSession.persistKey };
  },
  /** Logout: the snapshot goes under the user's key, the session closes. */
  '/logout': (ctx: Context) => {
    ctx.liveSession.persistKey = `user:${String(ctx.session.login)}`;
    ctx.session = null;
    ctx.body = { ok: true };
  },
  '/whoami': (ctx: Context) => {
    ctx.body = { id: ctx.liveSession.id, data: ctx.session, persistKey: ctx.liveSession.persistKey };
  },
  '/restore': async (ctx: Context) => {
    ctx.body = { restored: await ctx.liveSession.restore(String(ctx.query.key)), data: ctx.session };
  },
  '/bad-key': (ctx: Context) => {
    try {
      ctx.liveSession.persistKey = 'AAAAAAAAAAAAAAAAAAAAAAAA';
      ctx.body = { thrown: false };
    } catch (error) {
      ctx.body = { thrown: true, name: (error as Error).name };
    }
  },
};

async function loginWithCart(browser: Browser, user: string, cart: string) {
  await browser.get(`/set?cart=${cart}`);
  return browser.get(`/login?user=${user}`);
}

describe('restore(key): persistKey at logout, restore at login', () => {
  it("logout stores the snapshot under 'user:<login>' and clears the cookie", async () => {
    const t = buildApp({ keys: ['k1'], routes });
    const laptop = t.browser();
    const login = await loginWithCart(laptop, 'alice', 'apple');
    expect(login.body.restored, 'nothing to restore at the first login').to.equal(false);
    const id = laptop.sid!;
    const res = await laptop.get('/logout');
    expect(isClearing(cookieIn(res))).to.equal(true);
    const snapshot = await t.snapshot('user:alice');
    expect(snapshot).to.include({ key: 'user:alice', sessionId: id, reason: 'closed' });
    expect(snapshot!.data).to.deep.equal({ cart: 'apple', login: 'alice' });
    expect(await t.adapter.load(id), 'nothing under the id').to.equal(undefined);
  });

  it('the next login, on another device, merges the snapshot into its session (snapshot keys win) and consumes it', async () => {
    const t = buildApp({ keys: ['k1'], routes });
    const laptop = t.browser();
    await loginWithCart(laptop, 'alice', 'apple');
    await laptop.get('/logout');
    const phone = t.browser();
    await phone.get('/set?cart=pear&theme=dark');
    const res = await phone.get('/login?user=alice');
    expect(res.body.restored).to.equal(true);
    expect(res.body.data).to.deep.equal({ cart: 'apple', theme: 'dark', login: 'alice' });
    expect(res.body.persistKey).to.equal('user:alice');
    expect(cookieIn(res)!.value).to.equal(res.body.id);
    expect(await t.adapter.load('user:alice'), 'consumed').to.equal(undefined);
    const again = await t.browser().get('/login?user=alice');
    expect(again.body.restored, 'a snapshot restores once').to.equal(false);
  });

  it('the logged-out cookie still revives nothing: only restore(key) brings the data back', async () => {
    const t = buildApp({ keys: ['k1'], routes });
    const laptop = t.browser();
    await loginWithCart(laptop, 'alice', 'apple');
    const kept = laptop.clone();
    const loggedOut = kept.sid!;
    await laptop.get('/logout');
    const replay = await kept.get('/read');
    expect(replay.body.data).to.deep.equal({});
    expect(setCookies(replay), 'an unknown id: left alone').to.deep.equal([]);
    expect((await t.snapshot('user:alice'))?.data, 'still there for the next login').to.deep.equal({ cart: 'apple', login: 'alice' });
    // Even once the application restores the key itself, the replayed cookie reaches nothing.
    const back = await t.manager.restore('user:alice');
    expect(back?.data).to.deep.equal({ cart: 'apple', login: 'alice' });
    expect(back?.id).to.not.equal(loggedOut);
    const again = await kept.get('/read');
    expect(again.body.data).to.deep.equal({});
  });

  it('restore of an unknown key resolves false and changes nothing', async () => {
    const t = buildApp({ routes });
    const browser = t.browser();
    await browser.get('/set?cart=apple');
    const res = await browser.get('/restore?key=user:nobody');
    expect(res.body).to.deep.equal({ restored: false, data: { cart: 'apple' } });
    expect(t.manager.stats().restored).to.equal(0);
  });

  it('a forged cookie naming the key is no cookie: the snapshot stays where it is', async () => {
    const t = buildApp({ routes });
    const laptop = t.browser();
    await loginWithCart(laptop, 'alice', 'apple');
    await laptop.get('/logout');
    const forged = await t.browser().get('/read', { cookie: `${SID}=user:alice` });
    expect(forged.body.data).to.deep.equal({});
    expect(await t.snapshot('user:alice')).to.not.equal(undefined);
    const bad = await t.browser().get('/bad-key');
    expect(bad.body, 'a persistKey shaped like a session id is refused').to.deep.equal({ thrown: true, name: 'PersistKeyError' });
  });

  describe('after an involuntary close of a session with a persistKey', () => {
    it('the returning cookie is restored through the pointer under its id, keeping the persistKey', async () => {
      const t = buildApp({ keys: ['k1'], routes, session: { maxSessions: 1 } });
      const bob = t.browser();
      await loginWithCart(bob, 'bob', 'plum');
      const oldId = bob.sid!;
      await t.browser().get('/inc');
      expect((await t.snapshot('user:bob'))?.reason).to.equal('evicted');
      const res = await bob.get('/whoami');
      expect(res.body.data).to.deep.equal({ cart: 'plum', login: 'bob' });
      expect(res.body.persistKey).to.equal('user:bob');
      expect(res.body.id).to.equal(oldId);
      const cookie = cookieIn(res);
      expect(isClearing(cookie)).to.equal(false);
      if (cookie !== undefined) expect(cookie.value).to.equal(oldId);
      expect(bob.sid).to.equal(oldId);
      await until(() => t.manager.stats().busy === 0, 'the response to end');
      expect(await t.adapter.load('user:bob'), 'snapshot consumed').to.equal(undefined);
      expect(await t.adapter.load(oldId), 'pointer consumed').to.equal(undefined);
    });

    it('whichever way restores it consumes it: after restore(key) at a login elsewhere, the old cookie gets nothing', async () => {
      const t = buildApp({ keys: ['k1'], routes, session: { maxSessions: 1 } });
      const bob = t.browser();
      await loginWithCart(bob, 'bob', 'plum');
      await t.browser().get('/inc');
      const phone = await t.browser().get('/login?user=bob');
      expect(phone.body.restored).to.equal(true);
      expect(phone.body.data).to.deep.equal({ cart: 'plum', login: 'bob' });
      const res = await bob.get('/read');
      expect(res.body.data).to.deep.equal({});
      expect(setCookies(res), 'nothing to restore, and no logout either: the cookie is left alone').to.deep.equal([]);
      expect(t.manager.stats().restored).to.equal(1);
    });

    it('two devices of one user, both evicted: a login elsewhere gets the newest, the other cookie still restores its own cart', async () => {
      const claim = (ctx: Context) => {
        ctx.liveSession.persistKey = `user:${String(ctx.query.user)}`;
        ctx.session.cart = String(ctx.query.cart);
        ctx.body = { id: ctx.liveSession.id };
      };
      const t = buildApp({ keys: ['k1'], routes: { ...routes, '/claim': claim }, session: { maxSessions: 1 } });
      const laptop = t.browser();
      await laptop.get('/claim?user=carol&cart=laptop-cart');
      const phone = t.browser(); // evicts the laptop
      await phone.get('/claim?user=carol&cart=phone-cart');
      await t.browser().get('/inc'); // evicts the phone: the laptop's snapshot moves under the laptop's id
      await until(() => t.manager.stats().closing === 0, 'the evictions to finish');
      const desktop = await t.browser().get('/login?user=carol');
      expect(desktop.body.restored).to.equal(true);
      expect(desktop.body.data).to.deep.equal({ cart: 'phone-cart', login: 'carol' });
      await until(() => t.manager.stats().closing === 0, 'the evictions to finish');
      const l = await laptop.get('/whoami');
      expect(l.body).to.deep.include({ id: laptop.sid, persistKey: 'user:carol' });
      expect(l.body.data).to.deep.equal({ cart: 'laptop-cart' });
      const p = await phone.get('/read');
      expect(p.body.data, "the phone's context went to the login").to.deep.equal({});
    });
  });
});
