import { randomBytes } from 'node:crypto';
import type { SessionCoordinator } from './coordinator.js';
import { OptionError } from './errors.js';
import { MAX_TIMER_DELAY } from './expiry-timer.js';
import { describeOptionValue } from './options.js';
import type { SessionAdapter } from './types.js';

/** The options of several instances (see {@link CoordinationSettings}); all but `coordinator` optional. */
export interface CoordinationOptions {
  /** Leases and hand-overs between instances (`RedisCoordinator`, `PostgresCoordinator`, ...). Default: none (one process). */
  coordinator?: SessionCoordinator | undefined;
  /** This process's name among the instances: 1 to 64 letters, digits, `-` or `_`. Default: 12 random base64url characters. */
  instanceId?: string | undefined;
  /** ms a lease lives without renewal (renewed every third of it). Default 15,000. */
  leaseMs?: number | undefined;
  /** ms a request waits for another instance to hand a session over before it is unavailable (503). Default 2,000. */
  handoverTimeout?: number | undefined;
}

/** The normalized options of several instances. */
export interface CoordinationSettings {
  readonly coordinator: SessionCoordinator;
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly handoverTimeout: number;
}

/** Defaults of {@link CoordinationOptions}. */
export const COORDINATION_DEFAULTS = Object.freeze({ leaseMs: 15_000, handoverTimeout: 2_000 });

const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function ms(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > MAX_TIMER_DELAY) {
    throw new OptionError(`${name} must be an integer of ms from ${min} to ${MAX_TIMER_DELAY}, got ${describeOptionValue(value)}`);
  }
  return value;
}

/**
 * Normalizes the options of several instances: `undefined` without a coordinator (then the other
 * three must be absent too). A coordinator needs an adapter with conditional writes: a stale owner's
 * late write is refused through the versions the store compares.
 */
export function normalizeCoordination(options: CoordinationOptions, adapter: SessionAdapter, ordered: boolean): CoordinationSettings | undefined {
  const { coordinator, instanceId, leaseMs, handoverTimeout } = options;
  if (coordinator === undefined) {
    for (const [name, value] of Object.entries({ instanceId, leaseMs, handoverTimeout })) {
      if (value !== undefined) throw new OptionError(`${name} needs a coordinator (several instances); without one, leave it out`);
    }
    return undefined;
  }
  const methods = ['join', 'claim', 'renew', 'release', 'owner', 'requestHandover', 'leave'];
  const missing = methods.filter((method) => typeof (coordinator as unknown as Record<string, unknown> | null)?.[method] !== 'function');
  if (typeof coordinator !== 'object' || coordinator === null || missing.length > 0) {
    throw new OptionError(`coordinator must implement SessionCoordinator; missing: ${missing.join(', ') || 'an object'}`);
  }
  if (!ordered) throw new OptionError(`a coordinator needs an adapter with conditional writes (saveIfNewer and takeVersioned); ${adapter.name} has none`);
  const id = instanceId ?? randomBytes(9).toString('base64url');
  if (typeof id !== 'string' || !INSTANCE_ID.test(id)) throw new OptionError(`instanceId must be 1 to 64 letters, digits, - or _, got ${describeOptionValue(id)}`);
  const lease = ms('leaseMs', leaseMs, COORDINATION_DEFAULTS.leaseMs, 30);
  return Object.freeze({ coordinator, instanceId: id, leaseMs: lease, handoverTimeout: ms('handoverTimeout', handoverTimeout, COORDINATION_DEFAULTS.handoverTimeout, 1) });
}
