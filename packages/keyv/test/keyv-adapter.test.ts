import { expect } from 'chai';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { RepriseError } from '@reprise/core';
import { KeyvAdapter } from '../src/index.js';
import { keyvTtl } from '../src/arguments.js';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { RecordingStore } from './support/stores.js';

function recordingKeyv(options: Record<string, unknown> = {}): { store: RecordingStore; keyv: Keyv; adapter: KeyvAdapter } {
  const store = new RecordingStore();
  const keyv = new Keyv(store as unknown as KeyvStoreAdapter, { throwOnErrors: true, ...options });
  return { store, keyv, adapter: new KeyvAdapter(keyv) };
}

describe('KeyvAdapter over Keyv and a Map or a custom store', () => {
  describe('TTL handed to the store', () => {
    const cases: Array<[number | undefined, number | undefined]> = [
      [0.3, 1],
      [1, 1],
      [1500.2, 1501],
      [60_000, 60_000],
      [undefined, undefined],
    ];
    for (const [given, expected] of cases) {
      it(`${String(given)} ms -> ${String(expected)}`, async () => {
        const { store, adapter } = recordingKeyv();
        await adapter.save('k', 'v', given);
        const set = store.calls.find((call) => call.op === 'set');
        expect(set?.ttl).to.equal(expected);
      });
    }

    it('clamps an astronomically long TTL to a safe integer deadline', () => {
      const now = 1_700_000_000_000;
      const ttl = keyvTtl(1e300, now);
      expect(Number.isSafeInteger(ttl)).to.equal(true);
      expect(Number.isSafeInteger(now + ttl)).to.equal(true);
    });

    it('no TTL means no expiry even when the Keyv has a default ttl', async () => {
      const { store, adapter } = recordingKeyv({ ttl: 5 });
      await adapter.save('k', 'v');
      expect(store.calls.find((call) => call.op === 'set')?.ttl, 'Keyv must not apply its default').to.equal(undefined);
      const envelope = JSON.parse(String(store.data.get('keyv:k'))) as { expires?: number };
      expect(envelope.expires).to.equal(undefined);
    });

    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      it(`rejects ttlMs ${String(bad)} with ERR_REPRISE_ADAPTER and writes nothing`, async () => {
        const { store, adapter } = recordingKeyv();
        await expectRejection(
          adapter.save('k', 'v', bad as number),
          'ERR_REPRISE_ADAPTER',
          /ttlMs must be undefined or a positive finite number/,
        );
        expect(store.calls).to.deep.equal([]);
      });
    }
  });

  describe('keys: one prefix', () => {
    it('stores under namespace:key exactly once', async () => {
      const { store, adapter } = recordingKeyv({ namespace: 'app' });
      await adapter.save('user:42', 'v');
      expect([...store.data.keys()]).to.deep.equal(['app:user:42']);
    });

    it('a key that already starts with the namespace does not collide with the bare key (Keyv trap)', async () => {
      const { store, adapter } = recordingKeyv({ namespace: 'app' });
      await adapter.save('x', 'bare');
      await adapter.save('app:x', 'prefixed');
      expect([...store.data.keys()].sort()).to.deep.equal(['app:app:x', 'app:x']);
      expect(await adapter.load('x')).to.equal('bare');
      expect(await adapter.load('app:x')).to.equal('prefixed');
    });

    it('no namespace, or useKeyPrefix false: the key as it is', async () => {
      const off = recordingKeyv({ useKeyPrefix: false, namespace: 'app' });
      await off.adapter.save('k', 'v');
      const none = recordingKeyv();
      none.keyv.namespace = undefined;
      await none.adapter.save('k', 'v');
      expect([...off.store.data.keys(), ...none.store.data.keys()]).to.deep.equal(['k', 'k']);
    });
  });

  describe('errors are thrown, not swallowed', () => {
    for (const op of ['save', 'load', 'take', 'delete'] as const) {
      it(`${op} rejects with ERR_REPRISE_ADAPTER carrying the store error as cause`, async () => {
        const { store, adapter } = recordingKeyv();
        const boom = new Error('store is down');
        store.failWith = boom;
        const call = op === 'save' ? adapter.save('k', 'v') : adapter[op]('k');
        const error = await expectRejection(call, 'ERR_REPRISE_ADAPTER', new RegExp(`KeyvAdapter: ${op} failed: store is down`));
        expect(error.cause).to.equal(boom);
      });
    }

    it('a store that reports a refused write (set -> false) fails the save', async () => {
      const { store, adapter } = recordingKeyv();
      store.refuseWrites = true;
      await expectRejection(adapter.save('k', 'v'), 'ERR_REPRISE_ADAPTER', /did not write the value/);
    });

    it('a non-string value under the key is an error, not a value', async () => {
      const keyv = new Keyv({ throwOnErrors: true });
      await keyv.set('odd', { not: 'a string' });
      await expectRejection(new KeyvAdapter(keyv).load('odd'), 'ERR_REPRISE_ADAPTER', /holds an object under this key/);
    });

    it('an error message never contains the key or the value', async () => {
      const { store, adapter } = recordingKeyv();
      store.failWith = new Error('down');
      const error = await expectRejection(adapter.save('secret-session-id', 'secret-value'), 'ERR_REPRISE_ADAPTER', /save failed/);
      expect(error.message).not.to.match(/secret/);
    });

    for (const [label, call] of [
      ['a non-string key', (a: KeyvAdapter) => a.load(42 as unknown as string)],
      ['a non-string value', (a: KeyvAdapter) => a.save('k', { v: 1 } as unknown as string)],
    ] as const) {
      it(`rejects ${label} with ERR_REPRISE_ADAPTER`, async () => {
        await expectRejection(
          call(new KeyvAdapter(new Keyv({ throwOnErrors: true }))),
          'ERR_REPRISE_ADAPTER',
          /must be a string, got (a number|42|an object)/,
        );
      });
    }
  });

  describe('with the in-memory Map store', () => {
    let adapter: KeyvAdapter;
    beforeEach(() => {
      adapter = new KeyvAdapter(new Keyv({ throwOnErrors: true }));
    });

    it('round-trips unicode, NUL characters and colon-leading strings (serializer escapes)', async () => {
      for (const value of ['', 'héllo 𝄞 👩‍👩‍👧', '\u0000a\u0000', ':base64:AAEC', '::x', '{"value":1}']) {
        await adapter.save('k', value);
        expect(await adapter.load('k')).to.equal(value);
        expect(await adapter.take('k')).to.equal(value);
        expect(await adapter.load('k')).to.equal(undefined);
      }
    });

    it('concurrent takes: exactly one caller gets the value', async () => {
      await adapter.save('k', 'v');
      const results = await Promise.all(Array.from({ length: 25 }, () => adapter.take('k')));
      expect(results.filter((r) => r === 'v')).to.have.length(1);
      expect(results.filter((r) => r === undefined)).to.have.length(24);
    });

    it('delete: true for a readable entry, false for a missing or expired one', async () => {
      await adapter.save('live', 'v');
      await adapter.save('short', 'v', 1);
      const deadline = Date.now() + 2;
      while (Date.now() <= deadline) await new Promise((resolve) => setImmediate(resolve));
      expect(await adapter.delete('live')).to.equal(true);
      expect(await adapter.delete('live')).to.equal(false);
      expect(await adapter.delete('missing')).to.equal(false);
      expect(await adapter.delete('short'), 'expired but still held by the Map').to.equal(false);
    });

    it('upsert replaces the value and its TTL', async () => {
      await adapter.save('k', 'one', 1);
      await adapter.save('k', 'two');
      const deadline = Date.now() + 2;
      while (Date.now() <= deadline) await new Promise((resolve) => setImmediate(resolve));
      expect(await adapter.load('k')).to.equal('two');
    });
  });

  describe('close()', () => {
    it('waits for calls in flight, rejects later calls, and leaves the Keyv usable', async () => {
      const keyv = new Keyv({ throwOnErrors: true });
      const adapter = new KeyvAdapter(keyv);
      const saving = adapter.save('k', 'v');
      await adapter.close();
      await saving;
      expect(await keyv.get('keyv:k'), 'the save in flight completed before close resolved').to.equal('v');
      await expectRejection(adapter.load('k'), 'ERR_REPRISE_ADAPTER', /load after close\(\)/);
      await adapter.close();
      await keyv.set('other', 1);
      expect(await keyv.get('other')).to.equal(1);
    });

    it('a rejection after close is a RepriseError, not a throw', () => {
      const adapter = new KeyvAdapter(new Keyv({ throwOnErrors: true }));
      void adapter.close();
      const call = adapter.take('k');
      expect(call).to.be.instanceOf(Promise);
      return call.then(
        () => expect.fail('expected a rejection'),
        (error: unknown) => expect(error).to.be.instanceOf(RepriseError),
      );
    });
  });
});
