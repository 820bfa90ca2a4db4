import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { expect } from 'chai';
import type { CloseReason } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { RedisAdapter } from '@reprise/redis';
import { buildApp, SECRET, sign, until, type Browser } from './support/app.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** Under CI a missing Redis is a failure, never a skip. */
const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

describe('on a real Redis', function () {
  const prefix = `reprise-test-fastify:${randomUUID()}:`;
  const probe = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  probe.on('error', () => {});
  const adapters: RedisAdapter[] = [];
  const adapter = (): RedisAdapter => {
    const made = new RedisAdapter({ url: REDIS_URL, prefix });
    adapters.push(made);
    return made;
  };

  before(async function () {
    try {
      await probe.connect();
      await probe.ping();
    } catch (error) {
      const reason = `Redis at ${REDIS_URL} is not available (${(error as Error).message})`;
      if (IN_CI) throw new Error(`${reason}; CI is set, so this is a failure and not a skip`);
      console.log(`      skipping: ${reason}`);
      this.skip();
    }
  });

  after(async () => {
    // The apps closed after each test (support/app.ts), so their last writes are done.
    await Promise.all(adapters.splice(0).map((made) => made.close()));
    if (!probe.isOpen) return;
    const keys = await probe.keys(`${prefix}*`);
    if (keys.length > 0) await probe.unlink(keys);
    probe.destroy();
  });

  it('an evicted session is written to Redis under its own prefix, and the returning cookie restores it under the same id', async () => {
    const closes: Array<[string, CloseReason]> = [];
    const t = await buildApp({
      session: { secret: SECRET, adapter: adapter() as never, maxSessions: 1, onClose: (s, reason) => void closes.push([s.id, reason]) },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const id = alice.sid!;
    await t.browser().get('/inc');
    await until(() => t.manager.stats().pendingPersists === 0 && t.manager.stats().closing === 0, 'the snapshot write');
    expect(closes).to.deep.include([id, 'evicted']);
    expect(await probe.exists(`${prefix}${id}`), 'stored in Redis under the prefix').to.equal(1);
    const stored = await adapters[0]!.load(id);
    expect(stored, 'the snapshot').to.be.a('string');
    const record = decodeRecord(stored!);
    expect(record.kind === 'snapshot' && record.snapshot.data).to.deep.equal({ cart: 'apple' });
    const res = await alice.get('/id');
    expect(res.body).to.deep.include({ id, data: { cart: 'apple' }, isNew: false });
    expect(alice.jar.get('reprise.sid')).to.equal(sign(id, SECRET));
    expect(t.manager.stats().restored).to.equal(1);
  });

  it('a restart: app.close() writes every session to Redis (hooks run), and a new process restores the cookie', async () => {
    const before = await buildApp({ session: { secret: SECRET, adapter: adapter() as never } });
    const alice: Browser = before.browser();
    await alice.get('/set?cart=pear');
    await alice.get('/inc');
    const id = alice.sid!;
    await before.app.close();
    expect(before.manager.stats()).to.include({ persisted: 1, pendingPersists: 0 });
    const after = await buildApp({ session: { secret: SECRET, adapter: adapter() as never } });
    const res = await alice.clone(after.app).get('/id');
    expect(res.body).to.deep.include({ id, data: { cart: 'pear', views: 1 } });
    const logout = await alice.clone(after.app).get('/logout');
    expect(logout.status).to.equal(200);
    const left = await adapters[1]!.load(id);
    expect(left === undefined ? undefined : decodeRecord(left).kind, 'a logout leaves no snapshot under the id').to.not.equal('snapshot');
    expect((await alice.clone(after.app).get('/read')).body.data, 'the replayed cookie gets nothing').to.deep.equal({});
  });
});
