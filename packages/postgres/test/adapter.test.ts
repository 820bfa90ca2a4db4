import { expect } from 'chai';
import type pg from 'pg';
import { PostgresAdapter } from '../src/index.js';
import { adminPool, dropTables, expectRejection, rowCount, sleep, uniqueName, POSTGRES_URL } from './helpers.js';

/** A string of `bytes` UTF-8 bytes mixing 1- to 4-byte characters and NULs. */
function mixedString(bytes: number): string {
  const pieces = ['a', '\u0000', 'é', '€', '𝄞'];
  let text = '';
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const piece = pieces[i % pieces.length]!;
    const pieceBytes = Buffer.byteLength(piece);
    if (size + pieceBytes > bytes) {
      text += 'a'.repeat(bytes - size);
      break;
    }
    text += piece;
    size += pieceBytes;
  }
  return text;
}

describe('PostgresAdapter: data', () => {
  const table = uniqueName();
  let admin: pg.Pool;
  let adapter: PostgresAdapter;

  before(() => {
    admin = adminPool();
    adapter = new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false });
  });

  after(async () => {
    await adapter.close();
    await dropTables(admin, `"${table}"`);
    await admin.end();
  });

  describe('round trip', () => {
    const cases: Array<[string, string]> = [
      ['the empty string', ''],
      ['NUL characters (which Postgres text refuses)', '\u0000a\u0000\u0000b\u0000'],
      ['only a NUL', '\u0000'],
      ['a leading U+FEFF (not eaten as a BOM)', '\uFEFF\uFEFFx'],
      ['unicode (astral, combining, RTL, emoji)', 'héllo 𝄞 ﷽ e\u0301 👩‍👩‍👧 日本語 \uFFFF'],
      ['SQL and escape look-alikes', "'; DROP TABLE x; -- \\x00 \\\\ E'\\n' $1"],
      ['1 MiB of 1- to 4-byte characters and NULs', mixedString(1024 * 1024)],
    ];
    for (const [label, value] of cases) {
      it(`keeps ${label}`, async () => {
        const key = `rt:${label}`;
        await adapter.save(key, value);
        expect(await adapter.load(key)).to.equal(value);
        expect(await adapter.take(key)).to.equal(value);
        expect(await adapter.load(key)).to.equal(undefined);
      });
    }

    it("stores the value as its exact UTF-8 bytes, findable by sha256 of the key (the README's recipe)", async () => {
      const value = 'x\u0000y€';
      await adapter.save('user:42', value, 60_000);
      const result = await admin.query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM "${table}" WHERE id = sha256(convert_to($1, 'UTF8'))`,
        ['user:42'],
      );
      expect(result.rows).to.have.length(1);
      expect(result.rows[0]!.key).to.equal('user:42');
      expect(result.rows[0]!.value.equals(Buffer.from(value, 'utf8'))).to.equal(true);
    });

    it("accepts any well-formed key: empty, NUL, and 1024 characters of 1- to 4-byte UTF-8 (past btree's 2704-byte limit)", async () => {
      const long = mixedString(4000).replaceAll('\u0000', 'b');
      const keys = ['', '\u0000', 'a\u0000', 'a\uFFFD', 'clé 𝄞', long, `${long}!`];
      expect(Buffer.byteLength(long)).to.be.greaterThan(2704);
      for (const key of keys) await adapter.save(key, `v-${key}`);
      for (const key of keys) expect(await adapter.load(key)).to.equal(`v-${key}`);
      // 'a\u0000' and 'a\uFFFD' share a label in the key column, but not an identity.
      const labels = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE key = 'a\uFFFD'`);
      expect(labels.rows[0]!.n).to.equal(2);
      for (const key of keys) expect(await adapter.delete(key)).to.equal(true);
    });
  });

  it('returns undefined and false for a missing key', async () => {
    expect(await adapter.load('missing')).to.equal(undefined);
    expect(await adapter.take('missing')).to.equal(undefined);
    expect(await adapter.delete('missing')).to.equal(false);
  });

  it('upserts: the last save wins, value and expiry', async () => {
    await adapter.save('up', 'one', 50);
    await adapter.save('up', 'two');
    expect(await adapter.load('up')).to.equal('two');
    await sleep(100);
    expect(await adapter.load('up'), 'the second save removed the TTL').to.equal('two');
    await adapter.save('up', 'three', 60_000);
    expect(await adapter.take('up')).to.equal('three');
  });

  it('delete is true once, for a live value', async () => {
    await adapter.save('del', 'v');
    expect(await adapter.delete('del')).to.equal(true);
    expect(await adapter.delete('del')).to.equal(false);
    expect(await adapter.load('del')).to.equal(undefined);
  });

  describe('TTL (database clock)', () => {
    it('keeps a value until its TTL and not after', async () => {
      await adapter.save('ttl', 'v', 400);
      await sleep(200);
      expect(await adapter.load('ttl'), 'half-way').to.equal('v');
      await sleep(300);
      expect(await adapter.load('ttl'), 'after the TTL').to.equal(undefined);
      expect(await adapter.take('ttl')).to.equal(undefined);
    });

    it('sets expires_at to now() + ttl on the server', async () => {
      await adapter.save('deadline', 'v', 60_000);
      const result = await admin.query<{ ms: number }>(
        `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM "${table}" WHERE key = 'deadline'`,
      );
      expect(result.rows[0]!.ms).to.be.within(58_000, 60_000);
      await adapter.delete('deadline');
    });

    it('never expires without a TTL', async () => {
      await adapter.save('forever', 'v');
      const result = await admin.query(`SELECT 1 FROM "${table}" WHERE key = 'forever' AND expires_at IS NULL`);
      expect(result.rowCount).to.equal(1);
      await adapter.delete('forever');
    });

    it('honours fractional and tiny TTLs, and caps absurd ones at about 10,000 years', async () => {
      await adapter.save('frac', 'v', 1500.5);
      expect(await adapter.load('frac')).to.equal('v');
      await adapter.save('tiny', 'v', 0.001);
      await sleep(5);
      expect(await adapter.load('tiny')).to.equal(undefined);
      await adapter.save('huge', 'v', Number.MAX_VALUE);
      expect(await adapter.load('huge')).to.equal('v');
      const result = await admin.query<{ year: number }>(
        `SELECT extract(year FROM expires_at)::int AS year FROM "${table}" WHERE key = 'huge'`,
      );
      expect(result.rows[0]!.year).to.be.within(11_000, 13_000);
      for (const key of ['frac', 'tiny', 'huge']) await adapter.delete(key);
    });

    it('reports an expired row as absent to delete and take, and deletes it', async () => {
      await adapter.save('exp-del', 'v', 30);
      await adapter.save('exp-take', 'v', 30);
      await sleep(80);
      const before = await rowCount(admin, `"${table}"`);
      expect(await adapter.delete('exp-del')).to.equal(false);
      expect(await adapter.take('exp-take')).to.equal(undefined);
      expect(await rowCount(admin, `"${table}"`)).to.equal(before - 2);
    });
  });

  it('take gives the value to exactly one of 50 concurrent callers', async () => {
    for (let round = 0; round < 3; round++) {
      await adapter.save('race', `value-${round}`, 60_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => adapter.take('race')));
      expect(results.filter((r) => r !== undefined)).to.deep.equal([`value-${round}`]);
      const left = await admin.query(`SELECT 1 FROM "${table}" WHERE key = 'race'`);
      expect(left.rowCount).to.equal(0);
    }
  });

  it('take is exactly-once across adapters with their own pools', async () => {
    const others = Array.from(
      { length: 4 },
      () => new PostgresAdapter({ connectionString: POSTGRES_URL }, { table, sweepInterval: false }),
    );
    try {
      await adapter.save('race2', 'v');
      const all = [adapter, ...others];
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => all[i % all.length]!.take('race2')));
      expect(results.filter((r) => r !== undefined)).to.deep.equal(['v']);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  describe('refusals (ERR_REPRISE_ADAPTER, nothing written)', () => {
    it('refuses non-string keys and values', async () => {
      await expectRejection(adapter.save(1 as unknown as string, 'v'), 'ERR_REPRISE_ADAPTER', /key must be a string, got 1/);
      await expectRejection(adapter.save('k', null as unknown as string), 'ERR_REPRISE_ADAPTER', /value must be a string, got null/);
      await expectRejection(adapter.load(undefined as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string/);
      await expectRejection(adapter.take({} as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string, got an object/);
      await expectRejection(adapter.delete([] as unknown as string), 'ERR_REPRISE_ADAPTER', /key must be a string, got an array/);
    });

    it('refuses lone surrogates instead of storing U+FFFD in their place', async () => {
      await expectRejection(adapter.save('k', 'a\uD800b'), 'ERR_REPRISE_ADAPTER', /value is not well-formed Unicode/);
      await expectRejection(adapter.save('k\uDC00', 'v'), 'ERR_REPRISE_ADAPTER', /key is not well-formed Unicode/);
      await expectRejection(adapter.load('\uD800'), 'ERR_REPRISE_ADAPTER', /key is not well-formed/);
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('refuses a TTL that is not a positive finite number', async () => {
      for (const ttl of [0, -1, NaN, Infinity, '10']) {
        await expectRejection(
          adapter.save('k', 'v', ttl as number),
          'ERR_REPRISE_ADAPTER',
          /ttlMs must be undefined or a positive finite number/,
        );
      }
      expect(await adapter.load('k')).to.equal(undefined);
    });

    it('rejects, not returns garbage, when a row holds bytes that are not UTF-8', async () => {
      await adapter.save('bad', 'v');
      await admin.query(`UPDATE "${table}" SET value = '\\xff'::bytea WHERE key = 'bad'`);
      const error = await expectRejection(adapter.load('bad'), 'ERR_REPRISE_ADAPTER', /load: the stored value is not UTF-8/);
      expect(error.cause).to.be.instanceOf(TypeError);
      await adapter.delete('bad');
    });
  });
});
