import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type Koa from 'koa';

/** A real HTTP server for `app` on an ephemeral port of 127.0.0.1. */
export async function listen(app: Koa): Promise<Server> {
  const server = createServer(app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Closes `server` and its connections; resolves once it is closed. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}
