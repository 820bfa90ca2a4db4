/**
 * The core's central promise, as a property: whatever the interleaving of requests, closes,
 * evictions, expiries, restores, regenerations, option changes and shutdown, each live context's
 * closing hooks run once and its snapshot is written once; a request for a closing session waits for
 * the close, then is restored (involuntary close) or gets no session (explicit close).
 *
 * Every adapter call, every closing/restore hook and every disposal that awaits, and every request
 * in flight resolves through fast-check's scheduler, so fast-check picks the order in which they
 * complete; time is a fake clock (the manager's `now` and Node's timers), advanced by commands.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import FakeTimers from '@sinonjs/fake-timers';
import { SessionManager } from '../src/session-manager.js';
import type { LiveSession } from '../src/live-session.js';
import { HookError, PersistError, RepriseError, RestoreError } from '../src/errors.js';
import type { CloseReason, SessionState, Snapshot } from '../src/types.js';
import { PlannedAdapterFailure, ScheduledAdapter, type FailMode } from './support/property-adapter.js';

type Data = { n?: number; restoredFrom?: string[] };
type Session = LiveSession<Data>;

const START = 1_700_000_000_000;
const IDLE_TIMEOUT = 1_000;
const HOOK_TIMEOUT = 500;
const SHUTDOWN_TIMEOUT = 5_000;
/** A "long" request outlives the shutdown's wait for requests in flight. */
const LONG_REQUEST = SHUTDOWN_TIMEOUT + 2_000;
/** How far past the shutdown the final drain may push the fake clock (retries of failing writes). */
const DRAIN_HORIZON = 120_000;
const NUM_RUNS = Number(process.env.EXACTLY_ONCE_RUNS ?? 300);

// ---------------------------------------------------------------------------------------------
// Generated scenario
// ---------------------------------------------------------------------------------------------

/** What the hooks of one context do (contexts take plans cyclically, by creation number). */
interface HookPlan {
  /** The first closing hook awaits a scheduled promise. */
  awaitClose: boolean;
  /** The first closing hook throws (reported; the close goes on). */
  throws: boolean;
  /** The first closing hook sets `persist = false`. */
  persistFalse: boolean;
  /** The first closing hook sets a custom `persistKey` (unique to this context). */
  customKey: boolean;
  /** The restore hook awaits a scheduled promise. */
  awaitRestore: boolean;
  /** The live resource's dispose() awaits a scheduled promise. */
  awaitDispose: boolean;
}

interface Config {
  maxSessions: number;
  failMode: FailMode;
  failPlan: boolean[];
  plans: HookPlan[];
}

type Action =
  | { t: 'create' }
  | { t: 'createRequest'; long: boolean }
  | { t: 'request'; pick: number; long: boolean }
  | { t: 'close'; pick: number; reason: CloseReason; anyState: boolean }
  | { t: 'sessionClose'; pick: number }
  | { t: 'touch'; pick: number }
  | { t: 'regenerate'; pick: number }
  | { t: 'resume'; pick: number; closedOnly: boolean; copies: number }
  | { t: 'restore'; pick: number }
  | { t: 'restoreInto'; pick: number; key: number }
  | { t: 'setMax'; n: number }
  | { t: 'advance'; ms: number }
  | { t: 'run'; n: number }
  | { t: 'settle' };

const pick = fc.nat({ max: 31 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant<Action>({ t: 'create' }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('createRequest' as const), long: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('request' as const), pick, long: fc.boolean() }), weight: 3 },
  {
    arbitrary: fc.record({
      t: fc.constant('close' as const),
      pick,
      reason: fc.constantFrom<CloseReason>('closed', 'closed', 'closed', 'evicted', 'expired', 'shutdown'),
      anyState: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ t: fc.constant('sessionClose' as const), pick }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('touch' as const), pick }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('regenerate' as const), pick }), weight: 1 },
  {
    arbitrary: fc.record({ t: fc.constant('resume' as const), pick, closedOnly: fc.boolean(), copies: fc.integer({ min: 1, max: 3 }) }),
    weight: 5,
  },
  { arbitrary: fc.record({ t: fc.constant('restore' as const), pick }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('restoreInto' as const), pick, key: pick }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('setMax' as const), n: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(50, 300, 600, 1_000, 1_600, 8_000) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('run' as const), n: fc.integer({ min: 1, max: 8 }) }), weight: 6 },
  { arbitrary: fc.constant<Action>({ t: 'settle' }), weight: 2 },
);

