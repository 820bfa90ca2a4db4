import cookie from '@fastify/cookie';
import { expect } from 'chai';
import Fastify from 'fastify';
import { OptionError, SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import reprise, { type RepriseData, type RepriseFastifyOptions } from '../src/index.js';
import { normalizeCookie } from '../src/options.js';
import { buildApp, cookieIn, SECRET } from './support/app.js';

/** Registers the plugin with loosely typed options and returns the error `ready()` rejects with (failing when it does not). */
async function registrationError(options: Record<string, unknown>): Promise<Error> {
  const app = Fastify();
  await app.register(cookie);
  app.register(reprise, options as RepriseFastifyOptions);
  try {
    await app.ready();
  } catch (error) {
    return error as Error;
  } finally {
    await app.close().catch(() => {});
  }
  expect.fail('expected the registration to fail');
}

async function optionMessage(options: Record<string, unknown>): Promise<string> {
  const error = await registrationError(options);
  expect(error).to.be.instanceOf(OptionError);
  expect((error as OptionError).code).to.equal('ERR_REPRISE_OPTION');
  return error.message;
}

describe('registration', () => {
  describe('the instance', () => {
    it('is decorated with sessionManager, the SessionManager the plugin drives (a MemoryAdapter by default)', async () => {
      const t = await buildApp({ session: { maxSessions: 7, idleTimeout: 60_000 } });
      expect(t.app.sessionManager).to.be.instanceOf(SessionManager);
      expect(t.app.sessionManager.getOption('maxSessions')).to.equal(7);
      expect(t.app.sessionManager.getOption('idleTimeout')).to.equal(60_000);
      const res = await t.browser().get('/set?cart=apple');
      expect(t.app.sessionManager.get(String(res.body.id))?.data).to.deep.equal({ cart: 'apple' });
      const bare = Fastify();
      await bare.register(cookie);
      await bare.register(reprise);
      expect(bare.sessionManager.adapter).to.be.instanceOf(MemoryAdapter);
      await bare.close();
    });

    it("closing Fastify shuts the plugin's own manager down: every session closes with reason shutdown", async () => {
      const reasons: string[] = [];
      const t = await buildApp({ session: { onClose: (_s, reason) => void reasons.push(reason) } });
      await t.browser().get('/inc');
      await t.browser().get('/inc');
      await t.app.close();
      expect(reasons).to.deep.equal(['shutdown', 'shutdown']);
      expect(t.manager.shuttingDown).to.equal(true);
    });

    it('a given manager is used as it is, and left running when Fastify closes (its owner shuts it down)', async () => {
      const closes: string[] = [];
      const manager = new SessionManager<RepriseData>({ adapter: new MemoryAdapter(), onClose: (_s, reason) => void closes.push(reason) });
      const shop = await buildApp({ session: { manager } });
      const admin = await buildApp({ session: { manager } });
      expect(shop.app.sessionManager).to.equal(manager);
      const res = await shop.browser().get('/set?cart=apple');
      const back = await admin.browser().get('/read', { cookie: `reprise.sid=${cookieIn(res)!.value}` });
      expect(back.body.data, 'two apps sharing one manager share its sessions').to.deep.equal({ cart: 'apple' });
      await shop.app.close();
      expect(manager.shuttingDown).to.equal(false);
      expect(manager.size).to.equal(1);
      await manager.shutdown();
      expect(closes).to.deep.equal(['shutdown']);
    });

    it('needs @fastify/cookie registered first', async () => {
      const app = Fastify();
      app.register(reprise);
      let error: Error | undefined;
      try {
        await app.ready();
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message).to.match(/@fastify\/cookie/);
      await app.close().catch(() => {});
    });

    it('request.session used by a hook that runs before the plugin is a clear error', async () => {
      const app = Fastify();
      app.addHook('onRequest', async (request) => {
        void request.session;
      });
      await app.register(cookie);
      await app.register(reprise);
      app.get('/', () => 'ok');
      const res = await app.inject({ url: '/' });
      expect(res.statusCode).to.equal(500);
      expect(res.json().message).to.match(/before the @reprise\/fastify onRequest hook ran/);
      await app.close();
    });
  });

  describe('options', () => {
    it('accepts every manager option, its own options and every cookie option', async () => {
      const t = await buildApp({
        session: {
          maxSessions: 10,
          idleTimeout: 60_000,
          absoluteTimeout: 3_600_000,
          snapshotTtl: 86_400_000,
          hookTimeout: 1_000,
          maxSnapshotBytes: 4_096,
          maxPendingPersists: 100,
          shutdownTimeout: 2_000,
          adapterTimeout: 500,
          retryAfter: 9,
          checkpointInterval: 10_000,
          onClose: () => undefined,
          onRestore: () => undefined,
          now: () => Date.now(),
          secret: [SECRET, 'an-older-secret'],
          saveUninitialized: false,
          rolling: true,
          cookie: { name: 'sid', maxAge: 60_000, httpOnly: true, sameSite: 'strict', secure: 'auto', domain: 'example.com', path: '/' },
        },
      });
      expect(t.manager.getOption('adapterTimeout')).to.equal(500);
      expect(t.manager.getOption('retryAfter')).to.equal(9);
    });

    it("accepts fastify.register()'s own options (prefix, logLevel, logSerializers) next to the plugin's", async () => {
      const app = Fastify();
      await app.register(cookie);
      await app.register(reprise, { prefix: '/shop', logLevel: 'warn', logSerializers: {}, secret: SECRET } as RepriseFastifyOptions);
      await app.ready();
      expect(app.sessionManager).to.be.instanceOf(SessionManager);
      await app.close();
    });

    it('refuses an unknown option, suggesting the close one', async () => {
      expect(await optionMessage({ idleTimout: 60_000 })).to.equal('unknown option "idleTimout" (did you mean "idleTimeout"?)');
      expect(await optionMessage({ cookies: {} })).to.equal('unknown option "cookies" (did you mean "cookie"?)');
      expect(await optionMessage({ secrets: SECRET })).to.equal('unknown option "secrets" (did you mean "secret"?)');
      expect(await optionMessage({ cookie: { maxage: 1 } })).to.equal('unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)');
      expect(await optionMessage({ maxSesions: undefined })).to.equal('unknown option "maxSesions" (did you mean "maxSessions"?)');
    });

    it("@fastify/session's options without a same-meaning equivalent name the Reprise one", async () => {
      expect(await optionMessage({ store: {} })).to.match(
        /^option "store" \(an express-session store\) is not supported: .*give `adapter`/,
      );
      expect(await optionMessage({ idGenerator: () => 'x' })).to.match(/^option "idGenerator" is not supported: .*persistKey/);
      expect(await optionMessage({ algorithm: 'sha512' })).to.match(/^option "algorithm" is not supported/);
      expect(await optionMessage({ cookiePrefix: 's:' })).to.match(/^option "cookiePrefix" is not supported/);
      expect(await optionMessage({ cookie: { expires: new Date() } })).to.match(
        /^option "cookie.expires" is not supported: .*cookie\.maxAge/,
      );
      expect(await optionMessage({ cookie: { signed: true } })).to.match(/^option "cookie.signed" is not supported/);
      expect(await optionMessage({ saveUninitialized: true })).to.match(/^saveUninitialized must be false .*request\.liveSession/);
    });

    it("cookieName is @fastify/session's cookie.name: one or the other", async () => {
      expect(await optionMessage({ cookieName: 'a', cookie: { name: 'b' } })).to.equal('give cookieName or cookie.name, not both');
      expect(await optionMessage({ cookieName: 'a b' })).to.equal(
        'cookieName must be a cookie token (letters, digits and !#$%&\'*+-.^_`|~), got "a b"',
      );
    });

    it('refuses a short or malformed secret', async () => {
      expect(await optionMessage({ secret: 'short' })).to.equal(
        'secret must be at least 32 characters long (the one that signs: the first of the array), got 5',
      );
      expect(await optionMessage({ secret: [] })).to.equal('secret must not be an empty array');
      expect(await optionMessage({ secret: [SECRET, 42] })).to.equal('secret must be a string or an array of strings, got 42');
      expect(await optionMessage({ secret: 42 })).to.equal('secret must be a string or an array of strings, got 42');
    });

    it('refuses invalid values', async () => {
      expect(await optionMessage({ rolling: 'yes' })).to.equal('rolling must be a boolean, got "yes"');
      expect(await optionMessage({ cookie: 'sid' })).to.equal('cookie must be an object, got "sid"');
      expect(await optionMessage({ cookie: { sameSite: 'sometimes' } })).to.match(/^cookie\.sameSite must be/);
      expect(await optionMessage({ cookie: { path: 'shop' } })).to.equal('cookie.path must be a string starting with \'/\', got "shop"');
      for (const maxAge of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await optionMessage({ cookie: { maxAge } })).to.match(/^cookie\.maxAge must be a positive number of ms or 'session'/);
      }
      expect(await optionMessage({ hookTimeout: 2 ** 31 })).to.match(/^hookTimeout must be at most 2147483647 ms/);
      expect(await optionMessage({ maxSessions: 0 })).to.equal('maxSessions must be a positive integer, got 0');
      expect(await optionMessage({ adapter: {} })).to.match(/^adapter must implement SessionAdapter .*missing: save, load, take, delete$/);
      expect(await optionMessage({ saveUninitialized: 'no' })).to.match(/^saveUninitialized must be false/);
    });

    it('refuses manager options next to a manager (they would be silently ignored)', async () => {
      const manager = new SessionManager<RepriseData>({ adapter: new MemoryAdapter() });
      expect(await optionMessage({ manager, maxSessions: 5 })).to.equal(
        '{ manager } cannot come with manager options (maxSessions): give them to the SessionManager',
      );
      expect(await optionMessage({ manager: {} })).to.equal('manager must be a SessionManager');
      await manager.shutdown();
    });

    it('normalizeCookie fills the defaults', () => {
      expect(normalizeCookie(undefined)).to.deep.equal({
        name: 'reprise.sid',
        maxAge: 7 * 24 * 3_600_000,
        httpOnly: true,
        sameSite: 'lax',
        secure: 'auto',
        domain: undefined,
        path: '/',
      });
      expect(normalizeCookie({ name: undefined }, 'sessionId').name).to.equal('sessionId');
    });
  });
});
