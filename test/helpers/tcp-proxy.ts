import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** `'up'`: client -> server; `'down'`: server -> client. */
export type Direction = 'up' | 'down';

/** How one direction of a link forwards: each chunk after `delayMs`, or not at all while `stalled`. */
export interface FlowSettings {
  /** ms each chunk is held before it goes on (order is kept: a chunk never overtakes an earlier one). */
  delayMs: number;
  /** While true, nothing goes on: chunks wait (in order) until the flow is resumed. */
  stalled: boolean;
}

/**
 * One direction of one link: a FIFO of chunks with the time each may go. The byte stream stays a
 * byte stream (order kept, nothing lost), only later: what a slow or partitioned network does.
 */
export class Flow {
  readonly #queue: { chunk: Buffer; at: number }[] = [];
  #settings: FlowSettings;
  #destination: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The source ended (or was cut): once the queue is empty the destination is ended too. */
  #sourceEnded = false;
  #received = 0;
  #forwarded = 0;
  readonly #drainWaiters: (() => void)[] = [];

  constructor(settings: FlowSettings) {
    this.#settings = { ...settings };
  }

  /** Bytes that arrived from the source. */
  get receivedBytes(): number {
    return this.#received;
  }

  /** Bytes written to the destination. */
  get forwardedBytes(): number {
    return this.#forwarded;
  }

  /** Bytes held (delayed or stalled), not yet written to the destination. */
  get pendingBytes(): number {
    return this.#queue.reduce((sum, { chunk }) => sum + chunk.length, 0);
  }

  get settings(): Readonly<FlowSettings> {
    return this.#settings;
  }

  /** Changes how this flow forwards. A new `delayMs` applies to chunks arriving from now on. */
  set(settings: Partial<FlowSettings>): void {
    this.#settings = { ...this.#settings, ...settings };
    this.#pump();
  }

  /** Resolves once nothing is held any more (immediately if nothing is). */
  drained(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** @internal */
  attach(destination: Socket): void {
    this.#destination = destination;
    this.#pump();
  }

  /** @internal A chunk from the source. */
  push(chunk: Buffer): void {
    this.#received += chunk.length;
    this.#queue.push({ chunk, at: Date.now() + this.#settings.delayMs });
    this.#pump();
  }

  /** @internal The source is gone (ended or cut): what is held still goes, then the destination is ended. */
  sourceEnded(): void {
    this.#sourceEnded = true;
    this.#pump();
  }

  /** @internal The destination is gone: what is held is dropped (it can never arrive). */
  destinationGone(): void {
    this.#destination = undefined;
    this.#queue.length = 0;
    this.#clearTimer();
    this.#notifyDrained();
  }

  /** @internal */
  stop(): void {
    this.#clearTimer();
  }

  #pump(): void {
    this.#clearTimer();
    const destination = this.#destination;
    if (destination === undefined || destination.destroyed) return;
    if (this.#settings.stalled) return;
    const now = Date.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
      const { chunk } = this.#queue.shift()!;
      this.#forwarded += chunk.length;
      destination.write(chunk);
    }
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.#pump(), this.#queue[0]!.at - now);
      return;
    }
    this.#notifyDrained();
    if (this.#sourceEnded && !destination.writableEnded) destination.end();
  }

  #notifyDrained(): void {
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * One proxied connection: the client's socket, the proxy's socket to the server, and a {@link Flow}
 * each way. Cutting one side models a network partition: the client sees its connection drop at once,
 * while the bytes it had sent and that were held on the way still reach the server when released,
 * as a packet stuck in the network does.
 */
export class Link {
  readonly up: Flow;
  readonly down: Flow;
  readonly #client: Socket;
  readonly #server: Socket;
  #severed = false;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;

