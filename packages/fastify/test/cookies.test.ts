import { Signer } from '@fastify/cookie';
import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import {
  bag,
  buildApp,
  cookieIn,
  idOf,
  isClearing,
  OTHER_SECRET,
  SECRET,
  setCookies,
  sign,
  SID,
  toReply,
  type Browser,
  type TestApp,
} from './support/app.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** A fixed start for the faked Date: cookie expiries are exact. */
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** Fakes only `Date` (the cookie expiry and the manager's default clock read it); sockets keep real timers. */
function fakeDate(): FakeTimers.Clock {
  return FakeTimers.install({ now: T0, toFake: ['Date'] });
}

function expiresAt(cookie: { attributes: Readonly<Record<string, string | true>> } | undefined): number {
  const expires = cookie?.attributes.expires;
  if (typeof expires !== 'string') throw new Error(`no expires attribute in ${JSON.stringify(cookie)}`);
  return Date.parse(expires);
}

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
    it('defaults: reprise.sid, path /, HttpOnly, SameSite=Lax, 7 days, host-only, not Secure over HTTP, unsigned without a secret', async () => {
      clock = fakeDate();
      const t = await buildApp();
      const res = await t.browser().get('/inc');
      const cookies = setCookies(res);
      expect(cookies.map((cookie) => cookie.name)).to.deep.equal([SID]);
      expect(cookies[0]!.value).to.equal(res.body.id);
      expect(cookies[0]!.attributes).to.deep.equal({
        'max-age': String(7 * 24 * 3600),
        path: '/',
        expires: new Date(T0 + 7 * DAY).toUTCString(),
        httponly: true,
        samesite: 'Lax',
      });
    });

    it('honours name, path, domain, sameSite, httpOnly and maxAge options', async () => {
      clock = fakeDate();
      const t = await buildApp({
        session: { cookie: { name: 'app_sid', path: '/', domain: 'example.com', sameSite: 'strict', httpOnly: false, maxAge: 5 * MINUTE } },
      });
      const res = await t.browser().get('/inc');
      expect(cookieIn(res, SID)).to.equal(undefined);
      expect(cookieIn(res, 'app_sid')!.attributes).to.deep.equal({
        'max-age': '300',
        domain: 'example.com',
        path: '/',
        expires: new Date(T0 + 5 * MINUTE).toUTCString(),
        samesite: 'Strict',
      });
    });

    it("sameSite: false sends no SameSite attribute; maxAge: 'session' sends no expiry", async () => {
      const t = await buildApp({ session: { cookie: { sameSite: false, maxAge: 'session' } } });
      const res = await t.browser().get('/inc');
      expect(cookieIn(res)!.attributes).to.deep.equal({ path: '/', httponly: true });
    });

    it("cookieName (@fastify/session's name) names the cookie", async () => {
      const t = await buildApp({ session: { cookieName: 'sessionId' } });
      const browser = t.browser();
      const res = await browser.get('/inc');
      expect(cookieIn(res, 'sessionId')!.value).to.equal(res.body.id);
      const back = toReply(await t.app.inject({ url: '/read', headers: { cookie: `sessionId=${String(res.body.id)}` } }));
      expect(back.body.data).to.deep.equal({ views: 1 });
    });

    for (const hook of ['preHandler', false] as const) {
      it(`reads the cookie in onRequest even when @fastify/cookie parses later or not at all (hook: ${String(hook)})`, async () => {
        const t = await buildApp({ cookie: { hook }, session: { secret: SECRET } });
        const browser = t.browser();
        const id = await login(browser);
        expect((await browser.get('/inc')).body).to.include({ id, views: 2 });
      });
    }

    it('the attributes of @fastify/cookie parseOptions never sign the value a second time', async () => {
      const t = await buildApp({ cookie: { secret: OTHER_SECRET, parseOptions: { signed: true } }, session: { secret: SECRET } });
      const browser = t.browser();
      const res = await browser.get('/inc');
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.id), SECRET));
      expect((await browser.get('/read')).body.data).to.deep.equal({ views: 1 });
    });
  });

  describe('signing', () => {
    it("with the plugin's secret: the value is id.signature (HMAC-SHA256, @fastify/cookie's Signer), and it comes back", async () => {
      const t = await buildApp({ session: { secret: SECRET } });
      const browser = t.browser();
      const res = await browser.get('/inc');
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.id), SECRET));
      expect((await browser.get('/inc')).body).to.include({ id: res.body.id, views: 2 });
    });

    it("without one, with @fastify/cookie's secret", async () => {
      const t = await buildApp({ cookie: { secret: OTHER_SECRET } });
      const browser = t.browser();
      const res = await browser.get('/inc');
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.id), OTHER_SECRET));
      expect((await browser.get('/inc')).body).to.include({ id: res.body.id, views: 2 });
    });

    it("the plugin's secret wins over @fastify/cookie's", async () => {
      const t = await buildApp({ cookie: { secret: OTHER_SECRET }, session: { secret: SECRET } });
      const res = await t.browser().get('/inc');
      expect(cookieIn(res)!.value).to.equal(sign(String(res.body.id), SECRET));
    });

    describe('attacker cases: a bad cookie is no cookie (a read sees nothing, a write gets a fresh session), never a 500', () => {
      let t: TestApp;
      let id: string;
      beforeEach(async () => {
        t = await buildApp({ session: { secret: SECRET } });
        id = await login(t.browser());
      });

      const cases: Record<string, (id: string) => string> = {
        'no signature': (id) => `${SID}=${id}`,
        'signature made with another secret': (id) => `${SID}=${sign(id, OTHER_SECRET)}`,
        'signature of another id': (id) => `${SID}=${id}.${sign(`${id.slice(1)}A`, SECRET).split('.')[1]}`,
        'truncated signature': (id) => `${SID}=${sign(id, SECRET).slice(0, -1)}`,
        'empty signature': (id) => `${SID}=${id}.`,
        'oversized signature': (id) => `${SID}=${sign(id, SECRET)}${'A'.repeat(4000)}`,
        'tampered id, original signature': (id) =>
          `${SID}=${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${sign(id, SECRET).split('.')[1]}`,
        'a signed value that is not a session id': () => `${SID}=${sign('user:42', SECRET)}`,
      };
      for (const [name, cookie] of Object.entries(cases)) {
        it(name, async () => {
          const read = await t.browser().get('/read', { cookie: cookie(id) });
          expect(read.body.data).to.deep.equal({});
          expect(setCookies(read)).to.deep.equal([]);
          const write = await t.browser().get('/inc', { cookie: cookie(id) });
          expect(write.body.views).to.equal(1);
          expect(write.body.id).to.not.equal(id);
          expect(cookieIn(write)!.value).to.equal(sign(String(write.body.id), SECRET));
          expect(t.manager.get(id)?.data, 'the real session is untouched').to.deep.equal({ views: 1 });
        });
      }
    });

    describe('malformed and oversized cookies are no cookie, never a 500', () => {
      const values: Record<string, string> = {
        empty: `${SID}=`,
        'no equals sign': SID,
        short: `${SID}=abc`,
        'one character too long': `${SID}=${'A'.repeat(25)}`,
        'character outside base64url': `${SID}=${'A'.repeat(23)}+`,
        'bad percent-encoding': `${SID}=%E0%A4%A${'A'.repeat(15)}`,
        'unbalanced quote': `${SID}="${'A'.repeat(24)}`,
        'latin-1 bytes': `${SID}=${'\u00e9'.repeat(24)}`,
        'an application key (user:42)': `${SID}=user:42`,
        oversized: `${SID}=${'A'.repeat(4096)}`,
        'oversized, many cookies': Array.from({ length: 200 }, (_, i) => `c${i}=${'x'.repeat(40)}`).join('; '),
      };
      for (const secret of [undefined, SECRET]) {
        for (const [name, header] of Object.entries(values)) {
          it(`${name} (${secret ? 'signed' : 'unsigned'})`, async () => {
            const t = await buildApp(secret ? { session: { secret } } : {});
            const read = toReply(await t.app.inject({ url: '/read', headers: { cookie: header } }));
            expect(read.status).to.equal(200);
            expect(read.body.data).to.deep.equal({});
            expect(setCookies(read)).to.deep.equal([]);
            const write = toReply(await t.app.inject({ url: '/inc', headers: { cookie: header } }));
            expect(write.status).to.equal(200);
            expect(write.body).to.include({ views: 1, isNew: true });
            expect(idOf(cookieIn(write)!.value)).to.equal(write.body.id);
            expect(t.manager.size).to.equal(1);
          });
        }
      }

      it('a well-formed id the server never issued is never adopted (no fixation), and is not cleared', async () => {
        const t = await buildApp();
        const forged = 'AAAAAAAAAAAAAAAAAAAAAAAA';
        const read = await t.browser().get('/read', { cookie: `${SID}=${forged}` });
        expect(setCookies(read), 'no Set-Cookie clearing it (another instance may know it)').to.deep.equal([]);
        const write = await t.browser().get('/inc', { cookie: `${SID}=${forged}` });
        expect(write.body.id).to.not.equal(forged);
        expect(cookieIn(write)!.value).to.equal(write.body.id);
        expect(t.manager.get(forged)).to.equal(undefined);
        expect(t.manager.stats()).to.include({ created: 1, restored: 0 });
      });
    });

    describe('secret rotation', () => {
      it("in one process (@fastify/cookie's signer rotated): the old signature is accepted and the cookie re-signed once", async () => {
        let signer = new Signer([OTHER_SECRET]);
        const t = await buildApp({
          cookie: { secret: { sign: (value: string) => signer.sign(value), unsign: (value: string) => signer.unsign(value) } },
        });
        const browser = t.browser();
        const id = await login(browser);
        expect(browser.jar.get(SID)).to.equal(sign(id, OTHER_SECRET));
        expect(setCookies(await browser.get('/read')), 'not re-issued while the secret stays').to.deep.equal([]);
        signer = new Signer([SECRET, OTHER_SECRET]);
        const res = await browser.get('/read');
        expect(res.body.data).to.deep.equal({ views: 1 });
        expect(cookieIn(res)!.value).to.equal(sign(id, SECRET));
        expect(setCookies(await browser.get('/read')), 're-signed once').to.deep.equal([]);
      });

      it('a cookie signed with an older secret is accepted and re-issued with the new one; once retired, the old one is no cookie', async () => {
        const adapter = (await buildApp()).adapter;
        const before = await buildApp({ session: { secret: OTHER_SECRET, adapter } });
        const browser = before.browser();
        const id = await login(browser);
        await before.app.close();
        const rotated = await buildApp({ session: { secret: [SECRET, OTHER_SECRET], adapter } });
        const moved = browser.clone(rotated.app);
        const stale = browser.clone(rotated.app);
        const res = await moved.get('/inc');
        expect(res.body).to.include({ id, views: 2 });
        expect(cookieIn(res)!.value).to.equal(sign(id, SECRET));
        expect(setCookies(await moved.get('/read')), 're-signed once').to.deep.equal([]);
        const retired = await buildApp({ session: { secret: SECRET, adapter } });
        await rotated.app.close();
        expect((await moved.clone(retired.app).get('/read')).body.data).to.deep.equal({ views: 2 });
        expect((await stale.clone(retired.app).get('/read')).body.data).to.deep.equal({});
      });
    });
  });

  describe("secure: 'auto'", () => {
    const secureOf = (res: { headers: Record<string, unknown> }) => cookieIn(res as never)!.attributes.secure === true;

    it('is not Secure over plain HTTP', async () => {
      const t = await buildApp();
      expect(secureOf(await t.browser().get('/inc'))).to.equal(false);
    });

    it('is Secure behind a TLS proxy when Fastify trusts it (X-Forwarded-Proto: https)', async () => {
      const t = await buildApp({ fastify: { trustProxy: true } });
      expect(secureOf(await t.browser().get('/inc', { headers: { 'x-forwarded-proto': 'https' } }))).to.equal(true);
    });

    it('ignores X-Forwarded-Proto when Fastify does not trust the proxy', async () => {
      const t = await buildApp();
      expect(secureOf(await t.browser().get('/inc', { headers: { 'x-forwarded-proto': 'https' } }))).to.equal(false);
    });

    it('the clearing cookie of a logout over HTTPS is Secure too', async () => {
      const t = await buildApp({ fastify: { trustProxy: true } });
      const browser = t.browser({ 'x-forwarded-proto': 'https' });
      await login(browser);
      const res = await browser.get('/logout');
      expect(isClearing(cookieIn(res))).to.equal(true);
      expect(secureOf(res)).to.equal(true);
    });

    it('secure: true sends a Secure cookie even over plain HTTP; secure: false never does', async () => {
      const always = await buildApp({ session: { cookie: { secure: true } } });
      expect(secureOf(await always.browser().get('/inc'))).to.equal(true);
      const never = await buildApp({ fastify: { trustProxy: true }, session: { cookie: { secure: false } } });
      expect(secureOf(await never.browser().get('/inc', { headers: { 'x-forwarded-proto': 'https' } }))).to.equal(false);
    });
  });

  describe('sliding expiry', () => {
    it('is re-issued only when its expiry has moved enough to matter, not on every request', async () => {
      clock = fakeDate();
      const maxAge = 100 * MINUTE;
      const t = await buildApp({ session: { secret: SECRET, cookie: { maxAge } } });
      const browser = t.browser();
      const id = await login(browser);
      clock.tick(1 * MINUTE);
      expect(setCookies(await browser.get('/inc')), 'a write 1% of maxAge later').to.deep.equal([]);
      clock.tick(1 * MINUTE);
      expect(setCookies(await browser.get('/read')), 'a read 2% of maxAge later').to.deep.equal([]);
      clock.tick(58 * MINUTE);
      const renewed = cookieIn(await browser.get('/read'));
      expect(renewed, 'a request 60% of maxAge later renews the cookie').to.not.equal(undefined);
      expect(renewed!.value).to.equal(sign(id, SECRET));
      expect(expiresAt(renewed)).to.equal(T0 + 60 * MINUTE + maxAge);
      clock.tick(1 * MINUTE);
      expect(setCookies(await browser.get('/read')), 'measured from the last issue').to.deep.equal([]);
    });

    it('rolling: false keeps the expiry the cookie got when it was set', async () => {
      clock = fakeDate();
      const t = await buildApp({ session: { rolling: false, cookie: { maxAge: 100 * MINUTE } } });
      const browser = t.browser();
      await login(browser);
      clock.tick(90 * MINUTE);
      const res = await browser.get('/inc');
      expect(res.body.views).to.equal(2);
      expect(setCookies(res)).to.deep.equal([]);
    });

    it("cookie.maxAge 'session' gives a browser-session cookie that is never re-issued", async () => {
      clock = fakeDate();
      const t = await buildApp({ session: { cookie: { maxAge: 'session' }, idleTimeout: 100 * DAY } });
      const browser = t.browser();
      expect(cookieIn(await browser.get('/inc'))!.attributes.expires).to.equal(undefined);
      clock.tick(30 * DAY);
      const later = await browser.get('/inc');
      expect(later.body.views).to.equal(2);
      expect(setCookies(later)).to.deep.equal([]);
    });
  });

  describe('remember me (request.session.cookie.maxAge)', () => {
    const routes = {
      '/remember': (request: import('fastify').FastifyRequest) => {
        bag(request).user = 'ada';
        const days = (request.query as { days?: string }).days;
        request.session.cookie.maxAge = days === 'session' ? null : Number(days) * DAY;
        return { maxAge: request.session.cookie.maxAge, expires: request.session.cookie.expires };
      },
      '/max-age': (request: import('fastify').FastifyRequest) => ({
        maxAge: request.session.cookie.maxAge,
        original: request.session.cookie.originalMaxAge,
      }),
    };

    it('a per-session lifetime sets the cookie expiry, is readable back, and slides with that lifetime', async () => {
      clock = fakeDate();
      const t = await buildApp({ routes, session: { idleTimeout: 100 * DAY } });
      const browser = t.browser();
      const res = await browser.get('/remember?days=30');
      expect(res.body).to.deep.equal({ maxAge: 30 * DAY, expires: new Date(T0 + 30 * DAY).toISOString() });
      expect(expiresAt(cookieIn(res))).to.equal(T0 + 30 * DAY);
      const read = await browser.get('/max-age');
      expect(read.body).to.deep.equal({ maxAge: 30 * DAY, original: 7 * DAY });
      expect(setCookies(read)).to.deep.equal([]);
      clock.tick(20 * DAY);
      expect(expiresAt(cookieIn(await browser.get('/read'))), 'slides with the 30-day lifetime').to.equal(T0 + 50 * DAY);
    });

    it('null makes a browser-session cookie for this session only; changing an existing session re-issues its cookie at once', async () => {
      clock = fakeDate();
      const t = await buildApp({ routes });
      const browser = t.browser();
      const id = await login(browser);
      const res = await browser.get('/remember?days=session');
      expect(cookieIn(res)!.value).to.equal(id);
      expect(cookieIn(res)!.attributes.expires).to.equal(undefined);
      expect(res.body.expires).to.equal(null);
      expect(expiresAt(cookieIn(await t.browser().get('/inc')))).to.equal(T0 + 7 * DAY);
    });
  });
});
