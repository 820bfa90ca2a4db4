import { closedAtOf, headOf, reasonOf, sessionIdOf } from './inspect.js';
import type { Inspected, Kind } from './inspect.js';
import type { Redactor } from './redaction.js';

/**
 * An entry as `--json` prints it (one object per key): times as ISO strings, sizes in bytes, ids
 * redacted unless `--show-ids`. Fields that do not apply are left out.
 */
export interface EntryView {
  key: string;
  kind: Kind;
  /** Why the record was written (`evicted`, `checkpoint`, …). */
  reason?: string;
  sessionId?: string;
  /** Bytes of the stored value. */
  bytes: number;
  /** Version of ordered writes. */
  version?: string;
  createdAt?: string;
  closedAt?: string;
  /** `null`: never expires. */
  expiresAt: string | null;
  /** ms left (0 or less: expired, not yet swept); `null`: never expires. */
  ttlMs: number | null;
  /** A snapshot stored under another key than its own (moved under its session id): its own key. */
  snapshotKey?: string;
  /** A pointer's target: the key its snapshot is stored under. */
  target?: string;
  /** Why an undecodable value was refused. */
  problem?: string;
  /** The first bytes of an undecodable value (see `headOf`). */
  head?: string;
  /** What a key that is not a record holds. */
  detail?: string;
}

/** The view of an inspected entry (fields in the order above). */
export function entryView(inspected: Inspected, redact: Redactor): EntryView {
  const { entry, record } = inspected;
  const reason = reasonOf(inspected);
  const sessionId = sessionIdOf(inspected);
  const closedAt = closedAtOf(inspected);
  const snapshot = record?.kind === 'snapshot' ? record.snapshot : undefined;
  const pointer = record?.kind === 'pointer' && inspected.kind === 'pointer' ? record.pointer : undefined;
  return {
    key: redact.key(entry.key),
    kind: inspected.kind,
    ...(reason === undefined ? {} : { reason }),
    ...(sessionId === undefined ? {} : { sessionId: redact.id(sessionId) }),
    bytes: entry.bytes,
    ...(entry.version === undefined ? {} : { version: entry.version }),
    ...(snapshot === undefined ? {} : { createdAt: new Date(snapshot.createdAt).toISOString() }),
    ...(closedAt === undefined ? {} : { closedAt: new Date(closedAt).toISOString() }),
    expiresAt: entry.expiresAt === undefined ? null : new Date(entry.expiresAt).toISOString(),
    ttlMs: entry.ttlMs ?? null,
    ...(snapshot === undefined || snapshot.key === entry.key ? {} : { snapshotKey: redact.key(snapshot.key) }),
    ...(pointer === undefined ? {} : { target: redact.key(pointer.key) }),
    ...(inspected.problem === undefined ? {} : { problem: inspected.problem }),
    ...(inspected.kind === 'undecodable' && entry.value !== undefined ? { head: headOf(entry.value) } : {}),
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
  };
}
