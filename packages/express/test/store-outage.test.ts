import { expect } from 'chai';
import { MemoryAdapter } from '@reprise/memory';
import { bag, buildApp, SECRET, setCookies, SID } from './support/app.js';

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

describe('a store outage during a restore', () => {
  async function evictedThenOutage() {
    const adapter = new FlakyAdapter();
    const t = buildApp({
      session: { secret: SECRET, maxSessions: 1, adapter, retryAfter: 7 },
      routes: {
        '/destroy': (req, res, next) => req.session.destroy((error) => (error === undefined ? res.json({ ok: true }) : next(error))),
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const value = alice.jar.get(SID)!;
    await t.browser().get('/inc');
    adapter.down = true;
    return { t, adapter, alice, value };
  }

  it("a write answers 503 with Retry-After through Express's default error handler, and the cookie is kept", async () => {
    const { t, adapter, alice, value } = await evictedThenOutage();
    const res = await alice.get('/set?cart=pear');
    expect(res.status).to.equal(503);
    expect(res.headers['retry-after']).to.equal('7');
    expect(setCookies(res), 'neither cleared nor replaced').to.deep.equal([]);
    expect(alice.jar.get(SID)).to.equal(value);
    adapter.down = false;
    const back = await alice.get('/read');
    expect((back.body.data as Record<string, unknown>).cart).to.equal('apple');
    expect(t.errors.length).to.be.greaterThan(0);
  });

  it('destroy(cb) during the outage passes the 503 error to its callback', async () => {
    const { alice } = await evictedThenOutage();
    const res = await alice.get('/destroy');
    expect(res.status).to.equal(503);
    expect(setCookies(res)).to.deep.equal([]);
  });

  it('a read during the outage answers 200 with an empty session', async () => {
    const { alice } = await evictedThenOutage();
    const res = await alice.get('/read');
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({});
    void bag;
  });
});
