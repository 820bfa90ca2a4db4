/**
 * Type tests of an application that has NOT augmented `SessionDataMap` (compiled by tsconfig.test.json
 * with the runtime tests, none of which augments it). Never run: `tsc` fails when an `expectTypeOf`
 * does not hold or an `@ts-expect-error` has no error to expect. The augmented case is in
 * `augmented.ts`, compiled alone by tsconfig.test-augmented.json (an augmentation applies to its whole
 * compilation).
 */
import type { CloseHook as CoreCloseHook, CloseReason, LiveSession as CoreLiveSession, Snapshot } from '@reprise/core';
import { expectTypeOf } from 'expect-type';
import Koa from 'koa';
import {
  session,
  SessionManager,
  type CloseHook,
  type KoaSession,
  type KoaSessionData,
  type LiveSession,
  type LiveSessionView,
  type SessionCallback,
  type SessionMiddleware,
} from '@reprise/koa';

type Data = Record<string, unknown>;

// Without augmentation the data is Record<string, unknown>: no `any` anywhere.
expectTypeOf<KoaSessionData>().toEqualTypeOf<Data>();
expectTypeOf<LiveSession>().toEqualTypeOf<CoreLiveSession<Data>>();
expectTypeOf<CloseHook>().toEqualTypeOf<CoreCloseHook<Data>>();

/** Never called: what ctx.session offers. */
export function reads(ctx: Koa.Context): void {
  expectTypeOf(ctx.session.views).toEqualTypeOf<unknown>();
  expectTypeOf(ctx.session.views).not.toBeAny();
  expectTypeOf(ctx.session['any-key']).toEqualTypeOf<unknown>();
  expectTypeOf(ctx.session.maxAge).toEqualTypeOf<number | 'session'>();
  expectTypeOf(ctx.session.isNew).toEqualTypeOf<boolean>();
  expectTypeOf(ctx.session.populated).toEqualTypeOf<boolean>();
  expectTypeOf(ctx.session.length).toEqualTypeOf<number>();
  expectTypeOf(ctx.session.externalKey).toEqualTypeOf<string | undefined>();
  expectTypeOf(ctx.session.save).toEqualTypeOf<(callback?: SessionCallback) => Promise<void>>();
  expectTypeOf(ctx.session.regenerate).toEqualTypeOf<(callback?: SessionCallback) => Promise<void>>();
  expectTypeOf(ctx.session.toJSON()).toEqualTypeOf<Data>();
  expectTypeOf(ctx.session.manuallyCommit).toBeNever();
  expectTypeOf(ctx.session).toEqualTypeOf<KoaSession<Data>>();
  expectTypeOf(ctx.liveSession).toEqualTypeOf<CoreLiveSession<Data>>();
  expectTypeOf(ctx.liveSession.data).toEqualTypeOf<Data>();
  expectTypeOf(ctx.sessionMaxAge).toEqualTypeOf<number | 'session'>();
}

/** Never called: writes that compile. */
export async function writes(ctx: Koa.Context): Promise<void> {
  ctx.session.views = typeof ctx.session.views === 'number' ? ctx.session.views + 1 : 1;
  ctx.session.anything = { nested: [1, 2] };
  ctx.session.maxAge = 86_400_000;
  ctx.session.maxAge = 'session';
  await ctx.session.save();
  await ctx.session.regenerate();
  void ctx.session.save((error) => expectTypeOf(error).toEqualTypeOf<Error | undefined>());
  ctx.session = { a: 1 };
  ctx.session = null;
}

/** Never called: what must not compile. */
export function misuse(ctx: Koa.Context): void {
  // @ts-expect-error a value of an unaugmented map is unknown: check it (or augment) before arithmetic
  ctx.session.views = ctx.session.views + 1;
  // @ts-expect-error no method calls on an unknown value (it was `any`)
  ctx.session.cart.push('apple');
  // @ts-expect-error manuallyCommit() throws: Reprise sets the cookie when session() finishes
  ctx.session.manuallyCommit();
  // @ts-expect-error commit() throws, likewise
  ctx.session.commit();
  // @ts-expect-error isNew is read-only
  ctx.session.isNew = false;
  // @ts-expect-error populated is read-only
  ctx.session.populated = true;
  // @ts-expect-error length is read-only
  ctx.session.length = 0;
  // @ts-expect-error externalKey is read-only
  ctx.session.externalKey = 'k';
  // @ts-expect-error save is a method, not a data key
  ctx.session.save = async () => undefined;
  // @ts-expect-error save() returns a promise, not a value to store
  const saved: number = ctx.session.save();
  void saved;
  // @ts-expect-error a lifetime is ms or 'session'
  ctx.session.maxAge = 'forever';
  // @ts-expect-error ctx.session is an object or null
  ctx.session = 42;
  // @ts-expect-error a lifetime is ms or 'session'
  ctx.sessionMaxAge = 'forever';
  // @ts-expect-error liveSession is read-only
  ctx.liveSession = undefined;
}

