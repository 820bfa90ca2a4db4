import type FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import request from 'supertest';
import { session } from '../src/index.js';
import { DAY, MINUTE, T0, expiresAt, fakeDate } from './support/clock.js';
import { buildApp, cookieIn, isClearing, setCookies, sign, SID, type Browser, type TestApp } from './support/app.js';

/** Creates a session holding `{ views: 1 }` and returns its id. */
async function login(browser: Browser): Promise<string> {
  const res = await browser.get('/inc');
  return res.body.id as string;
}

describe('cookies', () => {
  let clock: FakeTimers.Clock | undefined;
  afterEach(() => {
    clock?.uninstall();
    clock = undefined;
  });

  describe('attributes', () => {
    it('defaults: reprise.sid, path /, httpOnly, SameSite=Lax, 7 days, host-only, not Secure over HTTP, unsigned without app.keys', async () => {
      clock = fakeDate();
      const t = buildApp();
      const res = await request(t.app.callback()).get('/inc').expect(200);
      const cookies = setCookies(res);
      expect(cookies.map((cookie) => cookie.name)).to.deep.equal([SID]);
      const [cookie] = cookies;
      expect(cookie!.value).to.equal(res.body.id);
      expect(cookie!.attributes).to.deep.equal({
        path: '/',
        expires: new Date(T0 + 7 * DAY).toUTCString(),
        samesite: 'lax',
        httponly: true,
      });
    });

    it('honours name, path, domain, sameSite, httpOnly and maxAge options', async () => {
      clock = fakeDate();
      const t = buildApp({
        session: {
          cookie: { name: 'app_sid', path: '/shop', domain: 'example.com', sameSite: 'strict', httpOnly: false, maxAge: 5 * MINUTE },
        },
      });
      const res = await request(t.app.callback()).get('/inc').expect(200);
      expect(cookieIn(res, SID)).to.equal(undefined);
      expect(cookieIn(res, 'app_sid')!.attributes).to.deep.equal({
        path: '/shop',
        expires: new Date(T0 + 5 * MINUTE).toUTCString(),
        domain: 'example.com',
        samesite: 'strict',
      });
      const back = await request(t.app.callback()).get('/inc').set('Cookie', `app_sid=${res.body.id}`).expect(200);
      expect(back.body).to.include({ views: 2, id: res.body.id });
    });

    it('rejects invalid cookie options when session() is called', () => {
      expect(() => session({ cookie: { name: 'bad name' } })).to.throw(/cookie\.name/);
      expect(() => session({ cookie: { maxAge: -1 } })).to.throw(/cookie\.maxAge/);
      expect(() => session({ cookie: { secure: 'yes' as unknown as boolean } })).to.throw(/cookie\.secure/);
      expect(() => session({ cookie: { path: 'shop' } })).to.throw(/cookie\.path/);
    });
  });

  describe('signing (app.keys)', () => {
    it('signs the cookie whenever app.keys is set: name and .sig carry the same attributes', async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'] });
      const res = await request(t.app.callback()).get('/inc').expect(200);
      const id = res.body.id as string;
      const value = cookieIn(res)!;
      const sig = cookieIn(res, `${SID}.sig`)!;
      expect(value.value).to.equal(id);
      expect(sig.value).to.equal(sign(SID, id, 'k1'));
      expect(sig.attributes).to.deep.equal(value.attributes);
      expect(value.attributes.expires).to.equal(new Date(T0 + 7 * DAY).toUTCString());
    });

    it('a correctly signed cookie finds its session and is not re-issued', async () => {
      const t = buildApp({ keys: ['k1'] });
      const browser = t.browser();
      const id = await login(browser);
      const res = await browser.get('/inc');
      expect(res.body).to.include({ views: 2, id });
      expect(setCookies(res)).to.deep.equal([]);
    });

    describe('is no cookie, never a 500: the live session is neither reached nor harmed', () => {
      let t: TestApp;
      let owner: Browser;
      let id: string;
      beforeEach(async () => {
        t = buildApp({ keys: ['k1'] });
        owner = t.browser();
        id = await login(owner);
      });
      afterEach(async () => {
        // The owner still has the intact session.
        const res = await owner.get('/inc');
        expect(res.body).to.include({ id, views: 2 });
        expect(t.appErrors).to.deep.equal([]);
      });

      const cases: Record<string, (id: string) => string> = {
        unsigned: (id) => `${SID}=${id}`,
        'signed with another key': (id) => `${SID}=${id}; ${SID}.sig=${sign(SID, id, 'not-the-key')}`,
        'signature of another id': (id) => `${SID}=${id}; ${SID}.sig=${sign(SID, `${id.slice(1)}A`, 'k1')}`,
        'signature for another cookie name': (id) => `${SID}=${id}; ${SID}.sig=${sign('other', id, 'k1')}`,
        'truncated signature': (id) => `${SID}=${id}; ${SID}.sig=${sign(SID, id, 'k1').slice(0, -1)}`,
        'empty signature': (id) => `${SID}=${id}; ${SID}.sig=`,
        'oversized signature': (id) => `${SID}=${id}; ${SID}.sig=${sign(SID, id, 'k1')}${'A'.repeat(4000)}`,
        'tampered value, original signature': (id) =>
          `${SID}=${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}; ${SID}.sig=${sign(SID, id, 'k1')}`,
      };
      for (const [name, cookie] of Object.entries(cases)) {
        it(`${name}: a read sees no session and gets no cookie; a write gets a fresh session`, async () => {
          const read = await t.browser().get('/read', { cookie: cookie(id) });
          expect(read.body.data).to.deep.equal({});
          expect(setCookies(read).filter((c) => c.name === SID)).to.deep.equal([]);
          const write = await t.browser().get('/inc', { cookie: cookie(id) });
          expect(write.body.views).to.equal(1);
          expect(write.body.id).to.not.equal(id);
          expect(cookieIn(write)!.value).to.equal(write.body.id);
          expect(cookieIn(write, `${SID}.sig`)!.value).to.equal(sign(SID, write.body.id, 'k1'));
        });
      }
    });
  });

  describe('malformed and oversized cookies are no cookie, never a 500', () => {
    const values: Record<string, string> = {
      empty: `${SID}=`,
      'no equals sign': SID,
      short: `${SID}=abc`,
      'one character too long': `${SID}=${'A'.repeat(25)}`,
      'one character too short': `${SID}=${'A'.repeat(23)}`,
      'character outside base64url': `${SID}=${'A'.repeat(23)}+`,
      'bad percent-encoding': `${SID}=%E0%A4%A${'A'.repeat(15)}`,
      'unbalanced quote': `${SID}="${'A'.repeat(24)}`,
      'latin-1 bytes': `${SID}=${'\u00e9'.repeat(24)}`,
      'an application key (user:42)': `${SID}=user:42`,
      oversized: `${SID}=${'A'.repeat(4096)}`,
      'oversized, many cookies': Array.from({ length: 200 }, (_, i) => `c${i}=${'x'.repeat(40)}`).join('; '),
    };
    for (const keys of [undefined, ['k1']]) {
      for (const [name, header] of Object.entries(values)) {
        it(`${name} (${keys ? 'signed' : 'unsigned'}): 200, no session, no cookie; a write gets a fresh session`, async () => {
          const t = buildApp(keys ? { keys } : {});
          const read = await request(t.app.callback()).get('/read').set('Cookie', header).expect(200);
          expect(read.body.data).to.deep.equal({});
          expect(setCookies(read)).to.deep.equal([]);
          const write = await request(t.app.callback()).get('/inc').set('Cookie', header).expect(200);
          expect(write.body).to.include({ views: 1, isNew: true });
          expect(cookieIn(write)!.value).to.equal(write.body.id);
          expect(t.appErrors).to.deep.equal([]);
          expect(t.manager.size).to.equal(1);
        });
      }
    }

    it('a well-formed id the server never issued is never adopted (no fixation), and is not cleared (an unknown id is not a logout)', async () => {
      const t = buildApp();
      const forged = 'AAAAAAAAAAAAAAAAAAAAAAAA';
      const read = await request(t.app.callback()).get('/read').set('Cookie', `${SID}=${forged}`).expect(200);
      expect(read.body.data).to.deep.equal({});
      expect(setCookies(read), 'no Set-Cookie clearing it (another instance may know it)').to.deep.equal([]);
      const write = await request(t.app.callback()).get('/inc').set('Cookie', `${SID}=${forged}`).expect(200);
      expect(write.body.id).to.not.equal(forged);
      expect(write.body).to.include({ views: 1, isNew: true });
      expect(cookieIn(write)!.value).to.equal(write.body.id);
      expect(t.manager.get(forged)).to.equal(undefined);
      expect(t.manager.stats()).to.include({ created: 1, restored: 0 });
    });

    it('a signed cookie of an id unknown here (another instance, a long-expired snapshot) is kept on a read', async () => {
      const t = buildApp({ keys: ['k1'] });
      const id = 'BBBBBBBBBBBBBBBBBBBBBBBB';
      const browser = t.browser();
      browser.jar.set(SID, id);
      browser.jar.set(`${SID}.sig`, sign(SID, id, 'k1'));
      const read = await browser.get('/read');
      expect(read.body.data).to.deep.equal({});
      expect(setCookies(read)).to.deep.equal([]);
      expect(browser.sid).to.equal(id);
      const write = await browser.get('/inc');
      expect(write.body.id).to.not.equal(id);
      expect(browser.sid).to.equal(write.body.id);
    });
  });

  describe('key rotation', () => {
    it('a cookie signed with an older key is accepted and the whole cookie is re-issued under the new key', async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['old'] });
      const browser = t.browser();
      const id = await login(browser);
      clock.tick(10 * MINUTE);
      t.app.keys = ['new', 'old'];
      const res = await browser.get('/inc');
      expect(res.body).to.include({ id, views: 2 });
      const value = cookieIn(res)!;
      const sig = cookieIn(res, `${SID}.sig`)!;
      expect(value.value).to.equal(id);
      expect(sig.value).to.equal(sign(SID, id, 'new'));
      const attributes = { path: '/', expires: new Date(T0 + 10 * MINUTE + 7 * DAY).toUTCString(), samesite: 'lax', httponly: true };
      expect(value.attributes).to.deep.equal(attributes);
      expect(sig.attributes, 'the .sig cookie keeps expires and SameSite').to.deep.equal(attributes);
      // Re-signed now: not re-issued again.
      const next = await browser.get('/read');
      expect(setCookies(next)).to.deep.equal([]);
      // Once the old key is retired, the re-issued cookie still works.
      t.app.keys = ['new'];
      const after = await browser.get('/inc');
      expect(after.body).to.include({ id, views: 3 });
    });

    it('a read-only request re-issues a rotated cookie too', async () => {
      const t = buildApp({ keys: ['old'] });
      const browser = t.browser();
      const id = await login(browser);
      t.app.keys = ['new', 'old'];
      const res = await browser.get('/read');
      expect(res.body.data).to.deep.equal({ views: 1 });
      expect(cookieIn(res, `${SID}.sig`)!.value).to.equal(sign(SID, id, 'new'));
    });

    it('a cookie signed with a retired key is no cookie', async () => {
      const t = buildApp({ keys: ['old'] });
      const browser = t.browser();
      const id = await login(browser);
      t.app.keys = ['new'];
      const res = await browser.get('/read');
      expect(res.body.data).to.deep.equal({});
      expect(t.manager.get(id)?.state).to.equal('live');
    });
  });

  describe("secure: 'auto'", () => {
    const secureOf = (res: request.Response) => cookieIn(res)!.attributes.secure === true;

    it('is not Secure over plain HTTP', async () => {
      const t = buildApp();
      const res = await request(t.app.callback()).get('/inc').expect(200);
      expect(secureOf(res)).to.equal(false);
    });

    it('is Secure behind a TLS proxy when app.proxy is set (X-Forwarded-Proto: https), signature included', async () => {
      const t = buildApp({ proxy: true, keys: ['k1'] });
      const res = await request(t.app.callback()).get('/inc').set('X-Forwarded-Proto', 'https').expect(200);
      expect(secureOf(res)).to.equal(true);
      expect(cookieIn(res, `${SID}.sig`)!.attributes.secure).to.equal(true);
    });

    it('ignores X-Forwarded-Proto when app.proxy is not set', async () => {
      const t = buildApp();
      const res = await request(t.app.callback()).get('/inc').set('X-Forwarded-Proto', 'https').expect(200);
      expect(secureOf(res)).to.equal(false);
    });

    it('the clearing cookie of a logout over HTTPS is Secure too', async () => {
      const t = buildApp({ proxy: true });
      const browser = t.browser({ 'X-Forwarded-Proto': 'https' });
      await login(browser);
      const res = await browser.get('/logout');
      expect(isClearing(cookieIn(res))).to.equal(true);
      expect(secureOf(res)).to.equal(true);
    });

    it('secure: true sends a Secure cookie even over plain HTTP (TLS ends before the app), never a 500', async () => {
      const t = buildApp({ keys: ['k1'], session: { cookie: { secure: true } } });
      const res = await request(t.app.callback()).get('/inc').expect(200);
      expect(secureOf(res)).to.equal(true);
      expect(cookieIn(res, `${SID}.sig`)!.attributes.secure).to.equal(true);
      expect(t.appErrors).to.deep.equal([]);
    });

    it('secure: false never sends Secure, even over HTTPS', async () => {
      const t = buildApp({ proxy: true, session: { cookie: { secure: false } } });
      const res = await request(t.app.callback()).get('/inc').set('X-Forwarded-Proto', 'https').expect(200);
      expect(secureOf(res)).to.equal(false);
    });
  });

  describe('sliding expiry', () => {
    it('is re-issued only when its expiry has moved enough to matter, not on every request', async () => {
      clock = fakeDate();
      const maxAge = 100 * MINUTE;
      const t = buildApp({ session: { cookie: { maxAge } } });
      const browser = t.browser();
      await login(browser);
      clock.tick(1 * MINUTE);
      const soon = await browser.get('/inc');
      expect(setCookies(soon), 'a write 1% of maxAge later').to.deep.equal([]);
      clock.tick(1 * MINUTE);
      const read = await browser.get('/read');
      expect(setCookies(read), 'a read 2% of maxAge later').to.deep.equal([]);
      clock.tick(58 * MINUTE);
      const later = await browser.get('/read');
      const renewed = cookieIn(later);
      expect(renewed, 'a request 60% of maxAge later renews the cookie').to.not.equal(undefined);
      expect(expiresAt(renewed)).to.equal(T0 + 60 * MINUTE + maxAge);
      clock.tick(1 * MINUTE);
      const after = await browser.get('/read');
      expect(setCookies(after), 'measured from the last issue').to.deep.equal([]);
    });

    it('a signed cookie slides with its signature', async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'], session: { cookie: { maxAge: 100 * MINUTE } } });
      const browser = t.browser();
      const id = await login(browser);
      clock.tick(70 * MINUTE);
      const res = await browser.get('/read');
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 170 * MINUTE);
      expect(expiresAt(cookieIn(res, `${SID}.sig`))).to.equal(T0 + 170 * MINUTE);
      expect(cookieIn(res, `${SID}.sig`)!.value).to.equal(sign(SID, id, 'k1'));
    });

    it("cookie.maxAge 'session' gives a browser-session cookie that is never re-issued", async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'], session: { cookie: { maxAge: 'session' }, idleTimeout: 100 * DAY } });
      const browser = t.browser();
      const first = await browser.get('/inc');
      expect(cookieIn(first)!.attributes.expires).to.equal(undefined);
      expect(cookieIn(first, `${SID}.sig`)!.attributes.expires).to.equal(undefined);
      clock.tick(30 * DAY);
      const later = await browser.get('/inc');
      expect(later.body.views).to.equal(2);
      expect(setCookies(later)).to.deep.equal([]);
    });
  });

  describe('remember me (ctx.sessionMaxAge)', () => {
    const routes = {
      '/remember': (ctx: import('koa').Context) => {
        ctx.session.user = 'ada';
        ctx.sessionMaxAge = ctx.query.days === 'session' ? 'session' : Number(ctx.query.days) * DAY;
        ctx.body = { maxAge: ctx.sessionMaxAge };
      },
      '/max-age': (ctx: import('koa').Context) => {
        ctx.body = { maxAge: ctx.sessionMaxAge };
      },
      '/bad-max-age': (ctx: import('koa').Context) => {
        try {
          ctx.sessionMaxAge = -5;
          ctx.body = { thrown: false };
        } catch (error) {
          ctx.body = { thrown: true, message: (error as Error).message };
        }
      },
    };

    it('a per-session lifetime sets the cookie expiry, is readable back, and slides with that lifetime', async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'], routes, session: { idleTimeout: 100 * DAY } });
      const browser = t.browser();
      const res = await browser.get('/remember?days=30');
      expect(res.body.maxAge).to.equal(30 * DAY);
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 30 * DAY);
      expect(expiresAt(cookieIn(res, `${SID}.sig`))).to.equal(T0 + 30 * DAY);
      const read = await browser.get('/max-age');
      expect(read.body.maxAge).to.equal(30 * DAY);
      expect(setCookies(read)).to.deep.equal([]);
      clock.tick(20 * DAY);
      const later = await browser.get('/read');
      expect(expiresAt(cookieIn(later)), 'slides with the 30-day lifetime').to.equal(T0 + 50 * DAY);
    });

    it("'session' makes a browser-session cookie (no expires) for this session only", async () => {
      clock = fakeDate();
      const t = buildApp({ keys: ['k1'], routes });
      const res = await t.browser().get('/remember?days=session');
      expect(cookieIn(res)!.attributes.expires).to.equal(undefined);
      expect(cookieIn(res, `${SID}.sig`)!.attributes.expires).to.equal(undefined);
      const other = await t.browser().get('/inc');
      expect(expiresAt(cookieIn(other))).to.equal(T0 + 7 * DAY);
    });

    it('changing the lifetime of an existing session re-issues its cookie at once', async () => {
      clock = fakeDate();
      const t = buildApp({ routes });
      const browser = t.browser();
      const id = await login(browser);
      const res = await browser.get('/remember?days=30');
      expect(cookieIn(res)!.value).to.equal(id);
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 30 * DAY);
    });

    it("shortening the lifetime, or switching to 'session', re-issues the cookie at once", async () => {
      clock = fakeDate();
      const t = buildApp({ routes });
      const browser = t.browser();
      const id = await login(browser);
      const shorter = await browser.get('/remember?days=1');
      expect(cookieIn(shorter)!.value).to.equal(id);
      expect(expiresAt(cookieIn(shorter))).to.equal(T0 + 1 * DAY);
      const session = await browser.get('/remember?days=session');
      expect(cookieIn(session)!.value).to.equal(id);
      expect(cookieIn(session)!.attributes.expires).to.equal(undefined);
    });

    it('defaults to cookie.maxAge and refuses an invalid lifetime', async () => {
      const t = buildApp({ routes, session: { cookie: { maxAge: 5 * MINUTE } } });
      const browser = t.browser();
      const res = await browser.get('/max-age');
      expect(res.body.maxAge).to.equal(5 * MINUTE);
      const bad = await browser.get('/bad-max-age');
      expect(bad.body.thrown).to.equal(true);
      expect(bad.body.message).to.match(/sessionMaxAge/);
    });
  });
});
