import type { Context } from 'koa';

/** What a user may set with `POST /prefs`. */
export interface Prefs {
  theme?: 'light' | 'dark';
  lang?: string;
}

/**
 * The persisted session data of the shop (the 4D "variables"): everything here goes into the
 * snapshot at close. The cart is a `Map` (sku -> quantity): the snapshot codec keeps Maps.
 */
export type ShopData = {
  cart?: Map<string, number>;
  user?: string;
  prefs?: Prefs;
};

// Types `ctx.session` for this app (see SessionDataMap in @reprise/koa).
declare module '@reprise/koa' {
  interface SessionDataMap {
    cart?: Map<string, number>;
    user?: string;
    prefs?: Prefs;
  }
}

/** What the app needs besides Koa: where to log and which clock to read. */
export interface ShopEnv {
  readonly log: (line: string) => void;
  readonly now: () => number;
  /** Snapshots die with the process (the memory adapter): a 'shutdown' snapshot is not restorable after a restart. */
  readonly inProcessSnapshots: boolean;
  /** Several instances (with a coordinator): this process's name among them. */
  readonly instanceId?: string | undefined;
}

/** The adapter key a user's snapshot goes under at logout (restored at the next login). */
export function userKey(user: string): string {
  return `user:${user}`;
}

/**
 * Whether the request has a session, without creating one (reading `ctx.liveSession` would create
 * it). `ctx.session` of a request without a session is an empty object; every session of this app
 * holds at least one key (a cart, a user), so an empty data object means "no session".
 */
export function hasSession(ctx: Context): boolean {
  return Object.keys(ctx.session).length > 0;
}

/** A short, log-friendly form of a session id (never log whole ids: they are bearer secrets). */
export function short(id: string): string {
  return `${id.slice(0, 6)}…`;
}

/** `n` and the noun, plural when n is not 1: `plural(2, 'item')` is "2 items". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** Number of cart lines, and total units. */
export function cartSize(cart: Map<string, number> | undefined): { lines: number; units: number } {
  let units = 0;
  for (const qty of cart?.values() ?? []) units += qty;
  return { lines: cart?.size ?? 0, units };
}
