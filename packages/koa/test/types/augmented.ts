/**
 * Type tests of an application that augments `SessionDataMap`, as the README shows. Compiled alone
 * by tsconfig.test-augmented.json (an augmentation applies to its whole compilation; the runtime
 * tests and `plain.ts` check the unaugmented case). Never run: `tsc` fails when an `expectTypeOf`
 * does not hold or an `@ts-expect-error` has no error to expect.
 */
import type { CloseReason, LiveSession as CoreLiveSession, Snapshot } from '@reprise/core';
import { expectTypeOf } from 'expect-type';
import type Koa from 'koa';
import {
  session,
  type SessionManager,
  type CloseHook,
  type KoaSessionData,
  type LiveSessionView,
  type SessionMiddleware,
} from '@reprise/koa';

declare module '@reprise/koa' {
  interface SessionDataMap {
    views?: number;
    cart?: string[];
    user?: { id: string; name: string };
  }
}

/** The augmented map as a plain object type (what `KoaSessionData` is). */
type Data = {
  views?: number;
  cart?: string[];
  user?: { id: string; name: string };
};

expectTypeOf<KoaSessionData>().toEqualTypeOf<Data>();

/** Never called: what ctx.session offers. */
export function reads(ctx: Koa.Context): void {
  expectTypeOf(ctx.session.views).toEqualTypeOf<number | undefined>();
  expectTypeOf(ctx.session.cart).toEqualTypeOf<string[] | undefined>();
  expectTypeOf(ctx.session.user).toEqualTypeOf<{ id: string; name: string } | undefined>();
  expectTypeOf(ctx.session.isNew).toEqualTypeOf<boolean>();
  expectTypeOf(ctx.session.maxAge).toEqualTypeOf<number | 'session'>();
  expectTypeOf(ctx.session.toJSON()).toEqualTypeOf<Data>();
  expectTypeOf(ctx.liveSession).toEqualTypeOf<CoreLiveSession<Data>>();
  expectTypeOf(ctx.liveSession.data.views).toEqualTypeOf<number | undefined>();
}

/** Never called: writes that compile (the README's counter among them). */
export async function writes(ctx: Koa.Context): Promise<void> {
  ctx.session.views = (ctx.session.views ?? 0) + 1;
  ctx.session.cart = [...(ctx.session.cart ?? []), 'apple'];
  ctx.session.maxAge = 30 * 86_400_000;
  await ctx.session.save();
  ctx.session = { user: { id: '42', name: 'Ada' } };
  ctx.session = { ...ctx.session, views: 0 };
  ctx.session = null;
}

/** Never called: what must not compile. */
export function misuse(ctx: Koa.Context): void {
  // @ts-expect-error a typo is not a data key
  ctx.session.veiws = 1;
  // @ts-expect-error reading a typo does not compile either
  void ctx.session.usr;
  // @ts-expect-error views is a number
  ctx.session.views = 'many';
  // @ts-expect-error the cart holds strings
  ctx.session.cart = [1];
  // @ts-expect-error not a key of SessionDataMap
  ctx.session = { views: 1, admin: true };
  // @ts-expect-error manuallyCommit() throws: Reprise sets the cookie when session() finishes
  ctx.session.manuallyCommit();
  // @ts-expect-error save is a method, not a data key
  ctx.session.save = async () => undefined;
  // @ts-expect-error isNew is read-only
  ctx.session.isNew = true;
}

// Hooks are typed by SessionDataMap with no type argument, and see closeReason.
const middleware = session({
  onClose: (s, reason) => {
    expectTypeOf(s.data).toEqualTypeOf<Data>();
    expectTypeOf(s.data.views).toEqualTypeOf<number | undefined>();
    expectTypeOf(s.closeReason).toEqualTypeOf<CloseReason | undefined>();
    expectTypeOf(reason).toEqualTypeOf<CloseReason>();
    // @ts-expect-error a typo in a hook does not compile
    void s.data.veiws;
  },
  onRestore: (s, snapshot) => {
    expectTypeOf(s).toEqualTypeOf<LiveSessionView<Data>>();
    expectTypeOf(snapshot).toEqualTypeOf<Snapshot<Data>>();
  },
});
expectTypeOf(middleware).toEqualTypeOf<SessionMiddleware<Data>>();
expectTypeOf(middleware.manager).toEqualTypeOf<SessionManager<Data>>();

// A hook written on its own, with the package's CloseHook, is typed the same way.
const logClose: CloseHook = (s, reason) => {
  expectTypeOf(s.data.cart).toEqualTypeOf<string[] | undefined>();
  expectTypeOf(reason).toEqualTypeOf<CloseReason>();
};
void session({ onClose: [logClose] });
