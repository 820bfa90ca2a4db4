import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { decodeRecord, encodeSnapshot, type DecodedRecord } from '../src/codec.js';
import { CodecError, OptionError, RestoreError, type RepriseError } from '../src/errors.js';
import type { SessionManagerOptions } from '../src/options.js';
import { SessionManager } from '../src/session-manager.js';
import { newSessionId } from '../src/session-id.js';
import { openSealedRecord, sealRecord } from '../src/snapshot-cipher.js';
import { normalizeSnapshotKeys, type SnapshotKey } from '../src/snapshot-keys.js';
import { installClock, type Clock } from './support/clock.js';
import { flushMicrotasks } from './support/deferred.js';
import { record as recordEvents } from './support/events.js';
import { ADAPTER_KINDS, resumeAndRelease } from './support/manager.js';
import { BatchingTestAdapter, type TestAdapter } from './support/test-adapter.js';

type Data = { secret?: string; n?: number };

const K1: SnapshotKey = { id: 'k1', key: randomBytes(32) };
const K2: SnapshotKey = { id: 'k2', key: randomBytes(32) };
/** In every session's data: no raw value in the store may contain it. */
const MARKER = 'MARKER-c0ffee';

/** The raw value the adapter holds under `key`. */
function raw(adapter: TestAdapter, key: string): string | undefined {
  return adapter.entries.get(key)?.value;
}

/** Every raw value the adapter holds is sealed (with key `id`) and none shows the marker. */
function expectAllSealed(adapter: TestAdapter, id = 'k1'): void {
  expect(adapter.entries.size, 'something was written').to.be.greaterThan(0);
  for (const [key, { value }] of adapter.entries) {
    expect(value.startsWith(`E1.${id}.`), `${key} holds ${value.slice(0, 20)}…`).to.equal(true);
    expect(value).to.not.include(MARKER);
    expect(value).to.not.match(/R\d+:/);
  }
}

/** The record under `key`, opened with `keys` and decoded. */
function opened(adapter: TestAdapter, key: string, keys: SnapshotKey[] = [K1, K2]): DecodedRecord {
  const value = raw(adapter, key);
  expect(value, `a value under ${key}`).to.be.a('string');
  return decodeRecord(openSealedRecord(value!, key, keys));
}

/** The refusals reported so far: RestoreErrors whose cause is an `ERR_REPRISE_SNAPSHOT_AUTH` CodecError. */
function authRefusals(errors: readonly RepriseError[]): CodecError[] {
  return errors
    .filter((error): error is RestoreError => error instanceof RestoreError)
    .map((error) => error.cause)
    .filter((cause): cause is CodecError => cause instanceof CodecError && cause.code === 'ERR_REPRISE_SNAPSHOT_AUTH');
}

