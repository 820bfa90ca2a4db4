import FakeTimers from '@sinonjs/fake-timers';

export type Clock = ReturnType<typeof FakeTimers.install>;

/** Installs fake setTimeout, clearTimeout and Date at `now` (ms since the epoch). Uninstall in afterEach. */
export function installClock(now = 1_700_000_000_000): Clock {
  return FakeTimers.install({ now, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
}
