import { CookieLifetimes } from '@reprise/core/adapter-kit';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { signerFor } from './cookie.js';
import { normalizeOptions, type RepriseFastifyOptions } from './options.js';
import type { PluginState } from './plugin-state.js';
import { RequestSession } from './request-session.js';
import { SessionView } from './session-view.js';
import type { RepriseData } from './types.js';

/** Where each request keeps its {@link RequestSession} and its `request.session` view. */
const BINDING: unique symbol = Symbol('reprise.requestSession');
const VIEW: unique symbol = Symbol('reprise.sessionView');

type Bound = FastifyRequest & { [BINDING]: RequestSession | null; [VIEW]: SessionView | null };

function bindingOf(request: FastifyRequest): RequestSession {
  const binding = (request as Bound)[BINDING];
  if (binding === null || binding === undefined) {
    throw new Error(
      'request.session is used before the @reprise/fastify onRequest hook ran: register the plugin before the hooks and routes that use the session',
    );
  }
  return binding;
}

async function plugin(app: FastifyInstance, options: RepriseFastifyOptions): Promise<void> {
  const settings = normalizeOptions(options);
  const state: PluginState = {
    app,
    manager: settings.manager,
    cookie: settings.cookie,
    signer: signerFor(app, settings.secrets),
    rolling: settings.rolling,
    lifetimes: new CookieLifetimes(settings.cookie.maxAge, settings.rolling),
  };
  decorate(app, state);

  app.addHook('onRequest', (request, reply, done) => {
    const binding = new RequestSession(request, reply, state);
    (request as Bound)[BINDING] = binding;
    const loading = binding.load();
    if (loading === undefined) done();
    else loading.then(() => done(), done);
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    const binding = (request as Bound)[BINDING];
    if (binding === null) {
      done(null, payload);
      return;
    }
    binding.commit().then(() => done(null, payload), done);
  });
  app.addHook('onResponse', (request, _reply, done) => {
    (request as Bound)[BINDING]?.responded();
    done();
  });
  // Fastify's close (after in-flight requests): every session closes with 'shutdown', hooks run.
  if (settings.ownsManager) app.addHook('onClose', () => settings.manager.shutdown());
}

function decorate(app: FastifyInstance, state: PluginState): void {
  app.decorate('sessionManager', state.manager);
  app.decorateRequest(BINDING, null);
  app.decorateRequest(VIEW, null);
  app.decorateRequest('session', {
    getter(this: FastifyRequest) {
      const bound = this as Bound;
      bound[VIEW] ??= new SessionView(bindingOf(this), state.cookie);
      return bound[VIEW].object;
    },
    setter(this: FastifyRequest, value: unknown) {
      bindingOf(this).data = value as RepriseData | null;
    },
  } as never);
  app.decorateRequest('liveSession', {
    getter(this: FastifyRequest) {
      return bindingOf(this).live;
    },
  } as never);
  app.decorateRequest('sessionStore', {
    getter() {
      throw new TypeError(
        "request.sessionStore is @fastify/session's: with Reprise, use fastify.sessionManager (get(id), close(id), restore(key), stats()) or request.liveSession",
      );
    },
  } as never);
}

/**
 * The Fastify plugin of Reprise: live sessions with closing hooks, persisted through an adapter and
 * restored under the same id. Register `@fastify/cookie` first:
 * `app.register(cookie); app.register(reprise, { secret, adapter, maxSessions, idleTimeout, onClose, onRestore })`.
 * Decorates requests with `session` (the data, `@fastify/session` style, lazy) and `liveSession`, and
 * the instance with `sessionManager`. A manager built by the plugin is shut down (every session closed
 * with `'shutdown'`, hooks run) when Fastify closes; a `manager` given in the options is the caller's to shut down.
 */
export const reprise: FastifyPluginAsync<RepriseFastifyOptions> = fp(plugin, {
  name: '@reprise/fastify',
  fastify: '5.x',
  dependencies: ['@fastify/cookie'],
});
