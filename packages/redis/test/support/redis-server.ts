import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (bound then released). */
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
 * A redis-server of this test's own, on its own port (never the shared one): no persistence, so a
 * restart starts empty. `kill()` is a crash (SIGKILL); `start()` again on the same port.
 */
export class OwnRedis {
  readonly port: number;
  readonly #extraArgs: readonly string[];
  #process: ChildProcess | undefined;

  constructor(port: number, extraArgs: readonly string[] = []) {
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.#process) throw new Error('already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.#extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#process = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout!.off('data', onData);
          child.off('exit', onExit);
          child.stdout!.resume();
          resolve();
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
      child.once('exit', onExit);
    });
  }

  /** SIGKILL (a crash: clients see their sockets closed) and waits for the process to exit. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** SIGSTOP: the server keeps its sockets (connections stay up) but answers nothing. */
  freeze(): void {
    this.#process?.kill('SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.#process?.kill('SIGCONT');
  }
}

/** Retries `attempt` every `everyMs` until it resolves, or throws its last error after `withinMs`. */
export async function eventually<T>(attempt: () => Promise<T>, withinMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

/** Active timers and sockets of this process, by kind (from process.getActiveResourcesInfo()). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
