import { expect } from 'chai';
import fc from 'fast-check';
import { SessionManager } from '../src/session-manager.js';
import type { LiveSession } from '../src/live-session.js';
import type { CloseReason, SessionAdapter } from '../src/types.js';
import { installClock, type Clock } from './support/clock.js';
import { flushMicrotasks } from './support/deferred.js';
import { OrderedTestAdapter } from './support/test-adapter.js';

/**
 * Crashes under any interleaving: sessions are created, written by requests, closed for any reason,
 * resumed by their cookie, while checkpoint passes and expiries run on a fake clock; at any point the
 * process "crashes" (its adapter stops answering, as a killed process would, and a new manager starts on
 * the same store). After every crash, each session's cookie must find:
 * - a session live at the crash: restored under its id, with a value it really had, and no older than
 *   its value one checkpoint interval before the crash (at most one interval of writes lost);
 * - a session closed involuntarily before the crash: restored with its value at the close;
 * - a session closed explicitly: nothing (a logout is final, even with a checkpoint written before).
 * No session is ever live in the new process twice, and nothing else is restored.
 */

const INTERVAL = 1_000;
const IDLE = 7_000;
const NUM_RUNS = Number(process.env.CHECKPOINT_PROPERTY_RUNS ?? 2_000);

type Data = { n: number };

type Op =
  | { t: 'create'; key: boolean }
  | { t: 'write'; pick: number }
  | { t: 'tick'; ms: number }
  | { t: 'close'; pick: number; reason: CloseReason }
  | { t: 'resume'; pick: number }
  | { t: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('create' as const), key: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), pick: fc.nat(20) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(100, 500, 999, 1_000, 1_500, 4_000, 8_000) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('close' as const),
      pick: fc.nat(20),
      reason: fc.constantFrom<CloseReason>('evicted', 'expired', 'closed'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('resume' as const), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'crash' as const }) },
);

/** What the test knows of one session (one cookie). */
interface Visitor {
  readonly id: string;
  readonly key: string | undefined;
  /** Its value over time in the current process (since its creation or its restore after a crash): [ms, n], in order. */
  readonly history: [number, number][];
  /** When it was created, while it has never been restored: a crash within one interval of it may lose it whole. */
  createdAt: number | undefined;
  /** How it ended before the last crash, if it did. */
  ended: 'explicit' | 'involuntary' | undefined;
  /** The live session in the current process, if any. */
  session: LiveSession<Data> | undefined;
}

/** One process: a manager on the shared store, through an adapter that stops answering when the process dies. */
function start(store: OrderedTestAdapter): { manager: SessionManager<Data>; kill(): void } {
  let dead = false;
  const adapter = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'ephemeral') return false;
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (dead ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as SessionAdapter;
  const manager = new SessionManager<Data>({ adapter, checkpointInterval: INTERVAL, idleTimeout: IDLE, maxSessions: 1_000 });
  manager.on('error', () => {});
  return { manager, kill: () => void (dead = true) };
}

const valueAt = (history: [number, number][], at: number): number => {
  let value = history[0]![1];
  for (const [time, n] of history) if (time <= at) value = n;
  return value;
};