  constructor(client: Socket, server: Socket, up: FlowSettings, down: FlowSettings) {
    this.#client = client;
    this.#server = server;
    this.up = new Flow(up);
    this.down = new Flow(down);
    this.up.attach(server);
    this.down.attach(client);
    client.on('data', (chunk: Buffer) => this.up.push(chunk));
    server.on('data', (chunk: Buffer) => this.down.push(chunk));
    // Half-closes are forwarded once what is held went through.
    client.on('end', () => this.up.sourceEnded());
    server.on('end', () => this.down.sourceEnded());
    client.on('close', () => {
      this.up.sourceEnded();
      this.down.destinationGone();
    });
    server.on('close', () => {
      this.down.sourceEnded();
      this.up.destinationGone();
      // The server is gone: so is the client's connection.
      if (!this.#client.destroyed) this.#client.destroy();
    });
    client.on('error', () => {});
    server.on('error', () => {});
    this.closed = Promise.all([once(client, 'close'), once(server, 'close')]).then(() => {
      this.up.stop();
      this.down.stop();
    });
  }

  /** Whether the client side was cut: proxy-wide settings no longer apply to this link. */
  get severed(): boolean {
    return this.#severed;
  }

  /** Sets one direction of this link only. */
  set(direction: Direction, settings: Partial<FlowSettings>): void {
    this[direction].set(settings);
  }

  /**
   * Destroys the client's socket (it sees a reset connection); the bytes held for the server stay
   * held under this link's own settings and still go when released, then the server socket is ended.
   */
  cutClient(): void {
    this.#severed = true;
    this.#client.destroy();
  }

  /** Destroys the server side (and so the client's connection). */
  cutServer(): void {
    this.#severed = true;
    this.#server.destroy();
  }

  /** Destroys both sockets; held bytes are dropped. */
  destroy(): void {
    this.#severed = true;
    this.#client.destroy();
    this.#server.destroy();
  }
}

/**
 * A TCP proxy of the test's own, on a free port of 127.0.0.1, in front of `target` (a Redis or
 * Postgres server): the test controls, per direction, a delay or a stall, and can cut connections.
 * `set()` applies to every connected link and to the links of later connections; a link whose client
 * side was cut keeps its own settings (release it with `link.set(...)`).
 */
export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  readonly #defaults: Record<Direction, FlowSettings> = {
    up: { delayMs: 0, stalled: false },
    down: { delayMs: 0, stalled: false },
  };
  #accepted = 0;

  private constructor(server: Server, port: number, target: { host: string; port: number }) {
    this.#server = server;
    this.port = port;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Starts a proxy to `target` (host default 127.0.0.1) on a free port. */
  static async start(target: { host?: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    return new TcpProxy(server, address.port, { host: target.host ?? '127.0.0.1', port: target.port });
  }

  /** `redis://127.0.0.1:<port>`: a Redis URL through the proxy. */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The links not closed yet (connected and severed ones). */
  get links(): Link[] {
    return [...this.#links];
  }

  /** Links whose client is still connected. */
  get connected(): Link[] {
    return this.links.filter((link) => !link.severed);
  }

  /** Changes one direction of every connected link, and of the links to come. */
  set(direction: Direction, settings: Partial<FlowSettings>): void {
    Object.assign(this.#defaults[direction], settings);
    for (const link of this.connected) link.set(direction, settings);
  }

  /** Cuts the client side of every connected link (see {@link Link.cutClient}); returns those links. */
  cutClients(): Link[] {
    const links = this.connected;
    for (const link of links) link.cutClient();
    return links;
  }

  /** Stops listening and destroys every link. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const link of this.#links) link.destroy();
    await Promise.all([closed, ...[...this.#links].map((link) => link.closed)]);
  }

  #accept(client: Socket): void {
    this.#accepted += 1;
    client.pause();
    const server = createConnection(this.#target);
    const link = new Link(client, server, { ...this.#defaults.up }, { ...this.#defaults.down });
    this.#links.add(link);
    void link.closed.then(() => this.#links.delete(link));
    server.once('connect', () => client.resume());
  }
}
