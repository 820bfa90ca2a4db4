import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { HOOK_CHANNEL, STORE_CHANNEL, type HookTiming, type StoreTiming } from '../src/instrumentation.js';
import { makeManager } from './support/manager.js';

describe('instrumentation (node:diagnostics_channel)', () => {
  let hooks: HookTiming[];
  let calls: StoreTiming[];
  const onHook = (message: unknown): void => void hooks.push(message as HookTiming);
  const onStore = (message: unknown): void => void calls.push(message as StoreTiming);

  beforeEach(() => {
    hooks = [];
    calls = [];
    subscribe(HOOK_CHANNEL, onHook);
    subscribe(STORE_CHANNEL, onStore);
  });
  afterEach(() => {
    unsubscribe(HOOK_CHANNEL, onHook);
    unsubscribe(STORE_CHANNEL, onStore);
  });

  it('publishes one timing per close with hooks (its manager, reason, hook count, failures) and one per adapter call', async () => {
    const { manager } = makeManager({
      onClose: [
        () => undefined,
        () => {
          throw new Error('boom');
        },
      ],
    });
    manager.on('error', () => undefined);
    const session = manager.create({ n: 1 });
    await manager.close(session.id, 'evicted');
    expect(hooks).to.have.length(1);
    expect(hooks[0]).to.include({ manager, kind: 'close', reason: 'evicted', hooks: 2, failures: 1 });
    expect(hooks[0]!.durationMs).to.be.a('number').and.at.least(0);
    const saves = calls.filter((c) => c.operation === 'save');
    expect(saves).to.have.length.at.least(1);
    expect(saves[0]).to.include({ manager, records: 1, failed: false });
  });

  it('publishes restore hooks too, and a failed adapter call as failed', async () => {
    const { manager, adapter } = makeManager({ onRestore: () => undefined });
    manager.on('error', () => undefined);
    const session = manager.create({ n: 1 });
    await manager.close(session.id, 'expired');
    const restored = await manager.resume(session.id);
    expect(restored.kind).to.equal('restored');
    if (restored.kind === 'restored') manager.release(restored.session);
    expect(hooks.map((h) => h.kind)).to.deep.equal(['restore']);
    expect(hooks[0]).to.include({ manager, reason: undefined, hooks: 1, failures: 0 });
    adapter.failReads = true;
    calls = [];
    await manager.restore('user:1').catch(() => undefined);
    expect(calls.some((c) => c.failed)).to.equal(true);
  });

  it('publishes nothing for a manager without hooks, and nothing at all once unsubscribed', async () => {
    const { manager } = makeManager();
    await manager.close(manager.create({ n: 1 }).id, 'evicted');
    expect(hooks).to.deep.equal([]);
    unsubscribe(HOOK_CHANNEL, onHook);
    unsubscribe(STORE_CHANNEL, onStore);
    calls = [];
    const other = makeManager({ onClose: () => undefined }).manager;
    await other.close(other.create({ n: 2 }).id, 'evicted');
    expect(hooks).to.deep.equal([]);
    expect(calls).to.deep.equal([]);
  });
});
