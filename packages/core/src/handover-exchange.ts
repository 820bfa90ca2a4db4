import type { CoordinatorMember, HandoverOutcome } from './coordinator.js';

/** A message between coordinators: a hand-over request, or its answer. */
export type HandoverMessage =
  | { readonly t: 'handover'; readonly sessionId: string; readonly from: string }
  | { readonly t: 'released'; readonly sessionId: string };

/** How a coordinator sends a message to one instance (pub/sub, LISTEN/NOTIFY, ...). */
export type SendHandoverMessage = (to: string, message: HandoverMessage) => Promise<void>;

/**
 * The hand-over protocol of a `SessionCoordinator`, apart from how its messages travel: a request is
 * sent to the owner's instance; the owner's member hands the session over, then the owner answers
 * `released` to the requester, whose wait ends there or at its timeout. Messages travel as JSON
 * text; anything else received is ignored. For coordinator implementations (`RedisCoordinator`,
 * `PostgresCoordinator`).
 */
export class HandoverExchange {
  readonly #send: SendHandoverMessage;
  readonly #member: () => CoordinatorMember | undefined;
  /** Requests waiting for a `released` answer, by session id. */
  readonly #waiting = new Map<string, Set<() => void>>();

  /**
   * @param send sends a message to an instance; a failure rejects the request that sent it.
   * @param member the member to hand sessions over, or `undefined` while none takes requests (before join, after leave).
   */
  constructor(send: SendHandoverMessage, member: () => CoordinatorMember | undefined) {
    this.#send = send;
    this.#member = member;
  }

  /** Asks `owner` to hand `sessionId` over to `from`; `'released'` when it answered, `'timeout'` after `timeoutMs` ms. */
  async request(sessionId: string, from: string, owner: string, timeoutMs: number): Promise<HandoverOutcome> {
    let answered!: () => void;
    const released = new Promise<void>((resolve) => (answered = resolve));
    const waiters = this.#waiting.get(sessionId) ?? new Set();
    waiters.add(answered);
    this.#waiting.set(sessionId, waiters);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#send(owner, { t: 'handover', sessionId, from });
      const timedOut = new Promise<HandoverOutcome>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      return await Promise.race([released.then((): HandoverOutcome => 'released'), timedOut]);
    } finally {
      clearTimeout(timer);
      waiters.delete(answered);
      if (waiters.size === 0) this.#waiting.delete(sessionId);
    }
  }

  /** A message arrived on this instance's channel (raw JSON text). */
  receive(raw: string): void {
    let message: HandoverMessage;
    try {
      message = JSON.parse(raw) as HandoverMessage;
    } catch {
      return; // not ours: ignored
    }
    if (message === null || typeof message !== 'object' || typeof message.sessionId !== 'string') return;
    if (message.t === 'released') {
      for (const answered of this.#waiting.get(message.sessionId) ?? []) answered();
      return;
    }
    const member = this.#member();
    if (message.t !== 'handover' || typeof message.from !== 'string' || member === undefined) return;
    const { sessionId, from } = message;
    void Promise.resolve()
      .then(() => member.handover(sessionId, from))
      .catch(() => {}) // the member reports its own failures; the requester then finds the lease still held
      .then(() => this.#send(from, { t: 'released', sessionId }))
      .catch(() => {}); // the store is unreachable: the requester's wait times out and it looks at the lease again
  }
}