async function run(ops: Op[], clock: Clock): Promise<string[]> {
  const violations: string[] = [];
  const store = new OrderedTestAdapter(() => Date.now());
  let proc = start(store);
  const visitors: Visitor[] = [];
  const pick = (i: number): Visitor | undefined => visitors[i % Math.max(1, visitors.length)];
  const settle = () => flushMicrotasks(30);
  // A session that expired or was evicted by the manager itself (a tick) ended involuntarily.
  const noteCloses = (): void => {
    for (const v of visitors) {
      if (v.session !== undefined && v.session.state !== 'live') {
        v.ended ??= v.session.closeReason === 'closed' ? 'explicit' : 'involuntary';
        v.session = undefined;
      }
    }
  };
  const resume = async (v: Visitor, afterCrash: { at: number } | undefined): Promise<void> => {
    const found = await proc.manager.resume(v.id);
    const live = visitors.filter((other) => other.session !== undefined && other.id === v.id && other !== v);
    if (live.length > 0) violations.push(`${v.id.slice(0, 6)} live twice`);
    const last = v.history.at(-1)![1];
    if (v.ended === 'explicit') {
      if (found.kind === 'restored' || found.kind === 'live')
        violations.push(`${v.id.slice(0, 6)}: explicitly closed, but its cookie got a session back`);
      if (found.kind === 'restored' || found.kind === 'live') proc.manager.release(found.session);
      return;
    }
    if (found.kind !== 'restored' && found.kind !== 'live') {
      // Created within the last interval before the crash: all of it may be lost (nothing older was acknowledged).
      if (afterCrash !== undefined && v.ended === undefined && v.createdAt !== undefined && v.createdAt > afterCrash.at - INTERVAL) {
        v.ended = 'explicit'; // gone for good: its cookie is an unknown id from now on
        return;
      }
      violations.push(`${v.id.slice(0, 6)} (${v.ended ?? 'live'}${afterCrash ? ', after a crash' : ''}): its cookie found ${found.kind}`);
      return;
    }
    const n = found.session.data.n;
    if (found.session.id !== v.id) violations.push(`${v.id.slice(0, 6)}: resumed under another id`);
    if (v.ended === 'involuntary' && n !== last) violations.push(`${v.id.slice(0, 6)}: closed with n=${last}, restored n=${n}`);
    if (v.ended === undefined && afterCrash !== undefined) {
      const floor = valueAt(v.history, afterCrash.at - INTERVAL);
      if (!v.history.some(([, value]) => value === n)) violations.push(`${v.id.slice(0, 6)}: restored n=${n}, a value it never had`);
      if (n < floor)
        violations.push(
          `${v.id.slice(0, 6)}: restored n=${n} after the crash, older than its n=${floor} one interval before it (last ${last})`,
        );
    }
    if (v.ended === undefined && afterCrash === undefined && n !== last)
      violations.push(`${v.id.slice(0, 6)}: live with n=${last}, resumed n=${n}`);
    // What it has now is its value from here on. After a crash the writes it lost are gone for good:
    // its history starts again (the next crash is judged against what this process acknowledged).
    if (afterCrash !== undefined) v.history.splice(0, v.history.length, [Date.now(), n]);
    else if (n !== last) v.history.push([Date.now(), n]);
    v.ended = undefined;
    if (found.kind === 'restored') v.createdAt = undefined;
    v.session = found.session;
    proc.manager.release(found.session);
  };

  let lastCrash: { at: number } | undefined;
  for (const op of ops) {
    switch (op.t) {
      case 'create': {
        const session = proc.manager.create({ n: 0 });
        const key = op.key ? `user:${visitors.length}` : undefined;
        if (key !== undefined) session.persistKey = key;
        visitors.push({ id: session.id, key, history: [[Date.now(), 0]], createdAt: Date.now(), ended: undefined, session });
        break;
      }
      case 'write': {
        const v = pick(op.pick);
        if (v?.session === undefined || v.session.state !== 'live') break;
        proc.manager.acquire(v.id);
        v.session.data.n += 1;
        v.history.push([Date.now(), v.session.data.n]);
        proc.manager.release(v.session);
        break;
      }
      case 'tick':
        await clock.tickAsync(op.ms);
        await settle();
        noteCloses();
        break;
      case 'close': {
        const v = pick(op.pick);
        if (v?.session === undefined || v.session.state !== 'live') break;
        await proc.manager.close(v.id, op.reason);
        await settle();
        noteCloses();
        break;
      }
      case 'resume': {
        const v = pick(op.pick);
        if (v === undefined || v.session !== undefined) break;
        await resume(v, lastCrash);
        break;
      }
      case 'crash': {
        await settle();
        noteCloses();
        proc.kill();
        lastCrash = { at: Date.now() };
        for (const v of visitors) v.session = undefined;
        proc = start(store);
        // Every cookie comes back once, in the new process.
        for (const v of visitors) await resume(v, lastCrash);
        lastCrash = undefined;
        break;
      }
    }
  }
  return violations;
}

describe('checkpoints property: crashes under any interleaving lose at most one interval, and never undo a logout', function () {
  this.timeout(120_000);

  it(`${NUM_RUNS} runs of creates, writes, ticks, closes, resumes and crashes`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const clock = installClock();
        try {
          const violations = await run([...ops, { t: 'crash' }], clock);
          expect(violations.join('\n'), JSON.stringify(ops)).to.equal('');
        } finally {
          clock.uninstall();
        }
      }),
      {
        numRuns: NUM_RUNS,
        ...(process.env.CHECKPOINT_PROPERTY_SEED
          ? {
              seed: Number(process.env.CHECKPOINT_PROPERTY_SEED),
              ...(process.env.CHECKPOINT_PROPERTY_PATH ? { path: process.env.CHECKPOINT_PROPERTY_PATH } : {}),
            }
          : {}),
      },
    );
  });
});
