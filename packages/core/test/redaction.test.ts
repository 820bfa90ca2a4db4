import { expect } from 'chai';
import { RepriseError } from '../src/errors.js';
import { redactId } from '../src/redact.js';
import { SessionManager } from '../src/session-manager.js';
import { installClock, type Clock } from './support/clock.js';
import { makeManager } from './support/manager.js';
import { TestAdapter } from './support/test-adapter.js';

type Data = Record<string, unknown>;

/**
 * Every string a Reprise error carries: message, stack, own fields, and the same for the Reprise
 * errors among its causes (an adapter's own error, as a cause, is the adapter's words).
 */
function textsOf(error: unknown, depth = 0): string[] {
  if (!(error instanceof RepriseError) || depth > 5) return [];
  const texts = [error.message, String(error.stack ?? '')];
  for (const value of Object.values(error)) if (typeof value === 'string') texts.push(value);
  return [...texts, ...textsOf(error.cause, depth + 1)];
}

/** Drives a manager through every kind of report that names a session. Returns the ids it used. */
async function everyReport(manager: SessionManager<Data>, adapter: TestAdapter, clock: Clock): Promise<string[]> {
  const ids: string[] = [];
  const track = <T extends { id: string }>(s: T): T => {
    ids.push(s.id);
    return s;
  };
  // Closing hook that throws, hook that times out, disposal that throws, a value the codec drops.
  const hooked = track(manager.create({ fn: () => 1, hook: 'throw' }));
  hooked.live.set('socket', {
    close: () => {
      throw new Error('cannot close');
    },
  });
  await manager.close(hooked.id, 'expired');
  const slow = track(manager.create({ hook: 'hang' }));
  const closing = manager.close(slow.id, 'expired');
  await clock.tickAsync(1_000);
  await closing;
  // A restore hook that throws.
  const restoredLater = track(manager.create({ restore: 'throw' }));
  await manager.close(restoredLater.id, 'evicted');
  const found = await manager.resume(restoredLater.id);
  if (found.kind === 'restored') manager.release(found.session);
  // Writes after a close.
  const closed = track(manager.create({ n: 1 }));
  await manager.close(closed.id, 'expired');
  closed.data.late = 1;
  // Failed writes (reported), a snapshot given up at once, a store that cannot be read.
  adapter.failSaves = true;
  const failing = track(manager.create({ n: 2 }));
  await manager.close(failing.id, 'expired');
  const tooBig = track(manager.create({ blob: 'x'.repeat(5_000) }));
  await manager.close(tooBig.id, 'expired');
  adapter.failSaves = false;
  await clock.tickAsync(1_000);
  adapter.failReads = true;
  await manager.resume(failing.id);
  adapter.failReads = false;
  // A corrupt snapshot under an id.
  const corrupt = track(manager.create());
  await manager.close(corrupt.id, 'expired');
  adapter.put(corrupt.id, 'garbage');
  await manager.resume(corrupt.id);
  // A regenerate of a closed session.
  try {
    manager.regenerate(closed);
  } catch (error) {
    (manager as unknown as { thrown?: unknown[] }).thrown = [error];
  }
  return ids;
}

const hookOptions = {
  hookTimeout: 1_000,
  maxSnapshotBytes: 1_000,
  onClose: (session: { data: Data }) => {
    if (session.data.hook === 'throw') throw new Error('hook failed');
    if (session.data.hook === 'hang') return new Promise<void>(() => {});
    return undefined;
  },
  onRestore: (session: { data: Data }) => {
    if (session.data.restore === 'throw') throw new Error('restore hook failed');
  },
};

describe('a session id is a credential: reports never print one whole', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it("in 'error' events and 'persistFailed' errors: messages, fields and causes", async () => {
    const { manager, adapter, events } = makeManager<Data>(hookOptions);
    manager.removeAllListeners('persistFailed');
    const ids = await everyReport(manager, adapter, clock);
    const thrown = (manager as unknown as { thrown?: unknown[] }).thrown ?? [];
    const errors: unknown[] = [...events.errors, ...thrown];
    const codes = new Set(events.errors.map((e) => e.code));
    for (const code of [
      'ERR_REPRISE_HOOK',
      'ERR_REPRISE_HOOK_TIMEOUT',
      'ERR_REPRISE_DISPOSE',
      'ERR_REPRISE_CODEC',
      'ERR_REPRISE_PERSIST',
      'ERR_REPRISE_RESTORE',
      'ERR_REPRISE_SESSION_CLOSED',
    ]) {
      expect(codes, `a ${code} report was produced`).to.include(code);
    }
    expect(thrown, 'regenerate of a closed session threw').to.have.length(1);
    for (const error of errors) {
      for (const text of textsOf(error)) {
        for (const id of ids) expect(text, `${(error as RepriseError).code}: ${text}`).to.not.include(id);
      }
    }
    // They still tell sessions apart: the redacted form is there.
    expect(events.errors.some((e) => textsOf(e).some((text) => text.includes(redactId(ids[0]!))))).to.equal(true);
  });

  it('in process warnings (no listeners)', async () => {
    const adapter = new TestAdapter();
    const manager = new SessionManager<Data>({ adapter, ...hookOptions });
    // process.emitWarning replaced while the manager reports (so nothing is printed).
    const warnings: unknown[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((warning: unknown) => void warnings.push(warning)) as typeof process.emitWarning;
    let ids: string[] = [];
    try {
      ids = await everyReport(manager, adapter, clock);
    } finally {
      process.emitWarning = emitWarning;
    }
    expect(warnings.length).to.be.at.least(7);
    for (const warning of warnings) {
      for (const text of [...textsOf(warning), String(warning)]) {
        for (const id of ids) expect(text).to.not.include(id);
      }
    }
  });
});
