import { expect } from 'chai';
import { OptionError } from '../src/errors.js';
import { DEFAULTS } from '../src/options.js';
import { SessionManager } from '../src/session-manager.js';
import type { CloseReason } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { TestAdapter } from './support/test-adapter.js';
import { makeManager } from './support/manager.js';

describe('timeouts (fake timers)', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  describe('idle timeout', () => {
    it('expires an idle session with no request, through the hooks', async () => {
      const reasons: CloseReason[] = [];
      const { manager, events } = makeManager({ idleTimeout: 1_000, onClose: (_s, reason) => void reasons.push(reason) });
      const a = manager.create({ n: 1 });
      await clock.tickAsync(999);
      expect(a.state).to.equal('live');
      await clock.tickAsync(1);
      expect(manager.get(a.id)).to.equal(undefined);
      expect(a.state).to.equal('closed');
      expect(reasons).to.deep.equal(['expired']);
      expect(events.closes.map((c) => c.reason)).to.deep.equal(['expired']);
      expect(manager.stats().closed.expired).to.equal(1);
    });

    it('uses the default idle timeout (480 min) when none is given', async () => {
      const { manager } = makeManager();
      expect(manager.getOption('idleTimeout')).to.equal(480 * 60_000);
      const a = manager.create();
      await clock.tickAsync(480 * 60_000 - 1);
      expect(a.state).to.equal('live');
      await clock.tickAsync(1);
      expect(a.state).to.equal('closed');
    });

    it('activity slides the expiry', async () => {
      const { manager } = makeManager({ idleTimeout: 1_000 });
      const a = manager.create();
      for (let i = 0; i < 5; i += 1) {
        await clock.tickAsync(900);
        manager.touch(a.id);
      }
      expect(a.state).to.equal('live');
      await clock.tickAsync(999);
      expect(a.state).to.equal('live');
      await clock.tickAsync(1);
      expect(a.state).to.equal('closed');
    });

    it('expires many sessions at their own deadlines on one timer', async () => {
      const { manager } = makeManager({ idleTimeout: 1_000 });
      const sessions = [];
      for (let i = 0; i < 20; i += 1) {
        sessions.push(manager.create());
        await clock.tickAsync(10);
      }
      expect(clock.countTimers()).to.equal(1);
      await clock.tickAsync(1_000 - 200 + 55); // the first 6 (created at 0..50 ms) are due
      expect(sessions.filter((s) => s.state !== 'live')).to.have.length(6);
      expect(sessions.slice(0, 6).every((s) => s.state === 'closed')).to.equal(true);
      await clock.tickAsync(1_000);
      expect(manager.size).to.equal(0);
      expect(manager.stats().closed.expired).to.equal(20);
    });

    it("a busy session's idle expiry waits until its request ends, then restarts", async () => {
      const { manager } = makeManager({ idleTimeout: 1_000 });
      const a = manager.acquire(manager.create().id)!;
      await clock.tickAsync(10_000);
      expect(a.state).to.equal('live');
      manager.release(a);
      expect(manager.getExpiration(a.id)).to.equal(Date.now() + 1_000);
      await clock.tickAsync(999);
      expect(a.state).to.equal('live');
      await clock.tickAsync(1);
      expect(a.state).to.equal('closed');
      expect(a.closeReason).to.equal('expired');
    });

    it('a session held by two requests expires only after both end', async () => {
      const { manager } = makeManager({ idleTimeout: 1_000 });
      const a = manager.create();
      manager.acquire(a.id);
      manager.acquire(a.id);
      manager.release(a);
      await clock.tickAsync(5_000);
      expect(a.state).to.equal('live');
      manager.release(a);
      await clock.tickAsync(1_000);
      expect(a.state).to.equal('closed');
    });
  });

  describe('absolute timeout', () => {
    it('is off by default', () => {
      const { manager } = makeManager();
      expect(manager.getOption('absoluteTimeout')).to.equal(undefined);
    });

    it('expires a session at createdAt + absoluteTimeout whatever its activity', async () => {
      const { manager } = makeManager({ idleTimeout: 1_000, absoluteTimeout: 2_500 });
      const a = manager.create();
      const t0 = Date.now();
      for (let i = 0; i < 4; i += 1) {
        await clock.tickAsync(500);
        manager.touch(a.id);
      }
      expect(manager.getExpiration(a.id)).to.equal(t0 + 2_500);
      await clock.tickAsync(499);
      expect(a.state).to.equal('live');
      await clock.tickAsync(1);
      expect(a.state).to.equal('closed');
      expect(a.closeReason).to.equal('expired');
    });

    it('a session busy at its absolute deadline closes as soon as its request ends', async () => {
      const { manager } = makeManager({ idleTimeout: 60_000, absoluteTimeout: 1_000 });
      const a = manager.acquire(manager.create().id)!;
      await clock.tickAsync(5_000);
      expect(a.state).to.equal('live');
      manager.release(a);
      await clock.tickAsync(0);
      expect(a.state).to.equal('closed');
      expect(a.closeReason).to.equal('expired');
    });
  });

  describe('setOption', () => {
    it('a new idleTimeout applies to each session from its next activity', async () => {
      const { manager } = makeManager({ idleTimeout: 1_000 });
      const a = manager.create();
      const b = manager.create();
      manager.setOption('idleTimeout', 5_000);
      expect(manager.getOption('idleTimeout')).to.equal(5_000);
      expect(manager.getExpiration(a.id)).to.equal(Date.now() + 1_000);
      await clock.tickAsync(500);
      manager.touch(b.id);
      expect(manager.getExpiration(b.id)).to.equal(Date.now() + 5_000);
      await clock.tickAsync(500);
      expect(a.state).to.equal('closed');
      expect(b.state).to.equal('live');
      await clock.tickAsync(4_499);
      expect(b.state).to.equal('live');
      await clock.tickAsync(1);
      expect(b.state).to.equal('closed');
    });

    it('a lower idleTimeout also waits for the next activity, then applies', async () => {
      const { manager } = makeManager({ idleTimeout: 10_000 });
      const a = manager.create();
      manager.setOption('idleTimeout', 100);
      await clock.tickAsync(100);
      expect(a.state).to.equal('live');
      manager.touch(a.id);
      await clock.tickAsync(100);
      expect(a.state).to.equal('closed');
    });

    it('lowering maxSessions evicts the least recently active idle sessions at once, through the hooks', async () => {
      const hooked: string[] = [];
      const { manager, events } = makeManager({ maxSessions: 10, onClose: (s, reason) => void hooked.push(`${s.id}:${reason}`) });
      const sessions = Array.from({ length: 5 }, () => manager.create());
      manager.touch(sessions[0]!.id); // order: 1 2 3 4 0
      manager.acquire(sessions[1]!.id); // busy: never evicted
      manager.setOption('maxSessions', 2);
      expect(manager.size).to.equal(2);
      expect(sessions.map((s) => s.state)).to.deep.equal(['live', 'live', 'closing', 'closing', 'closing']);
      await clock.tickAsync(0);
      expect(hooked).to.deep.equal([2, 3, 4].map((i) => `${sessions[i]!.id}:evicted`));
      expect(events.closes.map((c) => c.reason)).to.deep.equal(['evicted', 'evicted', 'evicted']);
      expect(manager.stats()).to.include({ live: 2, overCap: 0 });
    });

    it('lowering maxSessions below the busy sessions leaves them over the cap until they go idle', () => {
      const { manager } = makeManager({ maxSessions: 10 });
      const a = manager.acquire(manager.create().id)!;
      const b = manager.acquire(manager.create().id)!;
      const c = manager.create();
      manager.setOption('maxSessions', 1);
      expect(c.state).to.equal('closing');
      expect(manager.stats().overCap).to.equal(1);
      manager.release(a);
      expect(a.state).to.equal('closing');
      expect(b.state).to.equal('live');
      expect(manager.stats().overCap).to.equal(0);
    });

    it('raising maxSessions evicts nothing', () => {
      const { manager } = makeManager({ maxSessions: 2 });
      const a = manager.create();
      manager.setOption('maxSessions', 5);
      manager.create();
      manager.create();
      expect(a.state).to.equal('live');
      expect(manager.size).to.equal(3);
    });

    it('can switch the absolute timeout on (from the next activity) and off', async () => {
      const { manager } = makeManager({ idleTimeout: 10_000 });
      const a = manager.create();
      const t0 = Date.now();
      manager.setOption('absoluteTimeout', 3_000);
      manager.touch(a.id);
      expect(manager.getExpiration(a.id)).to.equal(t0 + 3_000);
      manager.setOption('absoluteTimeout', undefined);
      manager.touch(a.id);
      expect(manager.getExpiration(a.id)).to.equal(t0 + 10_000);
    });

    it('throws an OptionError for an unknown option or an invalid value, and keeps the old value', () => {
      const { manager } = makeManager({ maxSessions: 7 });
      expect(() => manager.setOption('bogus' as never, 1 as never)).to.throw(OptionError, /unknown option "bogus"/);
      expect(() => manager.setOption('maxSessions', 0)).to.throw(OptionError, /maxSessions must be a positive integer, got 0/);
      expect(() => manager.setOption('maxSessions', 2.5)).to.throw(OptionError, /maxSessions/);
      expect(() => manager.setOption('idleTimeout', -1)).to.throw(
        OptionError,
        /idleTimeout must be a positive, finite number of ms, got -1/,
      );
      expect(() => manager.setOption('idleTimeout', Infinity)).to.throw(OptionError, /idleTimeout/);
      expect(() => manager.setOption('hookTimeout', '10' as never)).to.throw(OptionError, /hookTimeout .* got "10"/);
      expect(() => manager.setOption('absoluteTimeout', 0)).to.throw(OptionError, /absoluteTimeout/);
      expect(manager.getOption('maxSessions')).to.equal(7);
      expect(manager.getOption('idleTimeout')).to.equal(DEFAULTS.idleTimeout);
      try {
        manager.setOption('maxSessions', NaN);
        expect.fail('setOption should have thrown');
      } catch (error) {
        expect(error).to.be.instanceOf(OptionError);
        expect((error as OptionError).code).to.equal('ERR_REPRISE_OPTION');
      }
    });
  });

  describe('constructor options', () => {
    const adapter = new TestAdapter();
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['maxSessions 0', { maxSessions: 0 }, /maxSessions must be a positive integer, got 0/],
      ['maxSessions 1.5', { maxSessions: 1.5 }, /maxSessions must be a positive integer, got 1\.5/],
      ['maxSessions "10"', { maxSessions: '10' }, /maxSessions must be a positive integer, got "10"/],
      ['idleTimeout 0', { idleTimeout: 0 }, /idleTimeout must be a positive, finite number of ms, got 0/],
      ['idleTimeout NaN', { idleTimeout: NaN }, /idleTimeout .* got NaN/],
      ['absoluteTimeout -5', { absoluteTimeout: -5 }, /absoluteTimeout .* got -5/],
      ['snapshotTtl Infinity', { snapshotTtl: Infinity }, /snapshotTtl .* got Infinity/],
      ['hookTimeout null', { hookTimeout: null }, /hookTimeout .* got null/],
      ['maxSnapshotBytes 0', { maxSnapshotBytes: 0 }, /maxSnapshotBytes must be a positive integer/],
      ['maxPendingPersists -1', { maxPendingPersists: -1 }, /maxPendingPersists must be a positive integer/],
      ['shutdownTimeout 10n', { shutdownTimeout: 10n }, /shutdownTimeout .* got 10n/],
      ['onClose not a function', { onClose: 'x' }, /onClose\[0\] must be a function, got "x"/],
      ['onRestore array with a non-function', { onRestore: [() => {}, 3] }, /onRestore\[1\] must be a function, got 3/],
      ['now not a function', { now: 5 }, /now must be a function/],
    ];
    for (const [name, options, message] of cases) {
      it(`throws an OptionError for ${name}`, () => {
        expect(() => new SessionManager({ adapter, ...options } as never)).to.throw(OptionError, message);
      });
    }

    it('throws an OptionError for a missing or incomplete adapter, naming what is missing', () => {
      expect(() => new SessionManager({} as never)).to.throw(OptionError, /adapter must implement SessionAdapter/);
      const partial = { name: 'x', save: async () => {}, load: async () => undefined };
      expect(() => new SessionManager({ adapter: partial } as never)).to.throw(OptionError, /missing: take, delete/);
    });

    it('throws an OptionError when the options are not an object', () => {
      expect(() => new SessionManager(undefined as never)).to.throw(OptionError, /options must be an object/);
      expect(() => new SessionManager(null as never)).to.throw(OptionError, /options must be an object/);
    });

    it('accepts valid options and exposes them', () => {
      const manager = new SessionManager({ adapter, maxSessions: 3, idleTimeout: 50, absoluteTimeout: 100, hookTimeout: 7 });
      expect(manager.getOption('maxSessions')).to.equal(3);
      expect(manager.getOption('idleTimeout')).to.equal(50);
      expect(manager.getOption('absoluteTimeout')).to.equal(100);
      expect(manager.getOption('hookTimeout')).to.equal(7);
      expect(manager.getOption('snapshotTtl')).to.equal(DEFAULTS.snapshotTtl);
      expect(manager.adapter).to.equal(adapter);
    });
  });

  describe('injected clock', () => {
    it('uses the injected now for times and deadlines', () => {
      let now = 5_000;
      const { manager } = makeManager({ idleTimeout: 1_000, now: () => now });
      const a = manager.create();
      expect(a.createdAt).to.equal(5_000);
      expect(manager.getExpiration(a.id)).to.equal(6_000);
      now = 5_400;
      manager.touch(a.id);
      expect(a.lastActiveAt).to.equal(5_400);
      expect(manager.getExpiration(a.id)).to.equal(6_400);
    });
  });
});
