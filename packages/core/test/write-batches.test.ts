import { expect } from 'chai';
import { SessionManager } from '../src/session-manager.js';
import type { Snapshot } from '../src/types.js';
import { NATIVE_BATCHES, SINGLE_CALL_BATCHES } from '../src/write-batcher.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { BatchingTestAdapter, OrderedTestAdapter, type TestAdapter } from './support/test-adapter.js';

type Data = { n?: number };

/** A manager on `adapter` holding `count` live sessions, and what reached `'persistFailed'`. */
function managerWith(adapter: TestAdapter, count: number, options: { adapterTimeout?: number } = {}) {
  const manager = new SessionManager<Data>({ adapter, maxSessions: count + 1, ...options });
  const failed: Snapshot<Data>[] = [];
  manager.on('persistFailed', (snapshot) => failed.push(snapshot));
  manager.on('error', () => {});
  const ids = Array.from({ length: count }, (_, n) => manager.create({ n }).id);
  return { manager, ids, failed };
}

/** Lets the closes and the batches run until `done()` holds (microtask turns only: no clock moves). */
async function until(done: () => boolean): Promise<void> {
  for (let round = 0; round < 2_000 && !done(); round++) await flushMicrotasks();
  expect(done(), 'the condition was reached').to.equal(true);
}

describe('write batches: snapshots travel to the adapter in batches, a bounded number in flight', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it(`writes closed together go in saveManyIfNewer calls of at most ${NATIVE_BATCHES.maxBatch}; every snapshot is stored`, async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    const { manager, ids } = managerWith(adapter, 2_500);
    await Promise.all(ids.map((id) => manager.close(id, 'evicted')));
    expect(adapter.batches.reduce((sum, size) => sum + size, 0)).to.equal(2_500);
    expect(Math.max(...adapter.batches)).to.be.at.most(NATIVE_BATCHES.maxBatch);
    expect(adapter.batches.length, 'batched, not one call per snapshot').to.be.below(10);
    expect(adapter.callsOf('save'), 'no single-key write').to.deep.equal([]);
    expect(manager.stats()).to.include({ persisted: 2_500, pendingPersists: 0 });
    for (const id of ids) expect(adapter.versionOf(id), 'stored with its version').to.be.above(0);
  });

  it('a lone write leaves at once, in a batch of one', async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    const { manager, ids } = managerWith(adapter, 1);
    await manager.close(ids[0]!, 'evicted');
    expect(adapter.batches).to.deep.equal([1]);
    expect(manager.stats().persisted).to.equal(1);
  });

  it(`at most ${NATIVE_BATCHES.maxInFlight} batches are in flight; the other writes wait in order, and their adapterTimeout has not started`, async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    const gates = Array.from({ length: NATIVE_BATCHES.maxInFlight }, () => deferred());
    adapter.batchGates.push(...gates.map((gate) => gate.promise));
    const { manager, ids } = managerWith(adapter, 10_000, { adapterTimeout: 1_000 });
    for (const id of ids) void manager.close(id, 'evicted');
    await until(() => adapter.batches.length === NATIVE_BATCHES.maxInFlight);
    await flushMicrotasks();
    expect(adapter.inFlight).to.equal(NATIVE_BATCHES.maxInFlight);
    expect(adapter.maxInFlight).to.equal(NATIVE_BATCHES.maxInFlight);
    expect(adapter.batches, 'nothing else handed to the adapter').to.have.length(NATIVE_BATCHES.maxInFlight);
    // The batches in flight pass the timeout: their writes fail (and wait for a retry). The writes
    // still waiting had not started their clocks: they go in the next batches and are stored.
    const gated = NATIVE_BATCHES.maxInFlight * NATIVE_BATCHES.maxBatch;
    await clock.tickAsync(1_000);
    await until(() => manager.stats().pendingPersists === gated);
    expect(manager.stats()).to.include({ persistFailures: gated, retryingPersists: gated, persisted: 10_000 - gated });
    // The gated batches land late; the retries of their writes find them there. Every snapshot is stored once.
    for (const gate of gates) gate.resolve();
    await clock.tickAsync(60_000);
    await until(() => manager.stats().pendingPersists === 0);
    for (const id of ids) expect(adapter.versionOf(id)).to.be.above(0);
    expect(manager.stats().persistGivenUp).to.equal(0);
  });

  it('a batch that fails fails each of its writes: each is retried and stored', async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    const { manager, ids, failed } = managerWith(adapter, 300);
    adapter.failSaves = true;
    await Promise.all(ids.map((id) => manager.close(id, 'evicted')));
    expect(manager.stats()).to.include({ persisted: 0, pendingPersists: 300, retryingPersists: 300, persistFailures: 300 });
    adapter.failSaves = false;
    await clock.tickAsync(1_000);
    await until(() => manager.stats().pendingPersists === 0);
    expect(manager.stats()).to.include({ persisted: 300, persistGivenUp: 0 });
    expect(failed).to.deep.equal([]);
  });

  it('a batch that does not resolve one boolean per write: every snapshot of it goes to persistFailed (refused for good)', async () => {
    const adapter = new BatchingTestAdapter(() => Date.now());
    adapter.brokenResult = [true];
    const { manager, ids, failed } = managerWith(adapter, 5);
    await Promise.all(ids.map((id) => manager.close(id, 'evicted')));
    await until(() => failed.length === 5);
    expect(failed.map((snapshot) => snapshot.sessionId).sort()).to.deep.equal([...ids].sort());
    expect(manager.stats()).to.include({ persisted: 0, pendingPersists: 0, persistGivenUp: 5 });
  });

  it(`an adapter without saveManyIfNewer: its writes go one call each, at most ${SINGLE_CALL_BATCHES.maxBatch * SINGLE_CALL_BATCHES.maxInFlight} in flight`, async () => {
    const adapter = new OrderedTestAdapter(() => Date.now());
    const gate = deferred();
    adapter.saveGate = gate.promise;
    const { manager, ids } = managerWith(adapter, 1_000);
    for (const id of ids) void manager.close(id, 'evicted');
    const limit = SINGLE_CALL_BATCHES.maxBatch * SINGLE_CALL_BATCHES.maxInFlight;
    await until(() => adapter.callsOf('save').length === limit);
    await flushMicrotasks();
    expect(adapter.callsOf('save').length, 'the others wait').to.equal(limit);
    adapter.saveGate = undefined;
    gate.resolve();
    await until(() => manager.stats().pendingPersists === 0);
    expect(manager.stats().persisted).to.equal(1_000);
    expect(adapter.callsOf('save').length).to.equal(1_000);
  });
});
