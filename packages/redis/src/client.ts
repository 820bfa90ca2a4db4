import { createClient } from '@keyv/redis';
import type { RedisClient } from './options.js';

/** First reconnect delay before jitter, ms; it doubles per failed attempt up to the cap. */
export const BASE_RECONNECT_DELAY = 50;

/**
 * Capped exponential backoff with jitter and no cap on attempts: `min(cap, 50 ms * 2^retries)`,
 * then a random point in its upper half, so processes that lost Redis together do not retry in step.
 * Always a number (never `false`/an Error, which would make node-redis give up).
 */
export function reconnectDelay(retries: number, maxDelay: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelay, BASE_RECONNECT_DELAY * 2 ** Math.max(0, retries));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** How the reconnect strategy reports to, and is stopped by, the connection that owns the client. */
export interface ReconnectControl {
  /** True once the owner is closing: the strategy then returns `false` and node-redis stops retrying. */
  stopping(): boolean;
  /** Called with the delay (ms) node-redis is about to wait before its next attempt. */
  willWait(delay: number): void;
}

/** Settings of a client created from a URL. */
export interface ClientSettings {
  readonly url: string;
  readonly connectTimeout: number;
  readonly maxReconnectDelay: number;
}

/**
 * Creates (does not connect) the client of `{ url }`, with `createClient` re-exported by
 * `@keyv/redis`, so its @redis/client major is the one @keyv/redis was built for.
 *
 * - `disableOfflineQueue`: while disconnected, a command rejects at once ("The client is offline")
 *   instead of waiting in a queue for a server that may never come back (a hang).
 * - `socket.connectTimeout`: one connection attempt to an unreachable host fails after that long.
 * - `socket.reconnectStrategy`: {@link reconnectDelay} forever, until the owner closes. node-redis's
 *   default gives up on a socket timeout; this one never does, so the client recovers by itself.
 */
export function createOwnedClient(settings: ClientSettings, control: ReconnectControl): RedisClient {
  return createClient({
    url: settings.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: settings.connectTimeout,
      reconnectStrategy: (retries: number) => {
        if (control.stopping()) return false;
        const delay = reconnectDelay(retries, settings.maxReconnectDelay);
        control.willWait(delay);
        return delay;
      },
    },
  }) as unknown as RedisClient;
}
