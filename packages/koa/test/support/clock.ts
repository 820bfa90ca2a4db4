import FakeTimers from '@sinonjs/fake-timers';

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
/** A fixed start for the faked Date: cookie expiries are exact. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** Fakes only `Date` (the cookie `expires` attribute and the manager's default clock read it); sockets keep real timers. */
export function fakeDate(): FakeTimers.Clock {
  return FakeTimers.install({ now: T0, toFake: ['Date'] });
}

/** The `expires` attribute of a parsed `Set-Cookie`, in ms since the epoch (fails when there is none). */
export function expiresAt(cookie: { attributes: Readonly<Record<string, string | true>> } | undefined): number {
  const expires = cookie?.attributes.expires;
  if (typeof expires !== 'string') throw new Error(`no expires attribute in ${JSON.stringify(cookie)}`);
  return Date.parse(expires);
}
