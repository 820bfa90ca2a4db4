import { expect } from 'chai';
import { internalsOf } from '../src/live-session.js';
import { installClock, type Clock } from './support/clock.js';
import { makeManager } from './support/manager.js';

describe('LiveSession: what a session holds', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it('has no live map until one is used, and its close does not create one', async () => {
    const { manager } = makeManager();
    const unused = manager.create();
    const used = manager.create();
    expect(unused.liveIfUsed).to.equal(undefined);
    used.live.set('socket', 1);
    expect(used.live).to.equal(used.liveIfUsed);
    await manager.close(unused.id);
    await manager.close(used.id);
    expect(unused.liveIfUsed).to.equal(undefined);
    expect(used.liveIfUsed?.size).to.equal(0);
  });

  it('the data guard of every session is the same kind of handler, with no closure of its own', () => {
    const { manager } = makeManager();
    const a = internalsOf(manager.create());
    const b = internalsOf(manager.create());
    expect(Object.getPrototypeOf(a)).to.equal(Object.getPrototypeOf(b));
    expect(Object.getOwnPropertyNames(a)).to.not.include.members(['set', 'deleteProperty', 'defineProperty']);
    expect(a.set).to.equal(b.set);
  });

  it('keeps lastActiveAt and expiresAt exact for a session active long after its creation (past 2^31 ms)', async () => {
    const { manager } = makeManager({ idleTimeout: 40 * 86_400_000 });
    const session = manager.create();
    const createdAt = session.createdAt;
    for (const days of [1, 20, 30, 39]) {
      clock.setSystemTime(createdAt + days * 86_400_000 + 0.5);
      manager.touch(session.id);
      expect(session.lastActiveAt).to.equal(createdAt + days * 86_400_000 + 0.5);
      expect(session.expiresAt).to.equal(session.lastActiveAt + 40 * 86_400_000);
    }
  });

  it('persistKey: a key of its own, and back to following the id', () => {
    const { manager } = makeManager();
    const session = manager.create();
    expect(session.hasCustomPersistKey).to.equal(false);
    session.persistKey = 'user:42';
    expect([session.persistKey, session.hasCustomPersistKey]).to.deep.equal(['user:42', true]);
    session.persistKey = session.id;
    expect([session.persistKey, session.hasCustomPersistKey]).to.deep.equal([session.id, false]);
    const newId = session.regenerate();
    expect(session.persistKey).to.equal(newId);
  });
});