describe('snapshot encryption in the manager', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => clock.uninstall());

  it('snapshotKeys is validated at construction (an OptionError), is no run-time option, and a typo is caught', () => {
    const adapter = ADAPTER_KINDS[0]!.make().adapter;
    expect(() => new SessionManager({ adapter, snapshotKeys: [{ id: 'k1', key: randomBytes(16) }] })).to.throw(
      OptionError,
      'snapshotKeys[0].key must be 32 bytes',
    );
    expect(() => new SessionManager({ adapter, snapshotKey: [K1] } as SessionManagerOptions)).to.throw(
      OptionError,
      'did you mean "snapshotKeys"',
    );
    const manager = new SessionManager({ adapter, snapshotKeys: [K1] });
    expect(() => manager.setOption('snapshotKeys' as 'maxSessions', 1)).to.throw(OptionError, 'setOption: unknown option "snapshotKeys"');
  });

  for (const kind of ADAPTER_KINDS) {
    describe(kind.name, () => {
      const make = (options: Partial<SessionManagerOptions<Data>> = {}) => kind.make<Data>({ snapshotKeys: [K1], ...options });

      it('an evicted session is stored sealed (no plaintext), and its cookie restores it with its data', async () => {
        const { manager, adapter, events } = make({ maxSessions: 1 });
        const a = manager.create({ secret: MARKER, n: 1 });
        manager.create({ n: 2 });
        await flushMicrotasks();
        await clock.tickAsync(0);
        expect(events.closes.map((c) => [c.id, c.reason])).to.deep.equal([[a.id, 'evicted']]);
        expectAllSealed(adapter);
        const stored = opened(adapter, a.id);
        expect(stored.kind === 'snapshot' && stored.snapshot).to.deep.include({ sessionId: a.id, reason: 'evicted' });
        const found = await resumeAndRelease(manager, a.id);
        expect(found.kind).to.equal('restored');
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ secret: MARKER, n: 1 });
        expect(events.errors).to.deep.equal([]);
      });

      it('a persistKey of its own: the snapshot under the key and the pointer under the id are both sealed; the cookie restores through the pointer, restore(key) by the key', async () => {
        const { manager, adapter, events } = make();
        const a = manager.create({ secret: MARKER });
        a.persistKey = 'user:ann';
        await manager.close(a.id, 'expired');
        expect(adapter.keys()).to.have.members(['user:ann', a.id]);
        expectAllSealed(adapter);
        expect(opened(adapter, a.id).kind).to.equal('pointer');
        expect(raw(adapter, a.id)).to.not.include('user:ann');
        const found = await resumeAndRelease(manager, a.id);
        expect(found.kind === 'restored' && [found.session.data, found.session.persistKey]).to.deep.equal([{ secret: MARKER }, 'user:ann']);
        await manager.close(a.id, 'closed');
        expectAllSealed(adapter);
        const back = await manager.restore('user:ann');
        expect(back?.data).to.deep.equal({ secret: MARKER });
        expect(events.errors).to.deep.equal([]);
      });

      it('checkpoints and the erasure an explicit close writes over them are sealed', async () => {
        const { manager, adapter } = make({ checkpointInterval: 1_000 });
        const a = manager.create({ secret: MARKER });
        await clock.tickAsync(1_000);
        await flushMicrotasks(50);
        expect(manager.stats().checkpoints).to.equal(1);
        expectAllSealed(adapter);
        const checkpoint = opened(adapter, a.id);
        expect(checkpoint.kind === 'snapshot' && checkpoint.snapshot.reason).to.equal('checkpoint');
        await manager.close(a.id, 'closed');
        expectAllSealed(adapter);
        const erased = opened(adapter, a.id);
        expect(erased.kind === 'pointer' && erased.pointer.reason).to.equal('closed');
      });

      it('an unchanged session is not checkpointed again (the comparison is on the record, not on the sealed value)', async () => {
        const { manager, adapter } = make({ checkpointInterval: 1_000 });
        const a = manager.create({ n: 1 });
        await clock.tickAsync(1_000);
        await flushMicrotasks(50);
        const saves = adapter.callsOf('save').length;
        manager.touch(a.id);
        await clock.tickAsync(1_000);
        await flushMicrotasks(50);
        expect(adapter.callsOf('save').length).to.equal(saves);
      });

      it('the retry queue: a write that failed is sealed when it lands; one still queued is restored from the queue', async () => {
        const { manager, adapter } = make();
        adapter.failSaves = true;
        const a = manager.create({ secret: MARKER });
        const b = manager.create({ secret: MARKER });
        await manager.close(a.id, 'expired');
        await manager.close(b.id, 'expired');
        const found = await resumeAndRelease(manager, b.id);
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ secret: MARKER });
        adapter.failSaves = false;
        await clock.tickAsync(10_000);
        expect(adapter.keys()).to.deep.equal([a.id]);
        expectAllSealed(adapter);
      });

      it('a value altered in the store is refused and reported; the visitor gets nothing to restore (a fresh session), and the record stays for inspection', async () => {
        const { manager, adapter, events } = make();
        const a = manager.create({ secret: MARKER });
        await manager.close(a.id, 'evicted');
        const value = raw(adapter, a.id)!;
        const at = value.length - 30;
        adapter.entries.get(a.id)!.value = value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
        const found = await resumeAndRelease(manager, a.id);
        expect(found.kind).to.equal('none');
        const refusals = authRefusals(events.errors);
        expect(refusals).to.have.length(1);
        expect(refusals[0]!.message).to.include('does not authenticate');
        expect(manager.stats().restoreFailures).to.equal(1);
        expect(raw(adapter, a.id), 'left in place').to.be.a('string');
        const fresh = manager.create({ n: 1 });
        expect(fresh.id).to.not.equal(a.id);
      });

      it("two sessions' records swapped in the store: both refused (each is bound to its key), neither visitor gets the other's data", async () => {
        const { manager, adapter, events } = make();
        const a = manager.create({ secret: 'ann' });
        const b = manager.create({ secret: 'bob' });
        await manager.close(a.id, 'evicted');
        await manager.close(b.id, 'evicted');
        const [va, vb] = [raw(adapter, a.id)!, raw(adapter, b.id)!];
        adapter.entries.get(a.id)!.value = vb;
        adapter.entries.get(b.id)!.value = va;
        expect((await resumeAndRelease(manager, a.id)).kind).to.equal('none');
        expect((await resumeAndRelease(manager, b.id)).kind).to.equal('none');
        expect(authRefusals(events.errors)).to.have.length(2);
        expect(events.restores).to.deep.equal([]);
      });

      it("restore(key) of a snapshot copied from another user's key is refused", async () => {
        const { manager, adapter, events } = make();
        const a = manager.create({ secret: 'ann' });
        a.persistKey = 'user:ann';
        await manager.close(a.id, 'closed');
        adapter.put('user:bob', raw(adapter, 'user:ann')!);
        expect(await manager.restore('user:bob')).to.equal(undefined);
        expect(authRefusals(events.errors)).to.have.length(1);
        expect((await manager.restore('user:ann'))?.data).to.deep.equal({ secret: 'ann' });
      });

      it('a record under a shared key that does not open is replaced by the next close of that key (not a store failure that blocks it)', async () => {
        const { manager, adapter, events } = make();
        const a = manager.create({ secret: 'ann-1' });
        a.persistKey = 'user:ann';
        await manager.close(a.id, 'closed');
        const value = raw(adapter, 'user:ann')!;
        adapter.entries.get('user:ann')!.value = value.slice(0, -5) + (value.endsWith('AAAAA') ? 'BBBBB' : 'AAAAA');
        const b = manager.create({ secret: 'ann-2' });
        b.persistKey = 'user:ann';
        await manager.close(b.id, 'closed');
        expect(events.persistFailed).to.deep.equal([]);
        expect((await manager.restore('user:ann'))?.data).to.deep.equal({ secret: 'ann-2' });
      });

      it('a plaintext record: refused and reported by default; restored with acceptPlaintextSnapshots (and written back sealed)', async () => {
        const id = newSessionId();
        const plaintext = encodeSnapshot(
          { version: 1, key: id, sessionId: id, data: { secret: MARKER }, createdAt: Date.now(), closedAt: Date.now(), reason: 'evicted' },
          Infinity,
        ).text;
        const strict = make();
        strict.adapter.put(id, plaintext);
        expect((await resumeAndRelease(strict.manager, id)).kind).to.equal('none');
        expect(authRefusals(strict.events.errors).map((e) => e.message)[0]).to.include('plaintext');

        const migrating = make({ acceptPlaintextSnapshots: true });
        migrating.adapter.put(id, plaintext);
        const found = await resumeAndRelease(migrating.manager, id);
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ secret: MARKER });
        await migrating.manager.close(id, 'evicted');
        expectAllSealed(migrating.adapter);
      });

      it('without keys, an encrypted record is refused and reported as needing snapshotKeys', async () => {
        const { manager, adapter, events } = kind.make<Data>();
        const id = newSessionId();
        const text = encodeSnapshot(
          { version: 1, key: id, sessionId: id, data: { n: 1 }, createdAt: Date.now(), closedAt: Date.now(), reason: 'evicted' },
          Infinity,
        ).text;
        adapter.put(id, sealRecord(text, id, normalizeSnapshotKeys([K1])!));
        expect((await resumeAndRelease(manager, id)).kind).to.equal('none');
        const [refusal] = authRefusals(events.errors);
        expect(refusal?.message).to.include('no snapshotKeys');
      });

      it('rotation across a restart: new key first, old key second; old snapshots restore, new ones are sealed with the new key; dropping the old key refuses what it sealed', async () => {
        const before = make({ maxSessions: 10 });
        const a = before.manager.create({ secret: 'old' });
        const b = before.manager.create({ secret: 'older' });
        await before.manager.shutdown();
        expectAllSealed(before.adapter, 'k1');

        // The same store, read by a new manager (the restarted process).
        const restart = (snapshotKeys: SnapshotKey[]) => {
          const manager = new SessionManager<Data>({ adapter: before.adapter, snapshotKeys });
          return { manager, events: recordEvents(manager) };
        };
        const after = restart([K2, K1]);
        const found = await resumeAndRelease(after.manager, a.id);
        expect(after.events.errors).to.deep.equal([]);
        expect(found.kind === 'restored' && found.session.data).to.deep.equal({ secret: 'old' });
        await after.manager.close(a.id, 'evicted');
        expect(raw(before.adapter, a.id)!.startsWith('E1.k2.')).to.equal(true);

        const third = restart([K2]);
        expect((await resumeAndRelease(third.manager, a.id)).kind).to.equal('restored');
        expect((await resumeAndRelease(third.manager, b.id)).kind).to.equal('none');
        expect(authRefusals(third.events.errors)[0]?.message).to.include('"k1"');
      });
    });
  }

  it('batched writes (saveManyIfNewer): every value of every batch is sealed for its own key', async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    const manager = new SessionManager<Data>({ adapter, maxSessions: 100, snapshotKeys: [K1] });
    const events = recordEvents(manager);
    const ids = Array.from({ length: 50 }, (_, n) => manager.create({ secret: MARKER, n }).id);
    await manager.shutdown();
    expect(adapter.batches.reduce((sum, size) => sum + size, 0)).to.equal(50);
    expect(adapter.batches.length).to.be.lessThan(50);
    expectAllSealed(adapter);
    ids.forEach((id, n) => {
      const stored = opened(adapter, id);
      expect(stored.kind === 'snapshot' && stored.snapshot.data).to.deep.equal({ secret: MARKER, n });
    });
    expect(events.errors).to.deep.equal([]);
  });
});
