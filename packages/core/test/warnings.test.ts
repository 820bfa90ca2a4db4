import { expect } from 'chai';
import { SessionManager } from '../src/session-manager.js';
import { WarningThrottle, WARNING_WINDOW_MS } from '../src/warning-throttle.js';
import { installClock, type Clock } from './support/clock.js';
import { captureWarnings } from './support/events.js';
import { flushMicrotasks } from './support/deferred.js';
import { TestAdapter } from './support/test-adapter.js';

/** A warning with a code, like the core's errors. */
function warning(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

describe('warnings are aggregated: the first of a code per 10 s window whole, then one count', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  it("WarningThrottle: 1,000 warnings of one code in a window give the first at once and one count at the window's end", () => {
    const emitted: Error[] = [];
    const throttle = new WarningThrottle(WARNING_WINDOW_MS, (w) => emitted.push(w));
    for (let i = 0; i < 1_000; i++) throttle.warn(warning('ERR_X', `failure ${i}`));
    expect(emitted.map((w) => w.message)).to.deep.equal(['failure 0']);
    clock.tick(WARNING_WINDOW_MS - 1);
    expect(emitted).to.have.length(1);
    clock.tick(1);
    expect(emitted).to.have.length(2);
    expect(emitted[1]!.message).to.equal('999 more ERR_X warning(s) in the last 10 s (the first was printed whole)');
    expect(emitted[1]).to.have.property('code', 'ERR_X');
    // A new window: the next one is printed whole again.
    throttle.warn(warning('ERR_X', 'later'));
    expect(emitted.map((w) => w.message).slice(2)).to.deep.equal(['later']);
  });

  it('WarningThrottle: codes are counted apart; a window with one warning prints no count', () => {
    const emitted: Error[] = [];
    const throttle = new WarningThrottle(1_000, (w) => emitted.push(w));
    throttle.warn(warning('ERR_A', 'a1'));
    throttle.warn(warning('ERR_B', 'b1'));
    throttle.warn(warning('ERR_A', 'a2'));
    clock.tick(1_000);
    expect(emitted.map((w) => w.message)).to.deep.equal([
      'a1',
      'b1',
      '1 more ERR_A warning(s) in the last 1 s (the first was printed whole)',
    ]);
  });

  it('a manager without an error listener: 2,000 failed writes print two warnings, not 2,000', async () => {
    const adapter = new TestAdapter();
    adapter.failSaves = true;
    const manager = new SessionManager({ adapter, maxSessions: 3_000 });
    const capture = captureWarnings();
    try {
      const ids = Array.from({ length: 2_000 }, () => manager.create().id);
      await Promise.all(ids.map((id) => manager.close(id, 'evicted')));
      await flushMicrotasks();
      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect(manager.stats().persistFailures).to.equal(2_000);
      const persist = () => capture.warnings.filter((w) => (w as Error & { code?: string }).code === 'ERR_REPRISE_PERSIST');
      expect(persist().length, 'the first failure, whole').to.equal(1);
      clock.tick(WARNING_WINDOW_MS);
      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect(
        persist()
          .map((w) => w.message)
          .at(-1),
      ).to.equal('1,999 more ERR_REPRISE_PERSIST warning(s) in the last 10 s (the first was printed whole)');
    } finally {
      capture.stop();
      adapter.failSaves = false;
    }
  });
});