const configArb: fc.Arbitrary<Config> = fc.record({
  maxSessions: fc.integer({ min: 1, max: 4 }),
  failMode: fc.constantFrom<FailMode>('none', 'none', 'saves', 'all'),
  failPlan: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  plans: fc.array(
    fc.record({
      awaitClose: fc.boolean(),
      throws: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      persistFalse: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
      customKey: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
      awaitRestore: fc.boolean(),
      awaitDispose: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

// ---------------------------------------------------------------------------------------------
// Observation
// ---------------------------------------------------------------------------------------------

/** One live context (a LiveSession object), and everything observed about it. */
interface Ctx {
  no: number;
  session: Session;
  /** Every id it had, in order (regenerate adds one). */
  ids: string[];
  origin: 'created' | 'revived';
  revivedFrom: Snapshot<Data> | undefined;
  plan: HookPlan;
  /** First closing hook calls: reason, and what the hook saw. */
  hookA: { reason: CloseReason; state: SessionState; closeReason: CloseReason | undefined; liveIntact: boolean }[];
  /** Second closing hook calls. */
  hookB: CloseReason[];
  /** 'close' events. */
  closeEvents: CloseReason[];
  /** What the close wrote, as seen by the 'close' event (after the hooks and the persist). */
  final: { id: string; key: string; persist: boolean; reason: CloseReason } | undefined;
  disposals: number;
}

/** One resume() call and what it saw. */
interface ResumeRec {
  id: string;
  /** What the id named when the call was made. */
  kind: 'live' | 'stale' | 'explicit' | 'involuntary' | 'unknown';
  ctx: Ctx | undefined;
  /** Launched while that session's close was running (such calls must all share one outcome). */
  whileClosing: boolean;
  settled: boolean;
  value: Session | undefined;
  /** At settlement: the closed context's state, the returned session's state and id, whether shutdown had begun. */
  oldState: SessionState | undefined;
  valueState: SessionState | undefined;
  valueId: string | undefined;
  shutdownBegun: boolean;
}

class HookBoom extends Error {
  constructor(no: number) {
    super(`planned closing hook failure of context #${no}`);
  }
}

const INVOLUNTARY: ReadonlySet<CloseReason> = new Set<CloseReason>(['evicted', 'expired', 'shutdown']);

/**
 * The invariants, in groups, so that a bug breaking one group does not hide the others:
 * - `once`: closing hooks, 'close' event and disposal once per context with one reason; each
 *   persisted close's snapshot (and pointer) reaches the adapter once; each snapshot is taken and
 *   restored at most once and never silently lost; stats agree with the hooks; API results agree
 *   with the state at the call.
 * - `resume`: a returning id after an explicit close gets nothing; after an involuntary close, a live
 *   session restored from its snapshot under a new id, one per old id; after the close finished.
 * - `shutdown`: when shutdown() resolves nothing is live or closing and (working adapter) no write is
 *   pending; the same after everything settled.
 * - `reports`: only the planned failures are reported; no unhandled rejection, no warning.
 */
type Group = 'once' | 'resume' | 'shutdown' | 'reports';

interface Violation {
  group: Group;
  message: string;
}

interface Outcome {
  violations: Violation[];
  trace: string[];
}

/** What the generated scenarios exercised (printed with EXACTLY_ONCE_STATS=1, to check the generators reach the hard cases). */
const coverage = new Map<string, number>();
const count = (what: string): void => {
  coverage.set(what, (coverage.get(what) ?? 0) + 1);
};

/** Runs one generated scenario to quiescence and checks the invariants. */
async function runScenario(s: fc.Scheduler, clock: ReturnType<typeof FakeTimers.install>, config: Config, actions: Action[]): Promise<Outcome> {
  const violations: Violation[] = [];
  const trace: string[] = [];
  /** The group of the checks being run (callbacks during the run all check `once`). */
  let group: Group = 'once';
  const fail = (message: string): void => {
    violations.push({ group, message });
  };

  const adapter = new ScheduledAdapter(s, () => clock.now, config.failMode, config.failPlan);
  const ctxs: Ctx[] = [];
  const byObject = new Map<Session, Ctx>();
  const allIds: string[] = [];
  const allKeys: string[] = [];
  const idOwner = new Map<string, Ctx>();
  /** Restore hook calls: which snapshot went into which session. */
  const restores: { snapshot: Snapshot<Data>; into: Session }[] = [];
  const persistFailed = new Set<string>();
  const errors: unknown[] = [];
  const resumes: ResumeRec[] = [];
  const pending: Promise<unknown>[] = [];
  let restoreEvents = 0;
  let shutdownBegun = false;
  /** Set while the test itself calls close(): the closing hook then knows the reason came from the caller. */
  let closingByCall = false;

  const label = (ctx: Ctx | undefined): string => (ctx === undefined ? '#?' : `#${ctx.no}`);

  const adopt = (session: Session, origin: Ctx['origin'], revivedFrom?: Snapshot<Data>): Ctx => {
    const no = ctxs.length;
    const ctx: Ctx = {
      no,
      session,
      ids: [session.id],
      origin,
      revivedFrom,
      plan: config.plans[no % config.plans.length]!,
      hookA: [],
      hookB: [],
      closeEvents: [],
      final: undefined,
      disposals: 0,
    };
    ctxs.push(ctx);
    byObject.set(session, ctx);
    allIds.push(session.id);
    allKeys.push(session.id);
    idOwner.set(session.id, ctx);
    session.live.set('resource', {
      dispose: () => {
        ctx.disposals += 1;
        return ctx.plan.awaitDispose ? s.schedule(Promise.resolve(), `dispose #${no}`) : undefined;
      },
    });
    return ctx;
  };

  const manager = new SessionManager<Data>({
    adapter,
    maxSessions: config.maxSessions,
    idleTimeout: IDLE_TIMEOUT,
    hookTimeout: HOOK_TIMEOUT,
    shutdownTimeout: SHUTDOWN_TIMEOUT,
    snapshotTtl: 10 * 24 * 3_600_000,
    now: () => clock.now,
    onClose: [
      function hookA(view, reason) {
        const session = view as Session;
        const ctx = byObject.get(session);
        if (ctx === undefined) {
          fail(`closing hook ran for an unknown session ${session.id}`);
          return undefined;
        }
        ctx.hookA.push({ reason, state: session.state, closeReason: session.closeReason, liveIntact: session.live.has('resource') });
        if (!closingByCall && (reason === 'evicted' || reason === 'expired') && session.busy) fail(`${label(ctx)} was ${reason} with a request in flight`);
        trace.push(`  hook ${label(ctx)} ${reason}`);
        if (ctx.plan.customKey) {
          const key = `user:${ctx.no}`;
          session.persistKey = key;
          if (!allKeys.includes(key)) allKeys.push(key);
        }
        if (ctx.plan.persistFalse) session.persist = false;
        if (ctx.plan.throws) throw new HookBoom(ctx.no);
        return ctx.plan.awaitClose ? s.schedule(Promise.resolve(), `closing hook #${ctx.no}`) : undefined;
      },
      function hookB(view, reason) {
        const ctx = byObject.get(view as Session);
        if (ctx !== undefined) ctx.hookB.push(reason);
      },
    ],
    onRestore: function restoreHook(view, snapshot) {
      const session = view as Session;
      restores.push({ snapshot, into: session });
      let ctx = byObject.get(session);
      if (ctx === undefined) ctx = adopt(session, 'revived', snapshot);
      trace.push(`  restore ${snapshot.sessionId.slice(0, 6)} (key ${snapshot.key.slice(0, 8)}, ${snapshot.reason}) into ${label(ctx)}`);
      if (session.id === snapshot.sessionId) fail(`restored session kept the closed id ${snapshot.sessionId}`);
      return ctx.plan.awaitRestore ? s.schedule(Promise.resolve(), `restore hook #${ctx.no}`) : undefined;
    },
  });
  manager.on('error', (error) => errors.push(error));
  manager.on('persistFailed', (snapshot) => persistFailed.add(snapshot.sessionId));
  manager.on('restore', () => {
    restoreEvents += 1;
  });
  manager.on('close', (view, reason) => {
    const session = view as Session;
    const ctx = byObject.get(session);
    if (ctx === undefined) {
      fail(`'close' event for an unknown session ${session.id}`);
      return;
    }
    ctx.closeEvents.push(reason);
    ctx.final = { id: session.id, key: session.persistKey, persist: session.persist, reason };
  });

  const track = (what: string, promise: Promise<unknown>): void => {
    pending.push(
      promise.catch((error: unknown) => {
        fail(`${what} rejected: ${String(error)}`);
      }),
    );
  };

  const live = (): Ctx[] => ctxs.filter((ctx) => ctx.session.state === 'live');

  /** A request: holds the session until the scheduler (and, for a long one, the clock) lets it go. */
  const hold = async (ctx: Ctx, long: boolean): Promise<void> => {
    await s.schedule(Promise.resolve(), `request on #${ctx.no}`);
    if (long) await new Promise((resolve) => setTimeout(resolve, LONG_REQUEST));
    manager.release(ctx.session);
  };

  /** Invariants that hold at every await boundary. */
  const checkNow = (where: string): void => {
    const stats = manager.stats();
    const observed: Record<CloseReason, number> = { evicted: 0, expired: 0, closed: 0, shutdown: 0 };
    for (const ctx of ctxs) for (const obs of ctx.hookA) observed[obs.reason] += 1;
    for (const reason of ['evicted', 'expired', 'closed', 'shutdown'] as const) {
      if (stats.closed[reason] !== observed[reason]) fail(`${where}: stats().closed.${reason} = ${stats.closed[reason]} but closing hooks saw ${observed[reason]}`);
    }
    const liveCtxs = live();
    if (manager.size < 0 || manager.size !== liveCtxs.length) fail(`${where}: size ${manager.size} but ${liveCtxs.length} contexts are live`);
    if (stats.live !== manager.size) fail(`${where}: stats().live ${stats.live} !== size ${manager.size}`);
    for (const ctx of liveCtxs) {
      if (manager.get(ctx.session.id) !== ctx.session) fail(`${where}: live context #${ctx.no} is not reachable by its id`);
    }
  };

  const launchResume = (id: string): void => {
    const owner = idOwner.get(id);
    let kind: ResumeRec['kind'];
    if (owner === undefined) kind = 'unknown';
    else if (owner.session.id !== id) kind = 'stale';
    else if (owner.session.state === 'live') kind = 'live';
    else kind = owner.session.closeReason === 'closed' ? 'explicit' : 'involuntary';
    count(`resume launched: ${kind}${owner?.session.state === 'closing' && owner.session.id === id ? ' (while closing)' : ''}`);
    const rec: ResumeRec = {
      id,
      kind,
      ctx: owner,
      whileClosing: owner?.session.state === 'closing' && owner.session.id === id,
      settled: false,
      value: undefined,
      oldState: undefined,
      valueState: undefined,
      valueId: undefined,
      shutdownBegun: false,
    };
    resumes.push(rec);
    trace.push(`resume ${id.slice(0, 6)} (${kind} ${label(owner)})`);
    track(
      `resume(${id})`,
      manager.resume(id).then((value) => {
        rec.settled = true;
        rec.value = value;
        rec.oldState = owner?.session.state;
        rec.valueState = value?.state;
        rec.valueId = value?.id;
        rec.shutdownBegun = shutdownBegun;
        count(`resume settled: ${kind} -> ${value === undefined ? 'none' : value === owner?.session ? 'same session' : `restored session (${value.state})`}`);
        trace.push(`  resume ${id.slice(0, 6)} -> ${value === undefined ? 'none' : `${label(byObject.get(value))} ${value.state}`}`);
      }),
    );
  };

  const runAction = async (action: Action): Promise<void> => {
    switch (action.t) {
      case 'create': {
        const ctx = adopt(manager.create({ n: ctxs.length }), 'created');
        trace.push(`create #${ctx.no}`);
        return;
      }
      case 'createRequest': {
        const session = manager.create({ n: ctxs.length });
        const ctx = adopt(session, 'created');
        trace.push(`create+request #${ctx.no}${action.long ? ' (long)' : ''}`);
        if (manager.acquire(session.id) !== session) fail(`acquire of the new session #${ctx.no} failed`);
        track(`request on #${ctx.no}`, hold(ctx, action.long));
        return;
      }
      case 'request': {
        const candidates = live();
        if (candidates.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        trace.push(`request #${ctx.no}${action.long ? ' (long)' : ''}`);
        if (manager.acquire(ctx.session.id) !== ctx.session) {
          fail(`acquire of live #${ctx.no} did not return it`);
          return;
        }
        track(`request on #${ctx.no}`, hold(ctx, action.long));
        return;
      }
      case 'close': {
        const candidates = action.anyState ? ctxs : live();
        if (candidates.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        const wasLive = ctx.session.state === 'live';
        const id = ctx.session.id;
        trace.push(`close #${ctx.no} ${action.reason} (${ctx.session.state})`);
        closingByCall = true;
        const closing = manager.close(id, action.reason);
        closingByCall = false;
        track(
          `close(#${ctx.no})`,
          closing.then((closed) => {
            if (closed !== wasLive) fail(`close(#${ctx.no}, ${action.reason}) resolved ${closed} but the session was ${wasLive ? '' : 'not '}live`);
            if (closed && ctx.hookA[0]?.reason !== action.reason) fail(`close(#${ctx.no}, ${action.reason}) resolved true but the hook saw ${ctx.hookA[0]?.reason}`);
            if (closed && ctx.session.state !== 'closed') fail(`close(#${ctx.no}) resolved before the close finished (state ${ctx.session.state})`);
          }),
        );
        return;
      }
      case 'sessionClose': {
        const candidates = live();
        if (candidates.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        trace.push(`session.close #${ctx.no}`);
        closingByCall = true;
        const closing = ctx.session.close();
        closingByCall = false;
        track(
          `session.close(#${ctx.no})`,
          closing.then((closed) => {
            if (!closed) fail(`session.close() of live #${ctx.no} resolved false`);
          }),
        );
        return;
      }
      case 'touch': {
        const candidates = live();
        if (candidates.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        trace.push(`touch #${ctx.no}`);
        if (!manager.touch(ctx.session.id)) fail(`touch of live #${ctx.no} returned false`);
        return;
      }
      case 'regenerate': {
        const candidates = live();
        if (candidates.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        const old = ctx.session.id;
        const id = ctx.session.regenerate();
        trace.push(`regenerate #${ctx.no} ${old.slice(0, 6)} -> ${id.slice(0, 6)}`);
        ctx.ids.push(id);
        allIds.push(id);
        allKeys.push(id);
        idOwner.set(id, ctx);
        if (manager.get(old) !== undefined) fail(`old id of #${ctx.no} still works after regenerate`);
        if (manager.get(id) !== ctx.session) fail(`new id of #${ctx.no} does not work after regenerate`);
        return;
      }
      case 'resume': {
        const candidates = action.closedOnly ? allIds.filter((id) => manager.get(id) === undefined) : allIds;
        if (candidates.length === 0) return;
        const id = candidates[action.pick % candidates.length]!;
        for (let i = 0; i < action.copies; i += 1) launchResume(id);
        return;
      }
      case 'restore': {
        if (allKeys.length === 0) return;
        const key = allKeys[action.pick % allKeys.length]!;
        trace.push(`restore(${key.slice(0, 8)})`);
        track(
          `restore(${key})`,
          manager.restore(key).then((value) => {
            trace.push(`  restore(${key.slice(0, 8)}) -> ${value === undefined ? 'none' : label(byObject.get(value))}`);
            if (value === undefined) return;
            const ctx = byObject.get(value);
            const from = ctx?.revivedFrom;
            if (ctx === undefined || from === undefined) fail(`restore(${key}) returned a session that no restore hook saw`);
            else if (from.key !== key && from.sessionId !== key) fail(`restore(${key}) returned a session revived from ${from.key}/${from.sessionId}`);
          }),
        );
        return;
      }
      case 'restoreInto': {
        const candidates = live();
        if (candidates.length === 0 || allKeys.length === 0) return;
        const ctx = candidates[action.pick % candidates.length]!;
        const key = allKeys[action.key % allKeys.length]!;
        trace.push(`#${ctx.no}.restore(${key.slice(0, 8)})`);
        track(
          `#${ctx.no}.restore(${key})`,
          ctx.session.restore(key).then((found) => {
            trace.push(`  #${ctx.no}.restore(${key.slice(0, 8)}) -> ${found}`);
            if (found && !restores.some((r) => r.into === ctx.session && (r.snapshot.key === key || r.snapshot.sessionId === key))) {
              fail(`#${ctx.no}.restore(${key}) resolved true but no restore hook ran for it`);
            }
          }),
        );
        return;
      }
      case 'setMax': {
        trace.push(`setOption maxSessions ${action.n}`);
        manager.setOption('maxSessions', action.n);
        return;
      }
      case 'advance': {
        trace.push(`advance ${action.ms} ms`);
        clock.tick(action.ms);
        return;
      }
      case 'run': {
        for (let i = 0; i < action.n && s.count() > 0; i += 1) {
          await s.waitOne();
          checkNow(`after a scheduled step`);
        }
        return;
      }
      case 'settle': {
        // Every scheduled task (in an order fast-check picks) until none is left; timers stay put.
        for (let i = 0; i < 500; i += 1) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (s.count() === 0) break;
          await s.waitOne();
          checkNow(`after a scheduled step`);
        }
        return;
      }
    }
  };

  for (const action of actions) {
    await runAction(action);
    checkNow(`after ${action.t}`);
  }

  // Shutdown, then everything to quiescence: scheduled tasks first, then timers (advancing the clock).
  trace.push('shutdown');
  shutdownBegun = true;
  let atShutdown: { live: string[]; closing: string[]; size: number; pendingPersists: number; closingGauge: number } | undefined;
  const shutdown = manager.shutdown();
  if (manager.shutdown() !== shutdown) fail('shutdown() is not idempotent (it returned another promise)');
  track(
    'shutdown()',
    shutdown.then(() => {
      const stats = manager.stats();
      atShutdown = {
        live: ctxs.filter((c) => c.session.state === 'live').map((c) => label(c)),
        closing: ctxs.filter((c) => c.session.state === 'closing').map((c) => label(c)),
        size: manager.size,
        pendingPersists: stats.pendingPersists,
        closingGauge: stats.closing,
      };
      trace.push(`  shutdown resolved`);
    }),
  );
  const horizon = clock.now + DRAIN_HORIZON;
  for (let guard = 0; guard < 20_000; guard += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (s.count() > 0) {
      await s.waitOne();
      continue;
    }
    if (clock.countTimers() > 0 && clock.now < horizon) {
      clock.next();
      continue;
    }
    break;
  }
  await Promise.all(pending);
  checkNow('after the drain');

  // --- after shutdown ------------------------------------------------------------------------
  const stats = manager.stats();
  group = 'shutdown';
  if (atShutdown === undefined) fail('shutdown() never resolved');
  else {
    if (atShutdown.size !== 0 || atShutdown.live.length > 0) fail(`when shutdown() resolved, size was ${atShutdown.size} (live: ${atShutdown.live.join(' ')})`);
    if (atShutdown.closing.length > 0 || atShutdown.closingGauge > 0) fail(`when shutdown() resolved, closes were still running (${atShutdown.closing.join(' ')})`);
    if (config.failMode === 'none' && atShutdown.pendingPersists !== 0) fail(`when shutdown() resolved, ${atShutdown.pendingPersists} snapshot writes were pending (adapter works)`);
  }
  if (manager.size !== 0) fail(`after the drain size is ${manager.size}`);
  if (stats.closing !== 0) fail(`after the drain ${stats.closing} closes are running`);
  if (config.failMode === 'none' && stats.pendingPersists !== 0) fail(`after the drain ${stats.pendingPersists} writes are pending (adapter works)`);
  group = 'once';
  if (stats.restored !== restores.length || restoreEvents !== restores.length) {
    fail(`stats().restored ${stats.restored}, 'restore' events ${restoreEvents}, restore hook calls ${restores.length}`);
  }

  // --- 1. each context: closing hooks once, one reason, 'close' once, disposal once --------------
  for (const ctx of ctxs) {
    const c = label(ctx);
    if (ctx.hookA.length !== 1) fail(`${c}: first closing hook ran ${ctx.hookA.length} times (${ctx.hookA.map((o) => o.reason).join(', ')})`);
    if (ctx.hookB.length !== 1) fail(`${c}: second closing hook ran ${ctx.hookB.length} times`);
    if (ctx.closeEvents.length !== 1) fail(`${c}: 'close' emitted ${ctx.closeEvents.length} times`);
    if (ctx.disposals !== 1) fail(`${c}: live resource disposed ${ctx.disposals} times`);
    const reasons = new Set([...ctx.hookA.map((o) => o.reason), ...ctx.hookB, ...ctx.closeEvents]);
    if (reasons.size > 1) fail(`${c}: closed with several reasons: ${[...reasons].join(', ')}`);
    const first = ctx.hookA[0];
    if (first !== undefined) {
      if (first.state !== 'closing' || first.closeReason !== first.reason) fail(`${c}: hook saw state ${first.state}, closeReason ${first.closeReason}`);
      if (!first.liveIntact) fail(`${c}: hook ran after the live resources were released`);
      if (ctx.session.closeReason !== first.reason) fail(`${c}: closeReason ${ctx.session.closeReason} but hooks saw ${first.reason}`);
    }
    if (ctx.session.state !== 'closed') fail(`${c}: state ${ctx.session.state} after the drain`);
  }

  // --- 2. each close writes its snapshot exactly once --------------------------------------------
  const consumed = new Map<string, number>();
  for (const r of restores) consumed.set(r.snapshot.sessionId, (consumed.get(r.snapshot.sessionId) ?? 0) + 1);
  for (const ctx of ctxs) {
    const f = ctx.final;
    if (f === undefined) continue;
    const c = `${label(ctx)} (${f.reason}, key ${f.key === f.id ? 'id' : f.key})`;
    const saves = adapter.snapshotSaves(f.key, f.id);
    const pointers = adapter.pointerSaves(f.id);
    if (!f.persist) {
      if (saves.written + saves.putBack !== 0 || pointers !== 0) fail(`${c}: persist=false but ${saves.written} snapshot and ${pointers} pointer writes reached the adapter`);
      if (consumed.has(f.id)) fail(`${c}: persist=false but its snapshot was restored`);
      continue;
    }
    if (saves.written > 1) fail(`${c}: its snapshot was written to the adapter ${saves.written} times`);
    if (saves.written === 0 && config.failMode === 'none') fail(`${c}: its snapshot never reached the adapter (which works)`);
    // Conservation: a written snapshot ends in exactly one place: still stored, restored once, or handed to 'persistFailed'.
    const stored = adapter.holdsSnapshot(f.key, f.id);
    const restoredTimes = consumed.get(f.id) ?? 0;
    const given = persistFailed.has(f.id);
    const places = [stored ? 'stored' : '', restoredTimes > 0 ? `restored ${restoredTimes}x` : '', given ? "handed to 'persistFailed'" : ''].filter(Boolean);
    const stillQueued = config.failMode !== 'none' && stats.pendingPersists > 0;
    if (places.length > 1 || restoredTimes > 1) fail(`${c}: its snapshot is in several places at once: ${places.join(', ')}`);
    if (places.length === 0 && !stillQueued) fail(`${c}: its snapshot is lost (not stored, never restored, never handed to 'persistFailed')`);
    const wantsPointer = f.key !== f.id && INVOLUNTARY.has(f.reason);
    if (!wantsPointer && pointers !== 0) fail(`${c}: ${pointers} pointer writes for a close that leaves none`);
    if (wantsPointer && pointers > 1) fail(`${c}: its pointer reached the adapter ${pointers} times`);
    if (wantsPointer && pointers === 0 && config.failMode === 'none') fail(`${c}: its pointer never reached the adapter`);
  }

  // --- 3. restores: single flight, each snapshot restored at most once, never from an explicit close
  for (const [sessionId, n] of consumed) if (n > 1) fail(`snapshot of ${sessionId} restored ${n} times`);
  for (const sessionId of adapter.takenSnapshotIds()) {
    // Every take either restores the snapshot or puts it back (the core took a newer one than it wanted).
    const taken = adapter.snapshotTakes(sessionId);
    const owner = idOwner.get(sessionId);
    const putBack = owner?.final === undefined ? 0 : adapter.snapshotSaves(owner.final.key, sessionId).putBack;
    if (taken - putBack > 1) fail(`snapshot of ${label(owner)} taken from the store ${taken} times (put back ${putBack} times)`);
  }
  group = 'resume';
  const resumedTo = new Map<string, Set<Session>>();
  for (const rec of resumes) {
    const c = `resume(${label(rec.ctx)} ${rec.id.slice(0, 6)}, ${rec.kind})`;
    if (!rec.settled) {
      fail(`${c} never settled`);
      continue;
    }
    if (rec.value !== undefined && rec.kind === 'involuntary') {
      let set = resumedTo.get(rec.id);
      if (set === undefined) resumedTo.set(rec.id, (set = new Set()));
      set.add(rec.value);
    }
    switch (rec.kind) {
      case 'unknown':
      case 'stale':
        if (rec.value !== undefined) fail(`${c} returned ${label(byObject.get(rec.value))}`);
        break;
      case 'live':
        if (rec.value !== rec.ctx?.session) fail(`${c} did not return the live session`);
        break;
      case 'explicit':
        if (rec.value !== undefined) fail(`${c}: a session closed by the application came back as ${label(byObject.get(rec.value))}`);
        if (rec.oldState !== 'closed') fail(`${c} settled before the close finished (state ${rec.oldState})`);
        break;
      case 'involuntary': {
        const ctx = rec.ctx!;
        if (rec.oldState !== 'closed') fail(`${c} settled before the close finished (state ${rec.oldState})`);
        if (rec.value === undefined) {
          const f = ctx.final;
          const excused =
            f === undefined ||
            !f.persist ||
            persistFailed.has(rec.id) ||
            (consumed.get(rec.id) ?? 0) > 0 ||
            adapter.readFailed(rec.id) ||
            adapter.readFailed(f.key);
          if (!excused) fail(`${c} returned no session, though its snapshot was written and never restored`);
          break;
        }
        const revived = byObject.get(rec.value);
        if (revived?.revivedFrom?.sessionId !== rec.id) fail(`${c} returned ${label(revived)}, not a session restored from its snapshot`);
        if (rec.valueId === rec.id) fail(`${c} returned a session with the closed id`);
        if (rec.valueState !== 'live' && !rec.shutdownBegun) fail(`${c} returned ${label(revived)} already ${rec.valueState} (not live)`);
        break;
      }
    }
  }
  const sharedOutcome = new Map<string, ResumeRec>();
  for (const rec of resumes) {
    if (!rec.whileClosing || !rec.settled) continue;
    const first = sharedOutcome.get(rec.id);
    if (first === undefined) sharedOutcome.set(rec.id, rec);
    else if (first.value !== rec.value) {
      fail(`resumes of ${label(rec.ctx)} made during its close got different outcomes: ${first.value === undefined ? 'none' : label(byObject.get(first.value))} and ${rec.value === undefined ? 'none' : label(byObject.get(rec.value))} (not single-flight)`);
    }
  }
  for (const [id, set] of resumedTo) {
    if (set.size > 1) fail(`resumes of ${label(idOwner.get(id))} returned ${set.size} distinct sessions: ${[...set].map((v) => label(byObject.get(v))).join(' ')}`);
  }

  // --- 5. reports: only the planned failures -----------------------------------------------------
  group = 'reports';
  count('scenarios');
  count(`scenarios with failMode ${config.failMode}`);
  for (const ctx of ctxs) {
    count(`contexts (${ctx.origin})`);
    if (ctx.final !== undefined) count(`closes: ${ctx.final.reason}${ctx.final.persist ? '' : ' (persist=false)'}${ctx.final.key === ctx.final.id ? '' : ' (custom key)'}`);
  }
  for (const r of restores) count(`restore hook: ${byObject.get(r.into)?.origin === 'revived' ? 'into a new session' : 'into a live session'}`);
  for (const f of adapter.failures) count(`adapter failure: ${f.method}`);
  for (const e of errors) count(`reported: ${e instanceof RepriseError ? e.code : 'other'}`);
  for (const [, set] of resumedTo) if (set.size === 1) count('old ids resumed into a session');
  const concurrent = new Map<string, number>();
  for (const rec of resumes) if (rec.kind === 'involuntary' && rec.value !== undefined) concurrent.set(rec.id, (concurrent.get(rec.id) ?? 0) + 1);
  for (const [, n] of concurrent) if (n > 1) count('old ids resumed by several calls into one session');
  for (const error of errors) {
    const cause = (error as Error).cause;
    const ok =
      (error instanceof HookError && error.code === 'ERR_REPRISE_HOOK' && cause instanceof HookBoom) ||
      (error instanceof HookError && (error.code === 'ERR_REPRISE_HOOK_TIMEOUT' || error.code === 'ERR_REPRISE_DISPOSE')) ||
      ((error instanceof PersistError || error instanceof RestoreError) && cause instanceof PlannedAdapterFailure) ||
      // a pointer write given up at the shutdown deadline (a snapshot given up goes to 'persistFailed')
      (error instanceof PersistError && config.failMode !== 'none' && /shutdown deadline/.test(error.message));
    if (!ok) fail(`unexpected 'error' event: ${error instanceof RepriseError ? error.code : ''} ${String(error)}${cause ? ` (cause: ${String(cause)})` : ''}`);
  }

  return { violations, trace };
}

/** Unhandled rejections and process warnings seen while a property runs. */
const unhandled: unknown[] = [];
const warnings: Error[] = [];

/**
 * Checks the invariants of `groups` over `numRuns` generated scenarios; fails with fast-check's
 * shrunk counterexample (the scheduler's order of task completions, the config and the actions),
 * the violations found and the tail of the scenario's trace.
 */
async function checkGroups(groups: readonly Group[], numRuns = NUM_RUNS): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), configArb, fc.array(actionArb, { minLength: 1, maxLength: 40, size: 'max' }), async (s, config, actions) => {
      const clock = FakeTimers.install({ now: START, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const seenUnhandled = unhandled.length;
      const seenWarnings = warnings.length;
      let outcome: Outcome;
      try {
        outcome = await runScenario(s, clock, config, actions);
      } finally {
        clock.uninstall();
      }
      // A rejection nobody handled surfaces a macrotask later.
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const reason of unhandled.slice(seenUnhandled)) outcome.violations.push({ group: 'reports', message: `unhandled rejection: ${String(reason)}` });
      for (const warning of warnings.slice(seenWarnings)) outcome.violations.push({ group: 'reports', message: `process warning: ${String(warning)}` });
      const relevant = [...new Set(outcome.violations.filter((v) => groups.includes(v.group)).map((v) => `[${v.group}] ${v.message}`))];
      if (relevant.length > 0) {
        throw new Error(`${relevant.length} violation(s):\n  - ${relevant.slice(0, 12).join('\n  - ')}\ntrace:\n${outcome.trace.slice(-150).join('\n')}`);
      }
    }),
    { numRuns },
  );
}

describe('exactly-once property: closes, snapshots and restores under any interleaving', function () {
  this.timeout(120_000);
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  before(() => {
    process.on('unhandledRejection', onUnhandled);
    process.on('warning', onWarning);
  });
  after(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('warning', onWarning);
    if (process.env.EXACTLY_ONCE_STATS) console.log([...coverage].sort().map(([what, n]) => `${String(n).padStart(7)}  ${what}`).join('\n'));
  });

  it('runs each context closing hooks once with one reason and writes each snapshot once', async function () {
    await checkGroups(['once']);
  });

  it('resumes an id after an involuntary close into one live session with a new id, never after an explicit close', async function () {
    await checkGroups(['resume']);
  });

  it('leaves nothing live, closing or unwritten when shutdown() resolves', async function () {
    await checkGroups(['shutdown']);
  });

  it('reports only the planned failures (no unhandled rejection, no warning)', async function () {
    await checkGroups(['reports']);
  });
});
