import type { SnapshotKey } from '@reprise/core';
import type { Invocation } from './arguments.js';
import type { Redactor } from './redaction.js';
import type { SnapshotStore } from './stores/store.js';

/** Where a command writes: standard output and standard error. */
export interface Io {
  /** Writes a line to standard output. */
  out(line: string): void;
  /** Writes a line to standard error. */
  err(line: string): void;
  /** Writes bytes to standard output as they are (`show --raw`). */
  raw(bytes: Uint8Array): void;
}

/** What a command runs with. */
export interface Context {
  readonly store: SnapshotStore;
  readonly options: Invocation;
  readonly io: Io;
  readonly redact: Redactor;
  /** The application's `snapshotKeys` (from `REPRISE_SNAPSHOT_KEYS`), to open encrypted records. */
  readonly snapshotKeys: readonly SnapshotKey[] | undefined;
}
