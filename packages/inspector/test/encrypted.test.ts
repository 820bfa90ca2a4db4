import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { SessionManager } from '@reprise/core';
import { RedisAdapter } from '@reprise/redis';
import { assertBuilt, reprise } from './helpers/cli.js';
import { REDIS_URL, redisClient, requireRedis, uniqueName } from './helpers/services.js';

describe('reprise and snapshots encrypted at rest (snapshotKeys), on Redis', function () {
  this.timeout(60_000);
  const prefix = `${uniqueName('reprise_inspector_sealed')}:`;
  const client = redisClient();
  const store = ['--redis', REDIS_URL, '--redis-prefix', prefix];
  const key = randomBytes(32).toString('base64');
  let adapter: RedisAdapter;
  let sessionId: string;

  before(async function () {
    await requireRedis(this);
    assertBuilt();
    await client.connect();
    adapter = new RedisAdapter({ url: REDIS_URL, prefix });
    const manager = new SessionManager({ adapter, snapshotKeys: [{ id: 'k1', key }], checkpointInterval: 0 });
    const session = manager.create({ cart: new Map([['apple', 2]]), user: 'ada' });
    sessionId = session.id;
    await manager.close(session.id, 'expired');
    await manager.shutdown();
  });

  after(async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await adapter?.close();
    await client.quit();
  });

  it('the stored value is sealed: no data in it', async () => {
    const stored = await client.hGet(`${prefix}${sessionId}`, 'value');
    expect(stored).to.match(/^E1\.k1\./);
    expect(stored).to.not.include('apple');
  });

  it('without REPRISE_SNAPSHOT_KEYS, show names the key id it needs (exit 1)', async () => {
    const run = await reprise(['show', ...store, '--', sessionId]);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include('encrypted with key "k1"').and.to.include('REPRISE_SNAPSHOT_KEYS');
    expect(run.stdout + run.stderr).to.not.include('apple');
  });

  it('with the keys in REPRISE_SNAPSHOT_KEYS, show decodes the data and list tells its kind', async () => {
    const env = { REPRISE_SNAPSHOT_KEYS: `old:${randomBytes(32).toString('base64')},k1:${key}` };
    const run = await reprise(['show', '--json', ...store, '--', sessionId], env);
    expect(run.code, run.stderr).to.equal(0);
    const view = JSON.parse(run.stdout) as { kind: string; reason: string; data: Record<string, unknown> };
    expect(view.kind).to.equal('snapshot');
    expect(view.reason).to.equal('expired');
    expect(view.data.user).to.equal('ada');
    expect(JSON.stringify(view.data.cart)).to.include('apple');
    const list = await reprise(['list', '--json', ...store], env);
    expect(list.stdout).to.include('"kind":"snapshot"');
  });

  it('a wrong key does not open it (exit 1, reported), and a malformed variable is a usage error (64)', async () => {
    const wrong = await reprise(['show', ...store, '--', sessionId], { REPRISE_SNAPSHOT_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.include('does not open');
    expect(wrong.stdout + wrong.stderr).to.not.include('apple');
    const malformed = await reprise(['show', ...store, '--', sessionId], { REPRISE_SNAPSHOT_KEYS: 'no-colon-here' });
    expect(malformed.code).to.equal(64);
    expect(malformed.stderr).to.include('REPRISE_SNAPSHOT_KEYS');
  });
});
