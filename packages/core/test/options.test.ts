import { expect } from 'chai';
import { OptionError } from '../src/errors.js';
import { assertKnownOptions } from '../src/option-schema.js';
import { DEFAULTS, MANAGER_OPTION_NAMES, parseRuntimeOption, type RuntimeOptionName, type SessionManagerOptions } from '../src/options.js';
import { SessionManager } from '../src/session-manager.js';
import { installClock, type Clock } from './support/clock.js';
import { TestAdapter } from './support/test-adapter.js';

const TIMER_LIMIT = 2 ** 31 - 1;

/** Runs `action` and returns the OptionError it throws (failing when it throws nothing or something else). */
function optionError(action: () => unknown): OptionError {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(OptionError);
    expect((error as OptionError).code).to.equal('ERR_REPRISE_OPTION');
    return error as OptionError;
  }
  expect.fail('expected an OptionError');
}

/** A manager built from `options` (typed loosely, to pass typos and wrong values). */
function build(options: Record<string, unknown> = {}): SessionManager {
  return new SessionManager({ adapter: new TestAdapter(), ...options } as SessionManagerOptions);
}

describe('options', () => {
  describe('unknown option names', () => {
    it('assertKnownOptions accepts every manager option name', () => {
      const all = Object.fromEntries([...MANAGER_OPTION_NAMES].map((name) => [name, undefined]));
      expect(() => assertKnownOptions(all, MANAGER_OPTION_NAMES)).not.to.throw();
      expect([...MANAGER_OPTION_NAMES]).to.have.members([
        'adapter',
        'maxSessions',
        'idleTimeout',
        'absoluteTimeout',
        'snapshotTtl',
        'hookTimeout',
        'maxSnapshotBytes',
        'maxPendingPersists',
        'shutdownTimeout',
        'adapterTimeout',
        'retryAfter',
        'checkpointInterval',
        'onClose',
        'onRestore',
        'now',
        'coordinator',
        'instanceId',
        'leaseMs',
        'handoverTimeout',
        'snapshotKeys',
        'acceptPlaintextSnapshots',
      ]);
    });

    it('assertKnownOptions names the unknown option and suggests a close one', () => {
      expect(optionError(() => assertKnownOptions({ idleTimout: 1_000 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "idleTimout" (did you mean "idleTimeout"?)',
      );
      expect(optionError(() => assertKnownOptions({ maxsesions: 3 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "maxsesions" (did you mean "maxSessions"?)',
      );
      expect(optionError(() => assertKnownOptions({ retryafter: 3 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "retryafter" (did you mean "retryAfter"?)',
      );
    });

    it('assertKnownOptions suggests nothing when no name is within two edits', () => {
      expect(optionError(() => assertKnownOptions({ timeoutIdle: 1_000 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "timeoutIdle"',
      );
      expect(optionError(() => assertKnownOptions({ idleTimeoutMillis: 1_000 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "idleTimeoutMillis"',
      );
      expect(optionError(() => assertKnownOptions({ sessionCap: 10 }, MANAGER_OPTION_NAMES)).message).to.equal(
        'unknown option "sessionCap"',
      );
    });

    it('assertKnownOptions takes other names and a prefix (for nested and binding options)', () => {
      const known = new Set(['maxAge', 'path']);
      expect(() => assertKnownOptions({ maxAge: 1, path: '/' }, known, 'cookie.')).not.to.throw();
      expect(optionError(() => assertKnownOptions({ maxage: 1 }, known, 'cookie.')).message).to.equal(
        'unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)',
      );
    });

    it('new SessionManager refuses an unknown option, with a suggestion', () => {
      expect(optionError(() => build({ idleTimout: 60_000 })).message).to.equal(
        'unknown option "idleTimout" (did you mean "idleTimeout"?)',
      );
      expect(optionError(() => build({ onclose: () => undefined })).message).to.equal('unknown option "onclose" (did you mean "onClose"?)');
      expect(optionError(() => build({ cookie: {} })).message).to.equal('unknown option "cookie"');
    });

    it('new SessionManager refuses an unknown option even when its value is undefined', () => {
      expect(optionError(() => build({ adapterTimout: undefined })).message).to.equal(
        'unknown option "adapterTimout" (did you mean "adapterTimeout"?)',
      );
    });
  });

  describe('adapterTimeout and retryAfter', () => {
    it('default to 5000 ms and 5 s, in DEFAULTS and through getOption', () => {
      expect(DEFAULTS).to.include({ adapterTimeout: 5_000, retryAfter: 5 });
      expect(Object.isFrozen(DEFAULTS)).to.equal(true);
      const manager = build();
      expect(manager.getOption('adapterTimeout')).to.equal(5_000);
      expect(manager.getOption('retryAfter')).to.equal(5);
    });

    it('are taken from the constructor and changed by setOption', () => {
      const manager = build({ adapterTimeout: 250, retryAfter: 30 });
      expect(manager.getOption('adapterTimeout')).to.equal(250);
      expect(manager.getOption('retryAfter')).to.equal(30);
      manager.setOption('adapterTimeout', 1_000);
      manager.setOption('retryAfter', 1);
      expect(manager.getOption('adapterTimeout')).to.equal(1_000);
      expect(manager.getOption('retryAfter')).to.equal(1);
    });

    it('retryAfter must be a positive integer of seconds', () => {
      for (const value of [0, -1, 1.5, NaN, Infinity, '5']) {
        expect(optionError(() => build({ retryAfter: value })).message).to.match(/^retryAfter must be a positive integer/);
      }
      const manager = build();
      optionError(() => manager.setOption('retryAfter', 2.5));
      expect(manager.getOption('retryAfter')).to.equal(5);
    });

    it('adapterTimeout must be a positive, finite number of ms', () => {
      for (const value of [0, -1, NaN, Infinity, '5000']) {
        expect(optionError(() => build({ adapterTimeout: value })).message).to.match(
          /^adapterTimeout must be a positive, finite number of ms/,
        );
      }
    });
  });

  describe('durations and the timer limit (2^31 - 1 ms)', () => {
    const timed: RuntimeOptionName[] = ['hookTimeout', 'shutdownTimeout', 'adapterTimeout'];

    for (const name of timed) {
      describe(name, () => {
        it('refuses 2^31 ms in the constructor, saying the limit', () => {
          const error = optionError(() => build({ [name]: 2 ** 31 }));
          expect(error.message).to.equal(
            `${name} must be at most 2147483647 ms (about 24.8 days, the longest delay Node's timers hold), got 2147483648`,
          );
        });

        it('refuses 2^31 ms and more through setOption, keeping the old value', () => {
          const manager = build({ [name]: 1_234 });
          for (const value of [2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
            expect(optionError(() => manager.setOption(name, value)).message).to.include('at most 2147483647 ms');
          }
          expect(manager.getOption(name)).to.equal(1_234);
          expect(() => parseRuntimeOption(name, 2 ** 31)).to.throw(OptionError, /about 24\.8 days/);
        });

        it('accepts 2^31 - 1 ms, in the constructor and through setOption', () => {
          expect(build({ [name]: TIMER_LIMIT }).getOption(name)).to.equal(TIMER_LIMIT);
          const manager = build();
          manager.setOption(name, TIMER_LIMIT);
          expect(manager.getOption(name)).to.equal(TIMER_LIMIT);
        });
      });
    }

    it('idleTimeout and absoluteTimeout accept durations past the timer limit (the expiry timer re-arms)', () => {
      const manager = build({ idleTimeout: 2 ** 31, absoluteTimeout: 365 * 24 * 3_600_000 });
      expect(manager.getOption('idleTimeout')).to.equal(2 ** 31);
      expect(manager.getOption('absoluteTimeout')).to.equal(365 * 24 * 3_600_000);
      manager.setOption('idleTimeout', 2 ** 40);
      expect(manager.getOption('idleTimeout')).to.equal(2 ** 40);
    });

    it('idleTimeout and absoluteTimeout must be positive and finite', () => {
      for (const name of ['idleTimeout', 'absoluteTimeout'] as const) {
        for (const value of [0, -1, NaN, Infinity]) {
          expect(optionError(() => build({ [name]: value })).message).to.match(
            new RegExp(`^${name} must be a positive, finite number of ms`),
          );
        }
      }
    });

    it('snapshotTtl accepts up to Number.MAX_SAFE_INTEGER ms and refuses more', () => {
      expect(build({ snapshotTtl: 2 ** 31 }).getOption('snapshotTtl')).to.equal(2 ** 31);
      expect(build({ snapshotTtl: Number.MAX_SAFE_INTEGER }).getOption('snapshotTtl')).to.equal(Number.MAX_SAFE_INTEGER);
      expect(optionError(() => build({ snapshotTtl: 2 ** 60 })).message).to.equal(
        `snapshotTtl must be at most ${Number.MAX_SAFE_INTEGER} ms (Number.MAX_SAFE_INTEGER), got ${2 ** 60}`,
      );
      expect(optionError(() => build({ snapshotTtl: Infinity })).message).to.match(/^snapshotTtl must be a positive, finite number of ms/);
    });

    describe('with fake timers', () => {
      let clock: Clock;
      beforeEach(() => {
        clock = installClock();
      });
      afterEach(() => {
        clock.uninstall();
      });

      it('an idleTimeout past the timer limit is honoured, not turned into 1 ms', async () => {
        const manager = build({ idleTimeout: 2 ** 31 + 1_000 });
        const session = manager.create();
        await clock.tickAsync(60_000);
        expect(session.state).to.equal('live');
        await clock.tickAsync(2 ** 31 + 1_000 - 60_000);
        expect(session.state).to.equal('closed');
      });
    });
  });
});
