/**
 * Compile-time checks (this file must typecheck under `tsc -p tsconfig.test.json`): augmenting
 * `SessionDataMap` from '@reprise/fastify', or Fastify's `Session` as `@fastify/session` users do,
 * types `request.session`, `request.liveSession.data`, `fastify.sessionManager` and the hooks. Each
 * `@ts-expect-error` fails the typecheck if the error it expects disappears. The runtime test runs
 * the same handlers.
 */
import cookie from '@fastify/cookie';
import { expect } from 'chai';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import reprise, { type LiveSession, type RepriseData, type SessionManager } from '@reprise/fastify';

declare module '@reprise/fastify' {
  interface SessionDataMap {
    typedViews?: number;
    typedCart?: string[];
  }
}

declare module 'fastify' {
  /** As written for @fastify/session: carried over. */
  interface Session {
    typedUser?: { name: string };
  }
}

/** `true` when A and B are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

/** Never called: what must not compile. */
export function typeErrors(request: FastifyRequest): void {
  // @ts-expect-error typedViews is a number
  request.session.typedViews = 'many';
  // @ts-expect-error typedCart holds strings
  request.session.typedCart = [1];
  // @ts-expect-error a key nobody declared (a typo) does not compile: no index signature
  request.session.typedVeiws = 1;
  // @ts-expect-error nor does reading one
  void request.session.anything;
  // @ts-expect-error the session is an object or null
  request.session = 42;
  // @ts-expect-error liveSession is read-only
  request.liveSession = undefined;
  // @ts-expect-error sessionId is read-only
  request.session.sessionId = 'x';
  // @ts-expect-error get() takes a declared key
  request.session.get('typo');
  // @ts-expect-error set() checks the value against the key
  request.session.set('typedViews', 'many');
  // @ts-expect-error isModified() throws at run time and is not in the type
  request.session.isModified();
  // @ts-expect-error a lifetime is ms or null
  request.session.cookie.maxAge = 'forever';
  // @ts-expect-error expires is read-only: set maxAge
  request.session.cookie.expires = new Date();
}

/** Never called: options that must not compile. */
export async function optionErrors(app: FastifyInstance): Promise<void> {
  // @ts-expect-error not a SameSite value
  await app.register(reprise, { cookie: { sameSite: 'sometimes' } });
  // @ts-expect-error @fastify/session's store is not an option: give an adapter
  await app.register(reprise, { store: {} });
  // @ts-expect-error saveUninitialized can only be false
  await app.register(reprise, { saveUninitialized: true });
  // @ts-expect-error hooks receive the typed session
  await app.register(reprise, { onClose: (s: { data: { typedViews?: string } }) => void s });
}

async function typedApp(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(cookie);
  await app.register(reprise, {
    onClose: (session) => {
      assertType<Equals<typeof session.data.typedViews, number | undefined>>();
    },
  });
  assertType<Equals<typeof app.sessionManager, SessionManager<RepriseData>>>();
  app.get('/', async (request) => {
    assertType<Equals<typeof request.session.typedViews, number | undefined>>();
    assertType<Equals<typeof request.session.typedCart, string[] | undefined>>();
    assertType<Equals<typeof request.session.typedUser, { name: string } | undefined>>();
    assertType<Equals<typeof request.liveSession, LiveSession<RepriseData>>>();
    assertType<Equals<typeof request.liveSession.data.typedViews, number | undefined>>();
    assertType<Equals<ReturnType<typeof request.session.get<'typedCart'>>, string[] | undefined>>();
    assertType<Equals<typeof request.session.cookie.maxAge, number | null>>();
    assertType<Equals<typeof request.session.sessionId, string>>();

    request.session.typedViews = (request.session.typedViews ?? 0) + 1;
    request.session.typedCart = [...(request.session.typedCart ?? []), 'apple'];
    request.session.set('typedUser', { name: 'ada' });
    await request.session.regenerate(['typedCart', 'typedUser', 'typedViews']);
    const id: string = request.session.sessionId;
    const data: RepriseData = { ...request.session };
    return {
      id,
      isNew: request.liveSession.isNew,
      views: request.session.typedViews,
      cart: request.session.typedCart,
      user: request.session.get('typedUser'),
      data,
    };
  });
  return app;
}

describe('typing', () => {
  it('the augmented SessionDataMap types request.session, and the typed handlers run', async () => {
    const app = await typedApp();
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).to.equal(200);
    const body = res.json();
    expect(body).to.include({ views: 1, isNew: true });
    expect(body.cart).to.deep.equal(['apple']);
    expect(body.user).to.deep.equal({ name: 'ada' });
    expect(body.data).to.deep.equal({ typedViews: 1, typedCart: ['apple'], typedUser: { name: 'ada' } });
    await app.close();
  });
});
