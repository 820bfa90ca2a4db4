import type { VersionedValue } from '@reprise/core';
import { adapterError, describe } from './arguments.js';

/** A reply holding a string as a string: `null` is a miss; a client mapping blobs to Buffers still gives text. */
export function replyToString(reply: unknown): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8');
  throw adapterError(`Redis returned ${describe(reply)} instead of a string`);
}

/** A stored version (a decimal string) as a number: a non-negative safe integer, exactly. */
export function replyToVersion(reply: unknown): number {
  const text = replyToString(reply);
  const version = text !== undefined && /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(version))
    throw adapterError('Redis returned a version that is not a non-negative safe integer (was the key written by something else?)');
  return version;
}

/** The reply of the take script: `null`, or `[value, version]`. */
export function replyToVersioned(reply: unknown): VersionedValue | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (!Array.isArray(reply) || reply.length !== 2)
    throw adapterError(`Redis returned ${describe(reply)} instead of a value and its version`);
  return { value: replyToString(reply[0])!, version: replyToVersion(reply[1]) };
}

/** The 0/1 reply of a script as a boolean (a number, or a string or bigint under a client's type mapping). */
export function replyToBoolean(reply: unknown): boolean {
  const text = typeof reply === 'number' || typeof reply === 'bigint' || typeof reply === 'string' ? String(reply) : undefined;
  if (text === '1' || text === '0') return text === '1';
  throw adapterError(`Redis returned ${describe(reply)} instead of 0 or 1`);
}

/** The reply of one run of the batch script: `count` integers, each 1 (stored), 0 (refused) or -1 (not a snapshot). */
export function replyToBatch(reply: unknown, count: number): number[] {
  if (!Array.isArray(reply) || reply.length !== count)
    throw adapterError(`Redis returned ${describe(reply)} instead of ${count} write results`);
  return reply.map((entry: unknown) => {
    const text = typeof entry === 'number' || typeof entry === 'bigint' || typeof entry === 'string' ? String(entry) : '';
    if (text === '1' || text === '0' || text === '-1') return Number(text);
    throw adapterError(`Redis returned ${describe(entry)} instead of 1, 0 or -1`);
  });
}
