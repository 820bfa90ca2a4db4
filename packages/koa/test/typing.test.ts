/**
 * Compile-time checks (this file must typecheck under `tsc -p tsconfig.test.json`): augmenting
 * `SessionDataMap` from '@reprise/koa', as an application does, types `ctx.session` and
 * `ctx.liveSession.data`; `session<TData>()` types its `manager`. Each `@ts-expect-error` fails the
 * typecheck if the error it expects disappears. The runtime test runs the same handlers.
 */
import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { MemoryAdapter } from '@reprise/memory';
import { session, SessionManager, type LiveSession, type SessionDataMap } from '@reprise/koa';

declare module '@reprise/koa' {
  interface SessionDataMap {
    typedViews?: number;
    typedCart?: string[];
  }
}

/** `true` when A and B are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

interface Cart extends Record<string, unknown> {
  items: string[];
}

/** Never called: what must not compile. */
export function typeErrors(ctx: Koa.Context): void {
    // @ts-expect-error typedViews is a number
    ctx.session.typedViews = 'many';
    // @ts-expect-error typedCart holds strings
    ctx.session.typedCart = [1];
    // @ts-expect-error ctx.session is an object or null
    ctx.session = 42;
    // @ts-expect-error a lifetime is ms or 'session'
    ctx.sessionMaxAge = 'forever';
    // @ts-expect-error liveSession is read-only
    ctx.liveSession = undefined;

}

function typedApp(): Koa {
  const app = new Koa();
  app.use(session());
  app.use(async (ctx) => {
    assertType<Equals<typeof ctx.session.typedViews, number | undefined>>();
    assertType<Equals<typeof ctx.session.typedCart, string[] | undefined>>();
    assertType<Equals<typeof ctx.session, SessionDataMap>>();
    assertType<Equals<typeof ctx.liveSession, LiveSession<SessionDataMap>>>();
    assertType<Equals<typeof ctx.liveSession.data.typedViews, number | undefined>>();
    assertType<Equals<typeof ctx.sessionMaxAge, number | 'session'>>();

    ctx.session.typedViews = (ctx.session.typedViews ?? 0) + 1;
    ctx.session.typedCart = [...(ctx.session.typedCart ?? []), 'apple'];
    const id: string = ctx.liveSession.id;
    const isNew: boolean = ctx.liveSession.isNew;
    const restore: (key: string) => Promise<boolean> = ctx.liveSession.restore.bind(ctx.liveSession);
    void restore;
    ctx.body = { id, isNew, views: ctx.session.typedViews, cart: ctx.session.typedCart };
  });
  return app;
}

// session<TData>() and its manager property.
const typed = session<Cart>({ maxSessions: 5 });
assertType<Equals<typeof typed.manager, SessionManager<Cart>>>();
const shared = new SessionManager<Cart>({ adapter: new MemoryAdapter() });
assertType<Equals<ReturnType<typeof session<Cart>>['manager'], SessionManager<Cart>>>();
void session<Cart>({ manager: shared, cookie: { name: 'cart.sid' }, ipBinding: true });

/** Never called: options that must not compile. */
export function optionErrors(): void {
  // @ts-expect-error not a SameSite value
  void session({ cookie: { sameSite: 'sometimes' } });
  // @ts-expect-error not a cookie lifetime
  void session({ cookie: { maxAge: 'forever' } });
  // @ts-expect-error hooks receive the typed session
  void session<Cart>({ onClose: (s: { data: { items: number[] } }) => void s });
}

describe('typing', () => {
  it('the augmented SessionDataMap types ctx.session, and the typed handlers run', async () => {
    const app = typedApp();
    const res = await request(app.callback()).get('/').expect(200);
    expect(res.body).to.include({ views: 1, isNew: true });
    expect(res.body.cart).to.deep.equal(['apple']);
    expect(typed.manager).to.be.instanceOf(SessionManager);
  });
});
