import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/**
 * What the proxy does with the bytes of its connections:
 * - `forward`: both ways, as a network would;
 * - `drop-replies`: the client's bytes still reach the server (its statement runs), but nothing
 *   comes back: a server that stopped answering in the middle of an operation;
 * - `drop-all`: nothing goes through either way (connections stay open).
 */
export type ProxyMode = 'forward' | 'drop-replies' | 'drop-all';

/**
 * A TCP proxy of the test's own on 127.0.0.1, between a client and a server at `target`, that can
 * stop forwarding at any moment while keeping every connection open (a frozen server, a network
 * that black-holes packets): exactly what a query timeout must cut short.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Client sockets of connections that forward nothing any more, whatever the mode (see {@link freezeAll}). */
  readonly #frozen = new WeakSet<Socket>();
  mode: ProxyMode = 'forward';

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy to `host:port` on a free port. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.#pipe(client, host, port));
    proxy = new TcpProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxy's port on 127.0.0.1. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Number of client connections open through the proxy. */
  get connections(): number {
    return this.#sockets.size / 2;
  }

  /** Destroys every connection open now (the connections end as a lost network would end them); keeps listening. */
  cutAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /**
   * Every connection open now stops forwarding both ways, for good, and stays open: half-open TCP
   * connections (the peer's host gone without a word). New connections forward as the mode says.
   */
  freezeAll(): void {
    for (const socket of this.#sockets) this.#frozen.add(socket);
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #pipe(client: Socket, host: string, port: number): void {
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
    client.on('data', (chunk: Buffer) => {
      if (this.mode !== 'drop-all' && !this.#frozen.has(client)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'forward' && !this.#frozen.has(client)) client.write(chunk);
    });
  }
}
