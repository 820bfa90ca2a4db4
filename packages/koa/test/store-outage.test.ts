import { expect } from 'chai';
import type { Context } from 'koa';
import { MemoryAdapter } from '@reprise/memory';
import { buildApp, cookieIn, setCookies, SID } from './support/app.js';

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
async function evictedThenOutage(retryAfter?: number) {
  const adapter = new FlakyAdapter();
  const t = buildApp({
    keys: ['k1'],
    session: { maxSessions: 1, adapter, ...(retryAfter === undefined ? {} : { retryAfter }) },
    routes: {
      '/catch': (ctx: Context) => {
        try {
          ctx.session.cart = 'caught';
          ctx.body = { written: true };
        } catch (error) {
          ctx.body = { written: false, name: (error as Error).name, status: (error as { status?: number }).status };
        }
      },
      '/save': async (ctx: Context) => {
        await ctx.session.save();
        ctx.body = 'unreachable';
      },
      '/save-callback': async (ctx: Context) => {
        const error = await new Promise<Error | undefined>((resolve) => void ctx.session.save(resolve));
        ctx.body = { name: error?.name ?? null };
      },
      '/max-age': (ctx: Context) => {
        ctx.session.maxAge = 60_000;
        ctx.body = 'unreachable';
      },
      '/regenerate': async (ctx: Context) => {
        await ctx.session.regenerate();
        ctx.body = 'unreachable';
      },
    },
  });
  const alice = t.browser();
  await alice.get('/set?cart=apple');
  const id = alice.sid!;
  const sig = alice.jar.get(`${SID}.sig`);
  await t.browser().get('/inc');
  adapter.down = true;
  return { t, adapter, alice, id, sig };
}

describe('a store outage during a restore', () => {
  it('a read answers 200 with an empty session, reports the error, keeps the cookie, and restores once the store is back', async () => {
    const { t, adapter, alice, id, sig } = await evictedThenOutage();
    const during = await alice.get('/read');
    expect(during.status).to.equal(200);
    expect(during.body.data).to.deep.equal({});
    expect(setCookies(during), 'the cookie is neither cleared nor replaced').to.deep.equal([]);
    expect(t.errors.map((error) => error.code)).to.include('ERR_REPRISE_RESTORE');
    for (const error of t.errors) expect(error.message).to.not.include(id);
    expect(alice.sid).to.equal(id);

    adapter.down = false;
    const after = await alice.get('/id');
    expect(after.body.data).to.deep.equal({ cart: 'apple' });
    expect(after.body.id, 'the same id').to.equal(id);
    const cookie = cookieIn(after);
    if (cookie !== undefined) expect(cookie.value).to.equal(id);
    expect(alice.sid).to.equal(id);
    expect(alice.jar.get(`${SID}.sig`)).to.equal(sig);
  });

  it('a write answers 503 with Retry-After and no Set-Cookie: nothing acknowledged, the context stays where it was', async () => {
    const { t, adapter, alice, id } = await evictedThenOutage(7);
    const res = await alice.get('/set?cart=pear', { status: 503 });
    expect(res.headers['retry-after']).to.equal('7');
    expect(res.headers['set-cookie'], 'no Set-Cookie at all').to.equal(undefined);
    expect(alice.sid).to.equal(id);
    expect(t.manager.stats()).to.include({ created: 2, live: 1 });
    expect(t.appErrors, 'a handled refusal, not an application error').to.deep.equal([]);

    adapter.down = false;
    const after = await alice.get('/set?size=xl');
    expect(after.body).to.deep.equal({ id, data: { cart: 'apple', size: 'xl' } });
  });

  it('ctx.liveSession (a request for a session) is refused the same way', async () => {
    const { alice, id } = await evictedThenOutage();
    const res = await alice.get('/id', { status: 503 });
    expect(res.headers['retry-after']).to.equal('5');
    expect(setCookies(res)).to.deep.equal([]);
    expect(alice.sid).to.equal(id);
  });

  it("koa-session's save(), maxAge = x and regenerate() are requests for a session: refused the same way; save(callback) gets the error", async () => {
    const { alice, id } = await evictedThenOutage();
    for (const path of ['/save', '/max-age', '/regenerate']) {
      const res = await alice.get(path, { status: 503 });
      expect(res.headers['retry-after'], path).to.equal('5');
      expect(setCookies(res), path).to.deep.equal([]);
    }
    const callback = await alice.get('/save-callback');
    expect(callback.body).to.deep.equal({ name: 'SessionUnavailableError' });
    expect(setCookies(callback)).to.deep.equal([]);
    expect(alice.sid).to.equal(id);
  });

  it('a logout (ctx.session = null) is a write too: refused with 503, the cookie kept, so the close can still happen later', async () => {
    // BUG (reported): the unavailable request clears the cookie on `ctx.session = null`, though no
    // close ran (no closing hook, the snapshot still in the store): DESIGN "a write to ctx.session is
    // refused ... and the cookie is kept".
    const { t, adapter, alice, id } = await evictedThenOutage();
    const res = await alice.get('/logout', { status: 503 });
    expect(res.headers['retry-after']).to.equal('5');
    expect(res.headers['set-cookie'], 'the cookie is not cleared').to.equal(undefined);
    expect(alice.sid).to.equal(id);
    adapter.down = false;
    expect((await alice.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
    await alice.get('/logout');
    expect(t.manager.stats().closed.closed).to.equal(1);
  });

  it('a handler may catch the SessionUnavailableError itself (status 503 on the error)', async () => {
    const { t, alice, id } = await evictedThenOutage();
    const res = await alice.get('/catch');
    expect(res.body).to.deep.equal({ written: false, name: 'SessionUnavailableError', status: 503 });
    expect(setCookies(res)).to.deep.equal([]);
    expect(alice.sid).to.equal(id);
    expect(t.manager.stats().created).to.equal(2);
  });

  it('a visitor without a cookie is not affected: a write gets a session', async () => {
    const { t } = await evictedThenOutage();
    const res = await t.browser().get('/set?fresh=yes');
    expect(res.body.data).to.deep.equal({ fresh: 'yes' });
    expect(cookieIn(res)?.value).to.equal(res.body.id);
  });
});
