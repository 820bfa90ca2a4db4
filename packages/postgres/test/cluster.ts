import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, sleep } from './helpers.js';

/** The bin directory of the newest Postgres under /usr/lib/postgresql, or undefined. */
function findBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Postgres refuses to run as root: as root, run it as the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A throwaway Postgres cluster on a free port, run as a child process of the test, so a test can
 * take the server down and bring it back without touching the shared one. Fast settings (fsync
 * off): nothing here must survive a machine crash. Commits stay synchronous, so a killed server
 * keeps every committed row (with synchronous_commit off, the last ones would be lost).
 */
export class TestCluster {
  readonly port: number;
  readonly #bin: string;
  readonly #dir: string;
  readonly #user: { uid: number; gid: number } | undefined;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(bin: string, dir: string, port: number, user: { uid: number; gid: number } | undefined) {
    this.#bin = bin;
    this.#dir = dir;
    this.port = port;
    this.#user = user;
  }

  /** Runs initdb in a new temporary directory; undefined when no Postgres binaries are installed. */
  static async create(): Promise<TestCluster | undefined> {
    const bin = findBinDir();
    if (bin === undefined) return undefined;
    const user = runAs();
    const dir = mkdtempSync(join(tmpdir(), 'reprise-pg-'));
    if (user !== undefined) chownSync(dir, user.uid, user.gid);
    const cluster = new TestCluster(bin, dir, await freePort(), user);
    try {
      await cluster.#run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'root', '-E', 'UTF8', '--locale=C', '--no-sync']);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return cluster;
  }

  /** `postgresql://root@127.0.0.1:<port>/postgres`. */
  get url(): string {
    return `postgresql://root@127.0.0.1:${this.port}/postgres`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server and resolves once it accepts a query (or rejects within 15 s). */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('TestCluster: already running');
    this.#log = '';
    const child = spawn(
      join(this.#bin, 'postgres'),
      [
        '-D',
        join(this.#dir, 'data'),
        '-p',
        String(this.port),
        '-k',
        this.#dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=16MB',
        '-c',
        'max_connections=30',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], ...this.#user },
    );
    this.#child = child;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#log = (this.#log + chunk).slice(-4000)));
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (this.#child !== child) throw new Error(`TestCluster: postgres exited at start:\n${this.#log}`);
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`TestCluster: postgres not ready after 15 s:\n${this.#log}`);
      await sleep(25);
    }
  }

  /**
   * Takes the server down the hard way: SIGQUIT is Postgres's immediate shutdown (backends killed,
   * no checkpoint, crash recovery at the next start). Resolves once the process has exited.
   */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGQUIT');
    if (!(await waitForExit(child, 10_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
    this.#child = undefined;
  }

  /** Stops the server if it runs and deletes the directory. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #run(tool: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(join(this.#bin, tool), args, { stdio: ['ignore', 'ignore', 'pipe'], ...this.#user });
      let log = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} exited with ${code}:\n${log}`))));
    });
  }
}
