import { expect } from 'chai';
import { Keyv, type KeyvOptions, type KeyvStoreAdapter } from 'keyv';
import KeyvRedis from '@keyv/redis';
import { KeyvAdapter } from '../src/index.js';
import { expectOptionError } from '@reprise/adapter-tests/internal';
import { RecordingStore } from './support/stores.js';

// Builds KeyvRedis stores without connecting them: constructing one opens no socket.
const REDIS_URL = 'redis://127.0.0.1:6379';

describe('KeyvAdapter: checks the Keyv it is given', () => {
  describe('refuses', () => {
    for (const [label, value] of [
      ['undefined', undefined],
      ['null', null],
      ['a string', 'redis://x'],
      ['a plain Map', new Map()],
      ['an object with get/set/delete but no opts', { get() {}, set() {}, delete() {} }],
    ] as Array<[string, unknown]>) {
      it(`${label}`, () => {
        expectOptionError(() => new KeyvAdapter(value as Keyv), /KeyvAdapter: expects a Keyv instance \(keyv \^5\.6\.0\)/);
      });
    }

    it('a Keyv-4-like object (no throwOnErrors/useKeyPrefix settings)', () => {
      const keyv4 = { opts: { store: new Map() }, get() {}, set() {}, delete() {} };
      expectOptionError(() => new KeyvAdapter(keyv4 as unknown as Keyv), /Keyv 5 instance .*no throwOnErrors\/useKeyPrefix/);
    });

    it('a Keyv created with store: undefined (its get() would always miss)', () => {
      const keyv = new Keyv({ store: undefined, throwOnErrors: true });
      // The trap itself: Keyv falls back to a Map for `keyv.store` but get() reads opts.store.
      expect(keyv.store).to.be.instanceOf(Map);
      expectOptionError(() => new KeyvAdapter(keyv), /has no store .*store: undefined/);
    });

    it('a Keyv with throwOnErrors off (the default), and leaves the setting alone', () => {
      const keyv = new Keyv();
      expectOptionError(() => new KeyvAdapter(keyv), /swallows store errors.*throwOnErrors: true/);
      expect(keyv.throwOnErrors, 'the adapter must not change the Keyv').to.equal(false);
    });

    it('a @keyv/redis store with throwOnErrors off (its default)', () => {
      const store = new KeyvRedis(REDIS_URL);
      const keyv = new Keyv(store, { throwOnErrors: true, useKeyPrefix: false });
      expectOptionError(() => new KeyvAdapter(keyv), /store swallows its own errors.*throwOnErrors: true/);
    });

    it('a @keyv/redis store with throwOnConnectError off', () => {
      const store = new KeyvRedis(REDIS_URL, { throwOnErrors: true, throwOnConnectError: false });
      const keyv = new Keyv(store, { throwOnErrors: true, useKeyPrefix: false });
      expectOptionError(() => new KeyvAdapter(keyv), /ignores connection failures.*throwOnConnectError/);
    });

    it('a double key prefix: Keyv and @keyv/redis both prefixing', () => {
      const store = new KeyvRedis(REDIS_URL, { throwOnErrors: true });
      const keyv = new Keyv(store, { throwOnErrors: true, namespace: 'app' });
      expectOptionError(() => new KeyvAdapter(keyv), /both the Keyv and its store prefix keys .*"app::app:k".*useKeyPrefix: false/);
      expect(keyv.useKeyPrefix, 'the adapter must not change the Keyv').to.equal(true);
    });

    it('no serializer with a store other than a Map (the store would get objects)', () => {
      const keyv = new Keyv(
        new RecordingStore() as unknown as KeyvStoreAdapter,
        { throwOnErrors: true, serialize: undefined, deserialize: undefined } as unknown as KeyvOptions,
      );
      expectOptionError(() => new KeyvAdapter(keyv), /no serialize\/deserialize/);
    });
  });

  describe('accepts', () => {
    it('Keyv with its in-memory Map: atomic, named keyv:map', () => {
      const adapter = new KeyvAdapter(new Keyv({ throwOnErrors: true }));
      expect(adapter.name).to.equal('keyv:map');
      expect(adapter.atomic).to.equal(true);
    });

    it('a Map store without serializer (values stay objects in memory)', () => {
      const adapter = new KeyvAdapter(
        new Keyv(new Map(), { throwOnErrors: true, serialize: undefined, deserialize: undefined } as unknown as KeyvOptions),
      );
      expect(adapter.atomic).to.equal(true);
    });

    it('@keyv/redis with one prefix (useKeyPrefix: false): atomic, named keyv:redis', () => {
      const store = new KeyvRedis(REDIS_URL, { throwOnErrors: true, namespace: 'app' });
      const adapter = new KeyvAdapter(new Keyv(store, { throwOnErrors: true, useKeyPrefix: false, namespace: 'app' }));
      expect(adapter.name).to.equal('keyv:redis');
      expect(adapter.atomic).to.equal(true);
    });

    it('@keyv/redis with no namespace anywhere (Keyv prefix only would be off too)', () => {
      const store = new KeyvRedis(REDIS_URL, { throwOnErrors: true });
      const keyv = new Keyv(store, { throwOnErrors: true, useKeyPrefix: false });
      keyv.namespace = undefined;
      expect(new KeyvAdapter(keyv).atomic).to.equal(true);
    });

    it('an unknown store: not atomic, named keyv', () => {
      const adapter = new KeyvAdapter(new Keyv(new RecordingStore() as unknown as KeyvStoreAdapter, { throwOnErrors: true }));
      expect(adapter.name).to.equal('keyv');
      expect(adapter.atomic).to.equal(false);
    });
  });
});
