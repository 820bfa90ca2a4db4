import { expect } from 'chai';
import { encodeSnapshot, newSessionId, redactId } from '@reprise/core/adapter-kit';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { assertBuilt, jsonLines, reprise } from './helpers/cli.js';
import { RICH_DATA_READABLE, writeScenario } from './helpers/scenario.js';
import type { Scenario } from './helpers/scenario.js';
import { freePort, REDIS_URL, redisClient, requireRedis, silentServer, uniqueName } from './helpers/services.js';

interface View {
  key: string;
  kind: string;
  reason?: string;
  sessionId?: string;
  bytes: number;
  ttlMs: number | null;
  closedAt?: string;
  target?: string;
  problem?: string;
  head?: string;
  detail?: string;
  data?: unknown;
}

/** A snapshot record of `data` under `key`, as the codec writes it. */
function snapshotText(key: string, data: Record<string, unknown>, sessionId = newSessionId()): string {
  return encodeSnapshot({ version: 1, key, sessionId, data, createdAt: 1_000, closedAt: 2_000, reason: 'evicted' }, Infinity).text;
}

describe('reprise on Redis (real adapter, manager and coordinator)', function () {
  this.timeout(60_000);
  const prefix = `${uniqueName('reprise_inspector_test')}:`;
  const client = redisClient();
  const store = ['--redis', REDIS_URL, '--redis-prefix', prefix];
  let adapter: RedisAdapter;
  let scenario: Scenario;
  let leased: string;

  before(async function () {
    await requireRedis(this);
    assertBuilt();
    await client.connect();
    adapter = new RedisAdapter({ url: REDIS_URL, prefix });
    scenario = await writeScenario(adapter);
    // A floor: what a restore leaves (a version without a value).
    await adapter.saveIfNewer('floor-key', snapshotText('floor-key', { a: 1 }), 5);
    await adapter.take('floor-key');
    // The coordinator's keys: lease:<id>, token:<id>, deadlines.
    const coordinator = new RedisCoordinator({ url: REDIS_URL }, { prefix });
    await coordinator.join('inspector-test', { handover: async () => {} });
    leased = newSessionId();
    await coordinator.claim(leased, 600_000, Date.now() + 600_000);
    await coordinator.leave();
    // What is not a Reprise snapshot: a corrupt record, a foreign JSON value, bytes that are not UTF-8,
    // a plain string, a hash of other fields, a list.
    await client.hSet(`${prefix}corrupt`, { value: 'R1:[{"broken', version: '1' });
    await client.hSet(`${prefix}foreign-json`, { value: '{"user":1}', version: '0' });
    await client.hSet(`${prefix}binary`, { value: Buffer.from([0xff, 0xfe, 0x00, 0x41]), version: '2' });
    await client.set(`${prefix}plain`, 'hello');
    await client.hSet(`${prefix}cache:x`, { a: '1', b: '2' });
    await client.lPush(`${prefix}queue`, 'job');
  });

  after(async () => {
    await scenario?.manager.shutdown();
    await adapter?.close();
    if (client.isOpen) {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length > 0) await client.unlink(keys);
      client.destroy();
    }
  });

  describe('list', () => {
    it('lists the records with kind, reason, redacted session, size and expiry, and nothing else by default', async () => {
      const run = await reprise(['list', ...store, '--json']);
      expect(run.code, run.stderr).to.equal(0);
      const views = jsonLines<View>(run.stdout);
      const byKey = new Map(views.map((view) => [view.key, view]));
      expect(byKey.get(redactId(scenario.evicted))).to.include({
        kind: 'snapshot',
        reason: 'evicted',
        sessionId: redactId(scenario.evicted),
      });
      expect(byKey.get('user:42')).to.include({ kind: 'snapshot', reason: 'expired', sessionId: redactId(scenario.pointed) });
      expect(byKey.get(redactId(scenario.pointed))).to.include({ kind: 'pointer', reason: 'expired', target: 'user:42' });
      expect(byKey.get(redactId(scenario.live))).to.include({ kind: 'checkpoint', reason: 'checkpoint' });
      expect(byKey.get(redactId(scenario.erased))).to.include({ kind: 'erased', reason: 'closed' });
      for (const key of ['corrupt', 'foreign-json', 'binary', 'plain']) expect(byKey.get(key), key).to.include({ kind: 'undecodable' });
      expect(views.map((view) => view.kind)).to.not.have.members(['lease', 'token', 'deadlines', 'floor', 'foreign']);
      expect(views).to.have.length(9);
      const evicted = byKey.get(redactId(scenario.evicted))!;
      expect(evicted.bytes).to.equal(Buffer.byteLength((await adapter.load(scenario.evicted))!));
      expect(evicted.ttlMs).to.be.within(6 * 86_400_000, 7 * 86_400_000);
      expect(Date.parse(evicted.closedAt!)).to.be.within(Date.now() - 120_000, Date.now());
    });

    it('never prints a whole session id without --show-ids, and prints them with it', async () => {
      const ids = [scenario.evicted, scenario.pointed, scenario.live, scenario.erased, leased];
      for (const args of [['list', '--all'], ['list', '--all', '--json'], ['stats'], ['stats', '--json']]) {
        const run = await reprise([...args, ...store]);
        expect(run.code, run.stderr).to.equal(0);
        for (const id of ids) expect(run.stdout, `${args.join(' ')} shows ${id}`).to.not.include(id);
      }
      const shown = await reprise(['list', '--all', '--show-ids', ...store]);
      for (const id of ids) expect(shown.stdout).to.include(id);
    });

    it("the text table has one line per key, the pointer's target and a summary", async () => {
      const run = await reprise(['list', ...store]);
      expect(run.code, run.stderr).to.equal(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^KIND\s+REASON\s+SESSION\s+BYTES\s+CLOSED AT\s+EXPIRES IN\s+KEY$/);
      expect(lines).to.have.length(1 + 9 + 1);
      expect(lines.find((line) => line.startsWith('pointer'))).to.match(
        new RegExp(
          `^pointer\\s+expired\\s+${redactId(scenario.pointed)}\\s+\\d+\\s+\\S+Z\\s+6d 23h\\s+${redactId(scenario.pointed)} -> user:42$`,
        ),
      );
      expect(lines.find((line) => line.includes('binary'))).to.match(/^undecodable .* binary {2}! the value is not UTF-8 text$/);
      expect(lines.at(-1)).to.match(/^9 keys /);
    });

    it("--all adds the floor, the coordinator's keys (redacted) and the foreign keys, told apart", async () => {
      const run = await reprise(['list', '--all', '--json', ...store]);
      expect(run.code, run.stderr).to.equal(0);
      const kinds = Object.fromEntries(jsonLines<View>(run.stdout).map((view) => [view.key, view.kind]));
      expect(kinds).to.include({
        'floor-key': 'floor',
        [`lease:${redactId(leased)}`]: 'lease',
        [`token:${redactId(leased)}`]: 'token',
        deadlines: 'deadlines',
        'cache:x': 'foreign',
        queue: 'foreign',
      });
      expect(Object.keys(kinds)).to.have.length(15);
    });

    it('filters by pattern and stops at --limit', async () => {
      const run = await reprise(['list', 'user:*', '--json', ...store]);
      expect(jsonLines<View>(run.stdout).map((view) => view.key)).to.deep.equal(['user:42']);
      const star = await reprise(['list', '*-json', '--json', ...store]);
      expect(jsonLines<View>(star.stdout).map((view) => view.key)).to.deep.equal(['foreign-json']);
      const limited = await reprise(['list', '--limit', '2', ...store]);
      expect(limited.code).to.equal(0);
      expect(limited.stdout.trimEnd().split('\n')).to.have.length(1 + 2 + 1);
      expect(limited.stdout).to.match(/2 keys, stopped at --limit 2/);
    });

    it('reads the store from REPRISE_REDIS_URL and REPRISE_REDIS_PREFIX', async () => {
      const run = await reprise(['list', 'user:*', '--json'], { REPRISE_REDIS_URL: REDIS_URL, REPRISE_REDIS_PREFIX: prefix });
      expect(run.code, run.stderr).to.equal(0);
      expect(jsonLines<View>(run.stdout).map((view) => view.key)).to.deep.equal(['user:42']);
    });
  });

  describe('show', () => {
    it("prints a snapshot's data as readable JSON: Dates as ISO strings, Map, Set, BigInt and bytes tagged", async () => {
      const run = await reprise(['show', '--json', ...store, '--', scenario.evicted]);
      expect(run.code, run.stderr).to.equal(0);
      const view = JSON.parse(run.stdout) as View;
      expect(view).to.include({
        kind: 'snapshot',
        reason: 'evicted',
        sessionId: redactId(scenario.evicted),
        key: redactId(scenario.evicted),
      });
      expect(view.data).to.deep.equal(RICH_DATA_READABLE);
    });

    it('finds a key by its redacted form, as list prints it', async () => {
      for (const reference of [redactId(scenario.evicted), `${scenario.evicted.slice(0, 6)}...`]) {
        const run = await reprise(['show', ...store, '--', reference]);
        expect(run.code, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/^key:\s+\S+…\nkind:\s+snapshot \(evicted\)\n/);
        expect(run.stdout).to.include('"when": "2026-01-02T03:04:05.678Z"');
        expect(run.stdout).to.include('"$bigint": "12345678901234567890"');
        expect(run.stdout).to.not.include(scenario.evicted);
      }
    });

    it('a redacted form that stands for two keys is refused (64)', async () => {
      const twins = ['AbCdEf', 'AbCdEf'].map((start) => start + newSessionId().slice(6));
      for (const twin of twins) await adapter.save(twin, snapshotText(twin, {}));
      try {
        const run = await reprise(['show', 'AbCdEf…', ...store]);
        expect(run.code).to.equal(64);
        expect(run.stderr).to.equal('reprise: AbCdEf… matches several keys: give the whole key (list --show-ids prints them)\n');
      } finally {
        for (const twin of twins) await adapter.delete(twin);
      }
    });

    it('shows a pointer with its target, and --raw prints the stored text exactly', async () => {
      const pointer = await reprise(['show', ...store, '--', scenario.pointed]);
      expect(pointer.code, pointer.stderr).to.equal(0);
      expect(pointer.stdout).to.match(/\nkind:\s+pointer \(expired\)\n/);
      expect(pointer.stdout).to.match(/\npoints to:\s+user:42 /);
      const raw = await reprise(['show', 'user:42', '--raw', ...store]);
      expect(raw.code).to.equal(0);
      expect(raw.bytes.equals(Buffer.from((await adapter.load('user:42'))!, 'utf8'))).to.equal(true);
    });

    it('reports a corrupt, foreign or binary value as undecodable with its first bytes, exit code 1, no stack trace', async () => {
      const cases: Array<[string, RegExp, string]> = [
        ['corrupt', /could not be parsed/, 'R1:[{\\x22broken'],
        ['foreign-json', /no R1: marker/, '{\\x22user\\x22:1}'],
        ['binary', /not UTF-8/, '\\xff\\xfe\\x00A'],
        ['plain', /no R1: marker/, 'hello'],
      ];
      for (const [key, problem, head] of cases) {
        const run = await reprise(['show', '--json', ...store, '--', key]);
        expect(run.code, key).to.equal(1);
        const view = JSON.parse(run.stdout) as View;
        expect(view.kind).to.equal('undecodable');
        expect(view.problem).to.match(problem);
        expect(view.head).to.equal(head.replaceAll('\\x22', '"'));
        expect(run.stderr.split('\n').filter(Boolean), key).to.have.length(1);
        expect(run.stderr).to.match(/^reprise: \S+ holds a value that is not a Reprise snapshot: /);
        expect(run.stderr).to.not.match(/\n\s+at /);
      }
      const text = await reprise(['show', 'binary', ...store]);
      expect(text.stdout).to.include('first bytes: \\xff\\xfe\\x00A');
    });

    it('a missing key is exit code 3; a coordinator key is described', async () => {
      const missing = await reprise(['show', 'no-such-key', ...store]);
      expect(missing.code).to.equal(3);
      expect(missing.stderr).to.equal('reprise: no key no-such-key in the store\n');
      const lease = await reprise(['show', ...store, '--', `lease:${redactId(leased)}`]);
      expect(lease.code, lease.stderr).to.equal(0);
      expect(lease.stdout).to.match(/\nkind:\s+lease\n[\s\S]*\nholds:\s+held by "inspector-test", token 1\n/);
    });

    it('never writes a control character of stored text to the terminal', async () => {
      const key = 'evil\u001b[2J\u009b';
      await adapter.save(key, snapshotText(key, { note: 'bell\u0007 csi\u009b31m' }));
      try {
        for (const args of [
          ['show', key],
          ['list', 'evil*'],
          ['show', key, '--json'],
        ]) {
          const run = await reprise([...args, ...store]);
          expect(run.code, run.stderr).to.equal(0);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
          expect(run.stdout, args.join(' ')).to.not.match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
          expect(run.stdout).to.include('\\u001b[2J\\u009b');
        }
      } finally {
        await adapter.delete(key);
      }
    });
  });

  describe('stats', () => {
    it('counts by kind and reason, adds up the stored bytes and what expires soon', async () => {
      const run = await reprise(['stats', '--json', '--soon', '8d', ...store]);
      expect(run.code, run.stderr).to.equal(0);
      const stats = JSON.parse(run.stdout) as {
        keys: number;
        kinds: Record<string, number>;
        reasons: Record<string, number>;
        bytes: { total: number; largest: number; largestKey: string };
        expiringSoon: { keys: number; withinMs: number };
        noExpiry: number;
      };
      expect(stats.kinds).to.deep.equal({
        snapshot: 2,
        checkpoint: 1,
        pointer: 1,
        erased: 1,
        undecodable: 4,
        floor: 1,
        lease: 1,
        token: 1,
        deadlines: 1,
        foreign: 2,
      });
      expect(stats.keys).to.equal(15);
      expect(stats.reasons).to.deep.equal({ evicted: 1, expired: 2, checkpoint: 1, closed: 1 });
      const values = await Promise.all(
        [scenario.evicted, 'user:42', scenario.pointed, scenario.live, scenario.erased].map(async (key) =>
          Buffer.byteLength((await adapter.load(key))!),
        ),
      );
      const others = 'R1:[{"broken'.length + '{"user":1}'.length + 4 + 'hello'.length;
      expect(stats.bytes.total).to.equal(values.reduce((a, b) => a + b, 0) + others);
      expect(stats.bytes.largest).to.equal(Math.max(...values));
      expect(stats.bytes.largestKey).to.equal(redactId(scenario.evicted));
      // Expiring within 8 days: the 5 records (7 days) and the lease (10 min); the token counter lives 30 days.
      expect(stats.expiringSoon).to.deep.equal({ withinMs: 8 * 86_400_000, keys: 6 });
      // Without expiry: the floor (of a value saved without TTL), deadlines, the 4 undecodable and the 2 foreign keys.
      expect(stats.noExpiry).to.equal(8);
      const text = await reprise(['stats', ...store]);
      expect(text.stdout).to.match(/\n {2}snapshot\s+2\n/);
      expect(text.stdout).to.match(/\n {2}lease\s+1\s+\(not a snapshot\)\n/);
      expect(text.stdout).to.include('expiring within 1h: 1\n');
    });
  });

  describe('delete', () => {
    it('deletes one snapshot by its redacted key, and the store no longer has it', async () => {
      const key = newSessionId();
      await adapter.save(key, snapshotText(key, { doomed: true }, key));
      const run = await reprise(['delete', ...store, '--', redactId(key)]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal(`deleted ${redactId(key)} (snapshot)\n`);
      expect(await client.exists(`${prefix}${key}`)).to.equal(0);
      const again = await reprise(['delete', ...store, '--', key]);
      expect(again.code).to.equal(3);
    });

    it('refuses to delete a coordinator or foreign key (exit code 1), which stays', async () => {
      for (const key of [`lease:${leased}`, 'deadlines', 'cache:x']) {
        const run = await reprise(['delete', ...store, '--', key]);
        expect(run.code, key).to.equal(1);
        expect(run.stderr).to.match(/is a (lease|deadlines|foreign) key .*not a snapshot: the inspector does not delete it\n$/);
        expect(await client.exists(`${prefix}${key}`), key).to.equal(1);
      }
    });

    it('a bulk delete without --yes counts and deletes nothing (64); with --yes it deletes the snapshots and keeps the rest', async () => {
      const keys = ['bulk:1', 'bulk:2', 'bulk:3'];
      for (const key of keys) await adapter.save(key, snapshotText(key, { k: key }));
      await client.hSet(`${prefix}bulk:lease-like`, { owner: 'x', token: '1' });
      const refused = await reprise(['delete', '--prefix', 'bulk:', ...store]);
      expect(refused.code).to.equal(64);
      expect(refused.stderr).to.equal(
        'reprise: 3 keys under prefix bulk: would be deleted (snapshot 3); nothing deleted: add --yes to delete them\n',
      );
      for (const key of keys) expect(await client.exists(`${prefix}${key}`)).to.equal(1);
      const run = await reprise(['delete', '--prefix', 'bulk:', '--yes', ...store]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal('deleted 3 keys under prefix bulk: (snapshot 3)\nkept 1 key that is not a snapshot (lease 1)\n');
      for (const key of keys) expect(await client.exists(`${prefix}${key}`)).to.equal(0);
      expect(await client.exists(`${prefix}bulk:lease-like`)).to.equal(1);
      expect(await adapter.load('user:42'), 'outside the prefix').to.be.a('string');
    });
  });

  describe('many keys', () => {
    it('pages through many keys: each listed, counted and deleted once', async () => {
      const keys = Array.from({ length: 250 }, (_, i) => `many:${String(i).padStart(3, '0')}`);
      await adapter.saveManyIfNewer(keys.map((key) => ({ key, value: snapshotText(key, { i: key }), version: 1 })));
      const listed = await reprise(['list', 'many:*', '--json', '--limit', '0', ...store]);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(
        jsonLines<View>(listed.stdout)
          .map((view) => view.key)
          .sort(),
      ).to.deep.equal(keys);
      const limited = await reprise(['list', 'many:*', '--json', '--limit', '120', ...store]);
      expect(jsonLines<View>(limited.stdout)).to.have.length(120);
      expect(limited.stderr).to.equal('reprise: stopped at --limit 120 (--limit 0 lists all)\n');
      const counted = await reprise(['stats', 'many:*', '--json', ...store]);
      expect(JSON.parse(counted.stdout)).to.deep.include({ keys: 250 });
      const deleted = await reprise(['delete', '--prefix', 'many:', '--yes', ...store]);
      expect(deleted.stdout).to.equal('deleted 250 keys under prefix many: (snapshot 250)\n');
      const left = await reprise(['list', 'many:*', '--json', '--all', ...store]);
      expect(left.stdout).to.equal('');
    });
  });

  describe('failures', () => {
    it('an unreachable Redis is exit code 2 with one line, the password hidden', async () => {
      const port = await freePort();
      const run = await reprise(['list', '--redis', `redis://user:s3cret@127.0.0.1:${port}`]);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.equal(
        `reprise: cannot reach Redis at redis://user:***@127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port})\n`,
      );
    });

    it('a Redis that accepts and never answers is exit code 2 after --timeout', async () => {
      const { port, server } = await silentServer();
      try {
        const started = Date.now();
        const run = await reprise(['stats', '--redis', `redis://127.0.0.1:${port}`, '--timeout', '500']);
        expect(run.code, run.stderr).to.equal(2);
        expect(run.stderr).to.match(/^reprise: (cannot reach Redis|Redis at) .*\n$/);
        expect(Date.now() - started).to.be.below(15_000);
      } finally {
        server.close();
      }
    });
  });
});
