import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/**
 * Collects lines (from a log function or a stream) and lets a test wait for one matching a pattern:
 * no fixed sleeps. A wait fails at once when the source ends without the line.
 */
export class Lines {
  readonly lines: string[] = [];
  readonly #events = new EventEmitter();
  #ended: string | undefined;

  /** A log function that records each line. */
  readonly log = (line: string): void => {
    for (const one of line.split('\n')) this.push(one);
  };

  /** Collects the lines of a stream; `end()` is called when it ends. */
  static from(stream: Readable, name: string): Lines {
    const lines = new Lines();
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) lines.push(part);
    });
    stream.on('end', () => {
      if (rest !== '') lines.push(rest);
      lines.end(`${name} ended`);
    });
    return lines;
  }

  push(line: string): void {
    this.lines.push(line);
    this.#events.emit('line', line);
  }

  /** No more lines will come: pending and later waits fail with `why`. */
  end(why: string): void {
    this.#ended ??= why;
    this.#events.emit('end');
  }

  get text(): string {
    return this.lines.join('\n');
  }

  /** The lines matching `pattern`. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }

  /** Resolves with the match of the first line (already seen or to come) matching `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (const line of this.lines) {
      const match = pattern.exec(line);
      if (match) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const fail = (): void => {
        cleanup();
        reject(new Error(`no line matching ${pattern} (${this.#ended}); got:\n${this.text}`));
      };
      const onLine = (line: string): void => {
        const match = pattern.exec(line);
        if (!match) return;
        cleanup();
        resolve(match);
      };
      const cleanup = (): void => {
        this.#events.off('line', onLine);
        this.#events.off('end', fail);
      };
      if (this.#ended !== undefined) {
        fail();
        return;
      }
      this.#events.on('line', onLine);
      this.#events.on('end', fail);
    });
  }
}