// A data key named like a session property is not a data key through ctx.session: the property wins.
type Clashing = { maxAge: string; isNew: string; save: number; views: number };
expectTypeOf<KoaSession<Clashing>['maxAge']>().toEqualTypeOf<number | 'session'>();
expectTypeOf<KoaSession<Clashing>['isNew']>().toEqualTypeOf<boolean>();
expectTypeOf<KoaSession<Clashing>['save']>().toEqualTypeOf<(callback?: SessionCallback) => Promise<void>>();
expectTypeOf<KoaSession<Clashing>['views']>().toEqualTypeOf<number>();

// Hooks: the data type follows SessionDataMap with no type argument, and closeReason is there.
void session({
  onClose: (s, reason) => {
    expectTypeOf(s).toEqualTypeOf<LiveSessionView<Data>>();
    expectTypeOf(s.data).toEqualTypeOf<Data>();
    expectTypeOf(s.closeReason).toEqualTypeOf<CloseReason | undefined>();
    expectTypeOf(reason).toEqualTypeOf<CloseReason>();
  },
  onRestore: (s, snapshot) => {
    expectTypeOf(s.data).toEqualTypeOf<Data>();
    expectTypeOf(snapshot).toEqualTypeOf<Snapshot<Data>>();
  },
});
expectTypeOf(session()).toEqualTypeOf<SessionMiddleware<Data>>();
expectTypeOf(session().manager).toEqualTypeOf<SessionManager<Data>>();

// An explicit data type still works, and types its hooks and manager.
interface Cart extends Record<string, unknown> {
  items: string[];
}
const typed = session<Cart>({
  maxSessions: 5,
  onClose: (s) => {
    expectTypeOf(s.data.items).toEqualTypeOf<string[]>();
  },
});
expectTypeOf(typed.manager).toEqualTypeOf<SessionManager<Cart>>();
void session<Cart>({
  manager: new SessionManager<Cart>({ adapter: { name: 'x' } as never }),
  cookie: { name: 'cart.sid' },
  ipBinding: true,
});
// @ts-expect-error hooks receive the typed session
void session<Cart>({ onClose: (s: { data: { items: number[] } }) => void s });
// @ts-expect-error not a SameSite value
void session({ cookie: { sameSite: 'sometimes' } });
// @ts-expect-error not a cookie lifetime
void session({ cookie: { maxAge: 'forever' } });

// koa-session's call forms and its configuration object (the README's, widened as a variable is).
const app = new Koa();
const CONFIG = {
  key: 'koa.sess',
  maxAge: 86_400_000,
  autoCommit: true,
  overwrite: true,
  httpOnly: true,
  signed: true,
  rolling: true,
  renew: false,
  secure: true,
  sameSite: null,
};
expectTypeOf(session(CONFIG, app)).toEqualTypeOf<SessionMiddleware<Data>>();
void session(app, { key: 'sid', sameSite: 'strict' });
void session(app);
// @ts-expect-error the second argument, if any, is the app
void session({}, { key: 'sid' });
// @ts-expect-error koa-session's store: Reprise takes an adapter
void session({ store: { get: async () => undefined, set: async () => undefined, destroy: async () => undefined } });
const withStore = { key: 'sid', store: { get: async () => undefined, set: async () => undefined, destroy: async () => undefined } };
// @ts-expect-error refused from a variable too (no excess-property check there)
void session(withStore);
// @ts-expect-error koa-session's encode: the cookie carries only the id
void session({ encode: (data: object) => JSON.stringify(data) });
// @ts-expect-error koa-session's beforeSave: onClose is the hook before a snapshot
void session({ beforeSave: () => undefined });
