import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Keyv } from 'keyv';
import KeyvPostgres from '@keyv/postgres';
import pg from 'pg';
import { KeyvAdapter } from '../src/index.js';
import { expectRejection } from '@reprise/adapter-tests/internal';

const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://root@127.0.0.1:5432/test';

describe('KeyvAdapter over @keyv/postgres (real Postgres)', () => {
  const table = `reprise_keyv_test_${randomUUID().replaceAll('-', '')}`;
  const namespace = 'reprise';
  const sql = new pg.Client({ connectionString: POSTGRES_URL });
  let keyv: Keyv;
  let adapter: KeyvAdapter;

  before(async () => {
    await sql.connect();
    // allowExitOnIdle is spread into @keyv/postgres's (module-global) pg.Pool.
    const store = new KeyvPostgres({ uri: POSTGRES_URL, table, allowExitOnIdle: true });
    keyv = new Keyv(store, { namespace, throwOnErrors: true });
    adapter = new KeyvAdapter(keyv);
    // The store creates its table asynchronously; the first query waits for it.
    await adapter.load('warm-up');
  });

  after(async () => {
    await adapter?.close();
    await keyv?.disconnect();
    await sql.query(`DROP TABLE IF EXISTS public.${table}`);
    await sql.end();
  });

  async function rows(): Promise<Array<{ key: string; value: string }>> {
    return (await sql.query<{ key: string; value: string }>(`SELECT key, value FROM public.${table} ORDER BY key`)).rows;
  }

  it('is not atomic (its delete is a SELECT then a DELETE) and named keyv:postgres', () => {
    expect(adapter.atomic).to.equal(false);
    expect(adapter.name).to.equal('keyv:postgres');
  });

  it('round-trips unicode and NUL characters under namespace:key', async () => {
    const value = 'héllo 𝄞 \u0000 👩‍👩‍👧';
    await adapter.save('user:42', value);
    expect((await rows()).map((row) => row.key)).to.deep.equal(['reprise:user:42']);
    expect(await adapter.take('user:42')).to.equal(value);
    expect(await rows()).to.deep.equal([]);
  });

  it('keys are limited to 255 characters including "namespace:"; a longer one rejects, never silently', async () => {
    const longest = 'k'.repeat(255 - 'reprise:'.length);
    await adapter.save(longest, 'v');
    expect(await adapter.take(longest)).to.equal('v');
    const error = await expectRejection(adapter.save(`${longest}k`, 'v'), 'ERR_REPRISE_ADAPTER', /save failed: value too long/);
    expect(error.cause).to.be.instanceOf(Error);
  });

  it('expired rows stay in the table until read (no sweep); a read hides and removes them', async () => {
    await adapter.save('short', 'v', 5);
    const deadline = Date.now() + 6;
    while (Date.now() <= deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(
      (await rows()).map((row) => row.key),
      'still there after its TTL',
    ).to.include('reprise:short');
    expect(await adapter.load('short')).to.equal(undefined);
    expect((await rows()).map((row) => row.key)).not.to.include('reprise:short');
  });

  it('delete of an expired row reports false', async () => {
    await adapter.save('gone', 'v', 5);
    const deadline = Date.now() + 6;
    while (Date.now() <= deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(await adapter.delete('gone')).to.equal(false);
    expect(await adapter.delete('missing')).to.equal(false);
    await adapter.save('here', 'v');
    expect(await adapter.delete('here')).to.equal(true);
  });
});
