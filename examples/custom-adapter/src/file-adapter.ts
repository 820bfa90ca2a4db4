import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionAdapter } from '@reprise/core';
import { adapterError, assertKey, assertTtl, assertValue } from '@reprise/core/adapter-kit';

/** What one file holds: the value and its deadline (ms since the epoch, `null` for none). */
interface Entry {
  expiresAt: number | null;
  value: string;
}

/**
 * A Reprise adapter on plain files: one file per key in `dir`, named by the SHA-256 of the key (any
 * key, any length, no escaping), holding `{ expiresAt, value }` as JSON. Every change is a `rename()`,
 * which is atomic on a local filesystem: `save` writes a temporary file and renames it over the key's
 * file (readers see the old value or the new one, never half of one), and `take` renames the key's
 * file away before reading it, so of concurrent takes, in any number of processes, exactly one wins.
 * Expired files read as missing, and an unref'd sweep deletes them.
 */
export class FileAdapter implements SessionAdapter {
  readonly name = 'file';
  readonly atomic = true;
  readonly #dir: string;
  readonly #ready: Promise<unknown>;
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor({ dir, sweepInterval = 60_000 }: { dir: string; sweepInterval?: number | false }) {
    this.#dir = dir;
    this.#ready = mkdir(dir, { recursive: true });
    this.#ready.catch(() => {}); // reported by the first call
    if (sweepInterval !== false) this.#timer = setInterval(() => void this.sweep().catch(() => {}), sweepInterval).unref();
  }

  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    assertValue(this.name, value); // core's checks: the same errors (ERR_REPRISE_ADAPTER) as every adapter's
    assertTtl(this.name, ttlMs);
    const file = await this.#file(key);
    const entry: Entry = { expiresAt: ttlMs === undefined ? null : Date.now() + ttlMs, value };
    const temporary = join(this.#dir, `${randomUUID()}.tmp`);
    await writeFile(temporary, JSON.stringify(entry));
    await rename(temporary, file);
  }

  async load(key: string): Promise<string | undefined> {
    return live(await read(await this.#file(key)));
  }

  async take(key: string): Promise<string | undefined> {
    return live(await this.#claim(await this.#file(key)));
  }

  async delete(key: string): Promise<boolean> {
    return live(await this.#claim(await this.#file(key))) !== undefined;
  }

  /** Deletes the expired files. A value saved over one while the sweep claims it is put back. */
  async sweep(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.#dir, name);
      if (live(await read(file)) !== undefined) continue;
      const claimed = `${file}.${randomUUID()}.sweep`;
      if (!(await renamed(file, claimed))) continue;
      // link() fails if a newer value took the name meanwhile: that one wins, as a later save would.
      if (live(await read(claimed)) !== undefined) await link(claimed, file).catch(() => {});
      await rm(claimed, { force: true });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  async #file(key: string): Promise<string> {
    assertKey(this.name, key);
    if (this.#closed) throw adapterError(this.name, 'the adapter is closed');
    await this.#ready;
    return join(this.#dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  /** Moves the key's file to a name of this call's own, then reads it: one caller gets each file. */
  async #claim(file: string): Promise<Entry | undefined> {
    const claimed = `${file}.${randomUUID()}.taken`;
    if (!(await renamed(file, claimed))) return undefined;
    try {
      return await read(claimed);
    } finally {
      await rm(claimed, { force: true });
    }
  }
}

/** The entry in `file`, or `undefined` when there is no such file. */
async function read(file: string): Promise<Entry | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Entry;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** `rename(from, to)`; `false` when `from` is gone (another caller got there first). */
async function renamed(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function live(entry: Entry | undefined): string | undefined {
  return entry !== undefined && (entry.expiresAt === null || entry.expiresAt > Date.now()) ? entry.value : undefined;
}
