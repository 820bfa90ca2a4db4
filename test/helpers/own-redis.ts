import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Lines } from './lines.js';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A redis-server of the test's own (a child process on its own port, never the shared one). By
 * default with no persistence (`--save '' --appendonly no`): `kill()` is a crash that loses
 * everything, and `start()` again brings up an empty server on the same port. With `aofDir`, every
 * write is in an append-only file there (`appendfsync always`), so a restart finds what the crash left.
 */
export class OwnRedis {
  readonly port: number;
  readonly #persistence: string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, aofDir: string | undefined) {
    this.port = port;
    this.#persistence = aofDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aofDir];
  }

  /** Starts one on a free port. */
  static async start({ aofDir }: { aofDir?: string | undefined } = {}): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), aofDir);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server; resolves once it accepts connections (its "Ready" line). */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('redis-server already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', ...this.#persistence],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    const exited = once(child, 'exit').then(([code, signal]) => `exited (code ${code}, signal ${signal})`);
    const stdout = Lines.from(child.stdout!, 'redis-server stdout');
    const stderr = Lines.from(child.stderr!, 'redis-server stderr');
    const ready = stdout.waitFor(/Ready to accept connections/).then(
      () => undefined,
      (error: Error) => error.message,
    );
    const outcome = await Promise.race([ready, exited]);
    if (outcome !== undefined) {
      this.#child = undefined;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw new Error(`redis-server on port ${this.port}: ${outcome} before it was ready:\n${stdout.text}\n${stderr.text}`);
    }
  }

  /** SIGKILL (a crash: clients see their sockets close) and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
