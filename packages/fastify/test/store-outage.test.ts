import { expect } from 'chai';
import type { FastifyRequest } from 'fastify';
import { MemoryAdapter } from '@reprise/memory';
import { bag, buildApp, cookieIn, SECRET, setCookies, SID } from './support/app.js';

/** A MemoryAdapter whose reads can be made to fail, like a store that is down. */
class FlakyAdapter extends MemoryAdapter {
  down = false;
  override async load(key: string): Promise<string | undefined> {
    if (this.down) throw new Error('store unreachable');
    return super.load(key);
  }
  override async take(key: string): Promise<string | undefined> {
    if (this.down) throw new Error('store unreachable');
    return super.take(key);
  }
  override async takeVersioned(...args: Parameters<MemoryAdapter['takeVersioned']>): ReturnType<MemoryAdapter['takeVersioned']> {
    if (this.down) throw new Error('store unreachable');
    return super.takeVersioned(...args);
  }
}

/** Alice has a cart, then a second visitor evicts her (cap 1), then the store goes down. */
async function evictedThenOutage(retryAfter?: number, setup?: Parameters<typeof buildApp>[0]) {
  const adapter = new FlakyAdapter();
  const t = await buildApp({
    ...setup,
    session: { secret: SECRET, maxSessions: 1, adapter, ...(retryAfter === undefined ? {} : { retryAfter }) },
    routes: {
      '/catch': (request: FastifyRequest) => {
        try {
          bag(request).cart = 'caught';
          return { written: true };
        } catch (error) {
          return { written: false, name: (error as Error).name, status: (error as { statusCode?: number }).statusCode };
        }
      },
      '/destroy': async (request: FastifyRequest) => {
        await request.session.destroy();
        return { ok: true };
      },
    },
  });
  const alice = t.browser();
  await alice.get('/set?cart=apple');
  const id = alice.sid!;
  const value = alice.jar.get(SID);
  await t.browser().get('/inc');
  adapter.down = true;
  return { t, adapter, alice, id, value };
}

describe('a store outage during a restore', () => {
  it('a read answers 200 with an empty session, reports the error, keeps the cookie, and restores once the store is back', async () => {
    const { t, adapter, alice, id, value } = await evictedThenOutage();
    const during = await alice.get('/read');
    expect(during.body.data).to.deep.equal({});
    expect(setCookies(during), 'the cookie is neither cleared nor replaced').to.deep.equal([]);
    expect(t.errors.map((error) => error.code)).to.include('ERR_REPRISE_RESTORE');
    for (const error of t.errors) expect(error.message).to.not.include(id);
    adapter.down = false;
    const after = await alice.get('/id');
    expect(after.body.data).to.deep.equal({ cart: 'apple' });
    expect(after.body.id, 'the same id').to.equal(id);
    expect(alice.jar.get(SID)).to.equal(value);
  });

  it("a write answers 503 with Retry-After (Fastify's default error handler honours the error) and no Set-Cookie", async () => {
    const { t, adapter, alice, id } = await evictedThenOutage(7);
    const res = await alice.get('/set?cart=pear', { status: 503 });
    expect(res.headers['retry-after']).to.equal('7');
    expect(res.headers['set-cookie'], 'no Set-Cookie at all').to.equal(undefined);
    expect(res.body).to.deep.equal({
      statusCode: 503,
      code: 'ERR_REPRISE_SESSION_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'the session is unavailable: its store cannot be read now',
    });
    expect(alice.sid).to.equal(id);
    expect(t.manager.stats()).to.include({ created: 2, live: 1 });
    adapter.down = false;
    const after = await alice.get('/set?size=xl');
    expect(after.body).to.deep.equal({ id, data: { cart: 'apple', size: 'xl' } });
  });

  it('request.liveSession (a request for a session) is refused the same way', async () => {
    const { alice, id } = await evictedThenOutage();
    const res = await alice.get('/id', { status: 503 });
    expect(res.headers['retry-after']).to.equal('5');
    expect(setCookies(res)).to.deep.equal([]);
    expect(alice.sid).to.equal(id);
  });

  it('a logout (request.session = null, or destroy()) is a write too: 503, the cookie kept, so the close can still happen later', async () => {
    const { t, adapter, alice, id } = await evictedThenOutage();
    for (const path of ['/logout', '/destroy']) {
      const res = await alice.get(path, { status: 503 });
      expect(res.headers['retry-after']).to.equal('5');
      expect(res.headers['set-cookie'], 'the cookie is not cleared').to.equal(undefined);
      expect(alice.sid).to.equal(id);
    }
    adapter.down = false;
    expect((await alice.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
    await alice.get('/logout');
    expect(t.manager.stats().closed.closed).to.equal(1);
  });

  it('a handler may catch the SessionUnavailableError itself (statusCode 503 on the error)', async () => {
    const { t, alice, id } = await evictedThenOutage();
    const res = await alice.get('/catch');
    expect(res.body).to.deep.equal({ written: false, name: 'SessionUnavailableError', status: 503 });
    expect(setCookies(res)).to.deep.equal([]);
    expect(alice.sid).to.equal(id);
    expect(t.manager.stats().created).to.equal(2);
  });

  it("a custom error handler that uses the error's statusCode and headers answers the same 503", async () => {
    const { alice } = await evictedThenOutage(9, {
      setup: (app) =>
        app.setErrorHandler((error: Error & { statusCode?: number; headers?: Record<string, string> }, _request, reply) => {
          void reply
            .code(error.statusCode ?? 500)
            .headers(error.headers ?? {})
            .send({ sorry: error.message });
        }),
    });
    const res = await alice.get('/set?cart=pear', { status: 503 });
    expect(res.headers['retry-after']).to.equal('9');
    expect(res.body).to.deep.equal({ sorry: 'the session is unavailable: its store cannot be read now' });
    expect(res.headers['set-cookie']).to.equal(undefined);
  });

  it('a visitor without a cookie is not affected: a write gets a session', async () => {
    const { t } = await evictedThenOutage();
    const res = await t.browser().get('/set?fresh=yes');
    expect(res.body.data).to.deep.equal({ fresh: 'yes' });
    expect(cookieIn(res)).to.not.equal(undefined);
  });
});
