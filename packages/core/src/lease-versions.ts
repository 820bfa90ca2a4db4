/**
 * Versions of the writes of a session held under a lease (several instances, see
 * docs/several-instances.md): built from the lease's fencing token, so that every version of a later
 * term beats every version of an earlier one, whatever the clocks say:
 *
 *     version = 2^52 + token × 2^21 + sequence
 *
 * The sequence is even for writes and odd for fences (as with `VersionClock`). Uncoordinated versions
 * (the hybrid clock's ms × 1000, about 2^50.6 in 2026) stay below 2^52, so every term's versions beat
 * them too. Tokens go up to 2^31 − 1 per session, and a term holds 2^20 writes.
 */

/** The base of lease versions: every hybrid-clock version is below it until about the year 2112. */
export const LEASE_VERSION_BASE = 2 ** 52;
/** Versions per term (per token). */
export const VERSIONS_PER_TERM = 2 ** 21;
/** The largest token a lease version can carry. */
export const MAX_LEASE_TOKEN = 2 ** 31 - 1;

function checkToken(token: number): void {
  if (!Number.isSafeInteger(token) || token < 0 || token > MAX_LEASE_TOKEN)
    throw new RangeError(`lease token must be an integer from 0 to ${MAX_LEASE_TOKEN}, got ${token}`);
}

/** The first version of the term of `token` (token 0: the term of a session no lease could be had for). */
export function termStart(token: number): number {
  checkToken(token);
  return LEASE_VERSION_BASE + token * VERSIONS_PER_TERM;
}

/** The versions of one term: strictly increasing, even, all within the term of `token`. */
export class LeaseVersions {
  readonly token: number;
  #next: number;

  constructor(token: number) {
    checkToken(token);
    this.token = token;
    this.#next = termStart(token);
  }

  /** Whether the term has versions left (2^20 writes per term; then the owner claims a new token). */
  get exhausted(): boolean {
    return this.#next >= termStart(this.token) + VERSIONS_PER_TERM;
  }

  /**
   * The next even version of the term.
   * @throws RangeError when the term is exhausted.
   */
  next(): number {
    if (this.exhausted) throw new RangeError(`lease token ${this.token}: its ${VERSIONS_PER_TERM / 2} write versions are used up`);
    const version = this.#next;
    this.#next += 2;
    return version;
  }
}
