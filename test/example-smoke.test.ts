import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import request from 'supertest';
import { MemoryAdapter } from '@reprise/memory';
import { createApp, short, type ShopOptions, type Shop } from '@reprise-examples/shop';
import { Browser, expectSameCookie, expectUnavailable, issuedSid } from './helpers/browser.js';
import { Lines } from './helpers/lines.js';

const MAIN = fileURLToPath(new URL('../examples/shop/dist/main.js', import.meta.url));
const MINUTE = 60_000;

/** The example app on an ephemeral port, with its hook log captured. */
interface Running extends Shop {
  readonly server: Server;
  readonly log: Lines;
  browser(): Browser;
}

describe('example shop (examples/shop)', function () {
  const started: Running[] = [];

  async function start(options: ShopOptions = {}): Promise<Running> {
    const log = new Lines();
    const shop = createApp({ log: log.log, ...options });
    const server = createServer(shop.app.callback());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const running: Running = { ...shop, server, log, browser: () => new Browser(server) };
    started.push(running);
    return running;
  }

  afterEach(async function () {
    for (const { server, middleware } of started.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await middleware.manager.shutdown();
    }
  });

  describe('createApp() over HTTP', function () {
    it('an anonymous read creates no session and sets no cookie', async function () {
      const shop = await start({ maxSessions: 3 });
      const visitor = shop.browser();
      const cart = await visitor.get('/cart', 200);
      expect(cart.body).to.deep.equal({ items: [], units: 0, sessionId: null });
      expect(issuedSid(cart)).to.equal(undefined);
      const admin = await visitor.get('/admin/sessions', 200);
      expect(admin.body.live).to.equal(0);
      expect(admin.body.stats.created).to.equal(0);
      expect(admin.body.current).to.equal(null);
    });

    it("the cart survives eviction: the first visitor's cookie gets it back under the same id", async function () {
      const shop = await start({ maxSessions: 3 });
      const v1 = shop.browser();
      await v1.post('/cart/apple?qty=2', 200);
      const filled = await v1.post('/cart/pear', 200);
      expect(filled.body.items).to.deep.equal([
        { sku: 'apple', qty: 2 },
        { sku: 'pear', qty: 1 },
      ]);
      const sid = v1.sid!;
      expect(sid).to.be.a('string').and.equal(filled.body.sessionId);
      const otherTab = v1.clone(); // the same browser's cookie, sent later from another tab

      // Three more visitors, each coming back once like v1 (so none is in probation): the fourth
      // session goes over the cap of 3 and evicts v1, the least recently active.
      for (const sku of ['milk', 'eggs', 'bread']) {
        const visitor = shop.browser();
        await visitor.post(`/cart/${sku}`, 200);
        expect(visitor.sid).to.be.a('string');
        await visitor.get('/cart', 200);
      }
      const closing = await shop.log.waitFor(new RegExp(`closing ${escapeText(short(sid))} reason=evicted: saving (cart=\\S+ items?)`));
      expect(closing[1]).to.equal('cart=2 items');
      await shop.log.waitFor(new RegExp(`disposed live activity log of ${escapeText(short(sid))} \\(2 entries`));
      expect(shop.middleware.manager.size).to.equal(3);
      expect(shop.middleware.manager.get(sid)).to.equal(undefined);

      // v1 returns with its cookie: restored under the same id; the cookie does not change.
      const back = await v1.get('/cart', 200);
      expect(back.body).to.deep.equal({ ...filled.body, sessionId: sid });
      expectSameCookie(back, sid, 'the restore');
      expect(v1.sid).to.equal(sid);
      await shop.log.waitFor(new RegExp(`restored ${escapeText(short(sid))} \\(closed: evicted\\) under the same id: cart=2 items`));

      // The live activity log was not persisted: the restored session starts a new one.
      const me = await v1.get('/me', 200);
      expect(me.body.sessionId).to.equal(sid);
      expect(me.body.activity[0]).to.match(new RegExp(`restored ${escapeText(short(sid))} \\(closed: evicted\\)$`));
      expect(me.body.activity.join('\n')).not.to.include('added');

      // Making room for the restore evicted the next least recently active visitor (milk).
      const stats = (await v1.get('/admin/sessions', 200)).body.stats;
      expect(stats.closed).to.deep.equal({ evicted: 2, expired: 0, closed: 0, shutdown: 0, handover: 0 });
      expect(stats).to.deep.include({ restored: 1, created: 4, live: 3 });

      // The same cookie from another tab finds the live session: same id, same cart, no new cookie.
      const tab = await otherTab.get('/cart', 200);
      expect(tab.body).to.deep.equal({ ...filled.body, sessionId: sid });
      expect(issuedSid(tab)).to.equal(undefined);
      expect(shop.middleware.manager.stats()).to.deep.include({ restored: 1, created: 4 });
    });

    it('the cart survives expiry (fake timers, no sleeps)', async function () {
      const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout'], now: Date.parse('2030-01-01T00:00:00Z') });
      try {
        const shop = await start({ maxSessions: 3, idleTimeout: MINUTE, now: () => clock.now });
        const visitor = shop.browser();
        await visitor.post('/cart/apple', 200);
        const sid = visitor.sid!;
        const t0 = clock.now;
        const admin = await visitor.get('/admin/sessions', 200);
        expect(admin.body.current.id).to.equal(sid);
        expect(admin.body.current.expiresAt).to.equal(new Date(t0 + MINUTE).toISOString());
        const oldCookie = visitor.clone();

        await clock.tickAsync(MINUTE - 1);
        expect(shop.middleware.manager.get(sid), 'still live 1 ms before its expiry').not.to.equal(undefined);
        const closed = once(shop.middleware.manager, 'close');
        await clock.tickAsync(1);
        const [session, reason] = await closed;
        expect(session.id).to.equal(sid);
        expect(reason).to.equal('expired');
        await shop.log.waitFor(new RegExp(`closing ${escapeText(short(sid))} reason=expired: saving cart=1 item \\(1 unit\\)`));
        expect(shop.middleware.manager.size).to.equal(0);

        // The cookie brings the cart back under the same id, and the session is live again with its clock.
        const back = await oldCookie.get('/cart', 200);
        expect(back.body).to.deep.equal({ items: [{ sku: 'apple', qty: 1 }], units: 1, sessionId: sid });
        expectSameCookie(back, sid, 'the restore');
        expect(shop.middleware.manager.getExpiration(sid)).to.equal(clock.now + MINUTE);
        expect(shop.middleware.manager.stats()).to.deep.include({ restored: 1, created: 1 });
        expect(shop.middleware.manager.stats().closed.expired).to.equal(1);
      } finally {
        clock.uninstall();
      }
    });

    it('preferences travel with the user: logout in one browser, login from another; the cart stays behind', async function () {
      const shop = await start({ maxSessions: 10 });
      const a = shop.browser();
      await a.post('/cart/apple', 200);
      const anonymousSid = a.sid!;

      const login = await a.post('/login?user=alice', 200);
      expect(login.body).to.include({ user: 'alice', prefsRestored: false });
      expect(a.sid, 'login regenerates the session id').to.be.a('string').and.not.equal(anonymousSid);
      expect((await a.get('/cart')).body.items, 'the anonymous cart is kept at login').to.deep.equal([{ sku: 'apple', qty: 1 }]);
      const prefs = await a.post('/prefs?theme=dark&lang=fr', 200);
      expect(prefs.body.prefs).to.deep.equal({ theme: 'dark', lang: 'fr' });
      const beforeLogout = a.clone();

      const logout = await a.post('/logout', 200);
      expect(logout.body).to.deep.equal({ loggedOut: 'alice' });
      expect(issuedSid(logout), 'logout clears the cookie').to.equal('');
      expect(a.sid).to.equal(undefined);
      const saved = await shop.log.waitFor(/reason=closed: saving (.*) under "user:alice"/);
      expect(saved[1]).to.equal('cart=0 items (0 units) prefs={"theme":"dark","lang":"fr"}');

      // A replayed cookie never revives a session the application closed. Its id is simply unknown
      // now, which is not a logout: the cookie is not cleared (again).
      const loggedInSid = beforeLogout.sid!;
      const replay = await beforeLogout.get('/me', 200);
      expect(replay.body).to.deep.include({ sessionId: null, user: null });
      expect(issuedSid(replay), 'an unknown id is not cleared').to.equal(undefined);
      // Its first write starts a fresh session: a new id, never the one the client presented.
      const fresh = await beforeLogout.post('/cart/plum', 200);
      expect(fresh.body.items).to.deep.equal([{ sku: 'plum', qty: 1 }]);
      const freshSid = issuedSid(fresh);
      expect(freshSid).to.be.a('string').and.not.equal(loggedInSid).and.not.equal(anonymousSid);
      expect(fresh.body.sessionId).to.equal(freshSid);

      // Another browser: the preferences come back at login, the cart does not.
      const b = shop.browser();
      const again = await b.post('/login?user=alice', 200);
      expect(again.body).to.deep.include({ user: 'alice', prefsRestored: true, prefs: { theme: 'dark', lang: 'fr' } });
      const me = await b.get('/me', 200);
      expect(me.body).to.deep.include({ user: 'alice', prefs: { theme: 'dark', lang: 'fr' }, cart: 0 });
      expect((await b.get('/cart')).body.items).to.deep.equal([]);

      // The user snapshot was consumed by that login: a third browser gets default preferences.
      const c = shop.browser();
      const third = await c.post('/login?user=alice', 200);
      expect(third.body).to.deep.include({ prefsRestored: false, prefs: {} });
      // And logging in as someone else on a logged-in browser is refused.
      await c.post('/login?user=bob', 409);
    });

    it('/admin/sessions reports stats and the current session; /admin/close restores involuntary reasons only', async function () {
      let now = Date.parse('2030-01-01T00:00:00Z'); // a hand-driven clock: expiries are exact
      const adapter = new MemoryAdapter(); // the shop's store, read by the test
      const shop = await start({ maxSessions: 5, idleTimeout: 10 * MINUTE, now: () => now, adapter });
      const v1 = shop.browser();
      const v2 = shop.browser();
      await v1.post('/cart/apple', 200);
      expect(shop.middleware.manager.getExpiration(v1.sid!)).to.equal(now + 10 * MINUTE);
      now += 1_000;
      await v2.post('/cart/pear', 200);

      const before = (await v1.get('/admin/sessions', 200)).body;
      expect(before).to.deep.include({ live: 2, maxSessions: 5, idleTimeoutMs: 10 * MINUTE });
      expect(before.stats).to.deep.include({ created: 2, restored: 0 });
      expect(before.current.id).to.equal(v1.sid);
      expect(before.current.persistKey).to.equal(v1.sid);
      // The request itself is activity (acquire() marks it): the expiry it reports has slid already.
      expect(before.current.expiresAt).to.equal(new Date(now + 10 * MINUTE).toISOString());
      expect(before.now).to.equal(new Date(now).toISOString());
      expect(shop.middleware.manager.getExpiration(v1.sid!), 'and stays there when the request ends').to.equal(now + 10 * MINUTE);

      await shop.browser().post('/admin/close?reason=oops', 400);
      await shop.browser().post('/admin/close', 404);

      // An involuntary reason: its snapshot is written, and the cookie brings the session back under the same id.
      const v1Sid = v1.sid!;
      const expired = await v1.post('/admin/close?reason=expired', 200);
      expect(expired.body).to.deep.equal({ closed: true, reason: 'expired', restorableFromCookie: true });
      expectSameCookie(expired, v1Sid, 'the close');
      expect(
        shop.log.matching(
          new RegExp(
            `closing ${escapeText(short(v1Sid))} reason=expired: saving cart=1 item \\(1 unit\\) under ${escapeText(short(v1Sid))}`,
          ),
        ),
      ).to.have.length(1);
      expect(await adapter.load(v1Sid), 'the snapshot of an involuntary close').to.be.a('string');
      const restored = await v1.get('/cart', 200);
      expect(restored.body).to.deep.equal({ items: [{ sku: 'apple', qty: 1 }], units: 1, sessionId: v1Sid });
      expectSameCookie(restored, v1Sid, 'the restore');
      expect(v1.sid).to.equal(v1Sid);
      expect(await adapter.load(v1Sid), 'taken by the restore').to.equal(undefined);

      // 'closed': final, the cookie is cleared, and with the default persistKey nothing is written.
      const v2Sid = v2.sid!;
      const v2Old = v2.clone();
      const closed = await v2.post('/admin/close?reason=closed', 200);
      expect(closed.body).to.deep.include({ closed: true, reason: 'closed' });
      expect(issuedSid(closed)).to.equal('');
      expect(
        shop.log.matching(
          new RegExp(
            `closing ${escapeText(short(v2Sid))} reason=closed: dropping cart=1 item \\(1 unit\\) \\(explicit close: nothing could bring it back, so nothing is saved\\)`,
          ),
        ),
      ).to.have.length(1);
      expect(await adapter.load(v2Sid), 'an explicit close with the default key writes nothing').to.equal(undefined);
      const replay = await v2Old.get('/cart', 200);
      expect(replay.body).to.deep.equal({ items: [], units: 0, sessionId: null });
      expect(issuedSid(replay), 'an unknown id is not cleared').to.equal(undefined);

      const after = (await v1.get('/admin/sessions', 200)).body;
      expect(after.live).to.equal(1);
      expect(after.stats.closed).to.deep.equal({ evicted: 0, expired: 1, closed: 1, shutdown: 0, handover: 0 });
      expect(after.stats).to.deep.include({ restored: 1, created: 2, persisted: 1 });
      expect(after.current.id).to.equal(v1Sid);

      // Lowering the cap at run time evicts at once (through the closing hook).
      const v3 = shop.browser();
      await v3.post('/cart/milk', 200);
      const options = await v3.post('/admin/options?maxSessions=1', 200);
      expect(options.body.changed).to.deep.equal({ maxSessions: 1 });
      await shop.log.waitFor(new RegExp(`closing ${escapeText(short(v1.sid!))} reason=evicted`));
      expect(shop.middleware.manager.getOption('maxSessions')).to.equal(1);
    });

    it('while the server stops: a write gets a JSON 503 with Retry-After and keeps its cookie, a read gets an empty cart', async function () {
      const shop = await start({ maxSessions: 3 });
      const v1 = shop.browser();
      const filled = (await v1.post('/cart/apple?qty=2', 200)).body;
      const sid = v1.sid!;

      // shutdown() has closed every session (reason shutdown, snapshot written) and the server still answers.
      await shop.middleware.manager.shutdown();
      await shop.log.waitFor(new RegExp(`closing ${escapeText(short(sid))} reason=shutdown: saving cart=1 item \\(2 units\\)`));
      expect(shop.middleware.manager.size).to.equal(0);

      const read = await v1.get('/cart', 200);
      expect(read.body).to.deep.equal({ items: [], units: 0, sessionId: null });
      expect(issuedSid(read), 'the read keeps the cookie').to.equal(undefined);
      const write = await v1.post('/cart/pear');
      expectUnavailable(write, 5, 'a write on the closed session');
      expect(write.body).to.deep.equal({ error: 'the session is unavailable: the server is restarting', retryAfter: 5 });
      expect(v1.sid, 'the cookie is kept for the next process').to.equal(sid);

      // No session can be created either: a new visitor's write is refused the same way.
      const newcomer = shop.browser();
      expectUnavailable(await newcomer.post('/cart/milk'), 5, "a new visitor's write");
      expect(newcomer.sid).to.equal(undefined);
      expect(shop.middleware.manager.stats()).to.deep.include({ created: 1, restored: 0, persisted: 1, live: 0 });
      expect(shop.middleware.manager.stats().closed).to.deep.equal({ evicted: 0, expired: 0, closed: 0, shutdown: 1, handover: 0 });
      expect(filled.sessionId).to.equal(sid);
    });

    it("while its store cannot be read: the evicted visitor's write gets a JSON 503 and keeps its cookie, and the cart comes back under the same id afterwards", async function () {
      let down = false;
      const adapter = new MemoryAdapter();
      const takeVersioned = adapter.takeVersioned.bind(adapter);
      adapter.takeVersioned = async (...args) => {
        if (down) throw new Error('the store is down');
        return takeVersioned(...args);
      };
      const shop = await start({ maxSessions: 1, adapter });
      const v1 = shop.browser();
      const filled = (await v1.post('/cart/apple?qty=2', 200)).body;
      const sid = v1.sid!;
      await shop.browser().post('/cart/milk', 200); // cap 1: v1 is evicted
      await shop.log.waitFor(new RegExp(`closing ${escapeText(short(sid))} reason=evicted: saving cart=1 item`));

      down = true;
      const read = await v1.get('/cart', 200);
      expect(read.body).to.deep.equal({ items: [], units: 0, sessionId: null });
      expect(issuedSid(read), 'the read keeps the cookie').to.equal(undefined);
      const write = await v1.post('/cart/pear');
      expectUnavailable(write, 5, 'a write while the snapshot cannot be read');
      expect(write.body).to.deep.equal({ error: 'the session is unavailable: its store cannot be read now', retryAfter: 5 });
      expect(v1.sid).to.equal(sid);
      const reports = shop.log.matching(/ERR_REPRISE_RESTORE/);
      expect(reports, 'one report per request').to.have.length(2);
      for (const line of reports) {
        expect(line).to.include(short(sid));
        expect(line, 'never the whole id').to.not.include(sid);
      }

      down = false;
      const back = await v1.get('/cart', 200);
      expect(back.body, 'the cart without the refused item, same id').to.deep.equal(filled);
      expectSameCookie(back, sid, 'the restore');
      expect(shop.middleware.manager.stats()).to.deep.include({ restored: 1, restoreFailures: 2, created: 2 });
    });

    it('rejects bad input with JSON errors and creates no session for it', async function () {
      const shop = await start({ maxSessions: 3 });
      const visitor = shop.browser();
      expect((await visitor.post('/cart/apple?qty=0', 400)).body.error).to.match(/qty/);
      expect((await visitor.post('/cart/no%20spaces', 400)).body.error).to.match(/sku/);
      expect((await visitor.delete('/cart/apple', 404)).body.error).to.match(/not in the cart/);
      expect((await visitor.post('/prefs?theme=dark', 401)).body.error).to.match(/log in/);
      await visitor.post('/logout', 409);
      expect(visitor.sid).to.equal(undefined);
      expect(shop.middleware.manager.stats().created).to.equal(0);
    });
  });

  describe('node examples/shop/dist/main.js', function () {
    let child: ChildProcess | undefined;

    afterEach(function () {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('listens on PORT=0, serves a request, and on SIGTERM closes every session with reason shutdown and exits 0', async function () {
      if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (cd /work/main && npx tsc -b)`);
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', REPRISE_MAX_SESSIONS: '3', REPRISE_IDLE_TIMEOUT_MS: '60000' };
      delete env.NODE_OPTIONS;
      const proc = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const stdout = Lines.from(proc.stdout!, 'stdout');
      const stderr = Lines.from(proc.stderr!, 'stderr');

      const [, base] = await stdout.waitFor(/listening on (http:\/\/localhost:\d+) \(memory adapter, maxSessions=3, idleTimeout=60000 ms/);
      await stdout.waitFor(/rm -f v\*\.jar/); // the instructions are printed in full
      expect(stdout.text).to.include(`curl -s -c v1.jar -b v1.jar -X POST '${base}/cart/apple?qty=2'`);
      expect(stdout.text).to.include(`curl -s -c a2.jar -b a2.jar -X POST '${base}/login?user=alice'`);
      expect(stdout.text, 'as many extra visitors as the cap').to.include(
        `for v in v2 v3 v4; do curl -s -c $v.jar -b $v.jar -X POST ${base}/cart/milk`,
      );
      expect(stdout.text).to.include(
        '# 3. v1 comes back with its cookie: the cart is restored under the same session id (the cookie does not change)',
      );
      expect(stdout.text).to.not.match(/new id|new cookie/);

      const added = await request(base!).post('/cart/apple?qty=2').expect(200);
      expect(added.body.items).to.deep.equal([{ sku: 'apple', qty: 2 }]);
      const sid = issuedSid(added);
      expect(sid).to.be.a('string').and.have.length(24);

      proc.kill('SIGTERM');
      await stdout.waitFor(
        new RegExp(
          `closing ${escapeText(short(sid!))} reason=shutdown: saving cart=1 item \\(2 units\\) under \\S+ \\(lost at exit: the memory adapter`,
        ),
      );
      const [code, signal] = await exited;
      expect({ code, signal }, stderr.text).to.deep.equal({ code: 0, signal: null });
      expect(stdout.text).to.include(
        'shutdown complete: closed {"evicted":0,"expired":0,"closed":0,"shutdown":1,"handover":0}; snapshots written: 1',
      );
    });
  });
});

function escapeText(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
