import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Lines } from './lines.js';
import { within } from './wait.js';

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));

/** A child process with its output collected as lines. */
export class Child {
  readonly process: ChildProcess;
  readonly stdout: Lines;
  readonly stderr: Lines;
  /** Resolves with how the process ended, once its output is all read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.NODE_OPTIONS; // mocha's own loader options are not the child's business
    this.process = spawn(command, args, { cwd: TEST_DIR, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.stdout = Lines.from(this.process.stdout!, 'stdout');
    this.stderr = Lines.from(this.process.stderr!, 'stderr');
    this.exited = once(this.process, 'close').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /** Runs a JavaScript file (relative to test/) with plain node: the packages' built dist. */
  static node(file: string, env: NodeJS.ProcessEnv): Child {
    return new Child(process.execPath, [file], env);
  }

  /** Runs a TypeScript file of test/ under tsx, with the `source` condition (the packages' src, no build needed). */
  static tsx(file: string, env: NodeJS.ProcessEnv): Child {
    return new Child(process.execPath, ['--import', 'tsx', '--conditions=@reprise/source', file], env);
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The match of a stdout line, failing at once if the process exits first, or after `timeoutMs`. */
  async line(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    return within(
      () => `a line matching ${pattern}\nstdout:\n${this.stdout.text}\nstderr:\n${this.stderr.text}`,
      timeoutMs,
      this.stdout.waitFor(pattern).catch((error: Error) => {
        throw new Error(`${error.message}\nstderr:\n${this.stderr.text}`);
      }),
    );
  }

  /** Sends SIGTERM and waits (at most `timeoutMs`) for the process to exit. */
  async terminate(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.process.kill('SIGTERM');
    return within(
      () => `the process to exit after SIGTERM\nstdout:\n${this.stdout.text}\nstderr:\n${this.stderr.text}`,
      timeoutMs,
      this.exited,
    );
  }

  /** SIGKILL if still running (cleanup after a failed test). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }
}
