import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/**
 * A TCP proxy of the test's own on 127.0.0.1 that delays every chunk by `delayMs` in each direction
 * (order kept), as a distant server would: a call costs at least one round trip of `2 * delayMs`,
 * so the time a call takes tells how many round trips it made.
 */
export class LatencyProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy to `host:port` on a free port, delaying each chunk by `delayMs` ms each way. */
  static async start(host: string, port: number, delayMs: number): Promise<LatencyProxy> {
    let proxy: LatencyProxy | undefined;
    const server = createServer((client) => proxy!.#pipe(client, host, port, delayMs));
    proxy = new LatencyProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxy's port on 127.0.0.1. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Destroys every connection, drops the chunks still delayed, and stops listening. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #pipe(client: Socket, host: string, port: number, delayMs: number): void {
    const upstream = connect(port, host);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket
        .on('error', () => undefined)
        .on('close', () => {
          this.#sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
    }
    const later =
      (to: Socket) =>
      (chunk: Buffer): void => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          to.write(chunk);
        }, delayMs);
        this.#timers.add(timer);
      };
    client.on('data', later(upstream));
    upstream.on('data', later(client));
  }
}
