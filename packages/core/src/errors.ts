/** Stable error codes of Reprise. */
export type RepriseErrorCode =
  | 'ERR_REPRISE_OPTION'
  | 'ERR_REPRISE_HOOK'
  | 'ERR_REPRISE_HOOK_TIMEOUT'
  | 'ERR_REPRISE_DISPOSE'
  | 'ERR_REPRISE_CODEC'
  | 'ERR_REPRISE_SNAPSHOT_TOO_LARGE'
  | 'ERR_REPRISE_SNAPSHOT_CORRUPT'
  | 'ERR_REPRISE_SNAPSHOT_AUTH'
  | 'ERR_REPRISE_PERSIST'
  | 'ERR_REPRISE_RESTORE'
  | 'ERR_REPRISE_PERSIST_KEY'
  | 'ERR_REPRISE_SESSION_CLOSED'
  | 'ERR_REPRISE_ADAPTER'
  | 'ERR_REPRISE_ADAPTER_TIMEOUT'
  | 'ERR_REPRISE_SESSION_UNAVAILABLE'
  | 'ERR_REPRISE_LISTENER'
  | 'ERR_REPRISE_UNSUPPORTED';

/** Base class of every error Reprise throws or reports. `code` is stable across releases. */
export class RepriseError extends Error {
  readonly code: RepriseErrorCode;
  constructor(code: RepriseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option had a wrong type or value (thrown by the constructor and `setOption`). */
export class OptionError extends RepriseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REPRISE_OPTION', message, options);
  }
}

/** A closing or restore hook threw, or passed `hookTimeout` (`code` says which). Reported, never thrown. */
export class HookError extends RepriseError {
  /** The id of the session whose hook failed. */
  readonly sessionId: string;
  constructor(
    code: 'ERR_REPRISE_HOOK' | 'ERR_REPRISE_HOOK_TIMEOUT' | 'ERR_REPRISE_DISPOSE',
    sessionId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.sessionId = sessionId;
  }
}

/**
 * The snapshot codec met something it cannot write or read: a value it cannot represent (dropped,
 * `path` names it), a reserved key (`__proto__`, `constructor`, `prototype`), a corrupt or refused
 * snapshot (`ERR_REPRISE_SNAPSHOT_CORRUPT`) or one over `maxSnapshotBytes` (`ERR_REPRISE_SNAPSHOT_TOO_LARGE`).
 * `ERR_REPRISE_SNAPSHOT_AUTH` (path `''`): a record that encryption at rest refuses (see `snapshotKeys`):
 * an encrypted one that does not authenticate (altered in the store, or moved there from another
 * key), names a key id the keys do not hold, or is malformed; an encrypted one read without keys; a
 * plaintext one read with keys while `acceptPlaintextSnapshots` is off.
 */
export class CodecError extends RepriseError {
  /** Where in the session data the problem is, like `data.cart[2].handle`; empty when it concerns the whole snapshot. */
  readonly path: string;
  constructor(
    code: 'ERR_REPRISE_CODEC' | 'ERR_REPRISE_SNAPSHOT_TOO_LARGE' | 'ERR_REPRISE_SNAPSHOT_CORRUPT' | 'ERR_REPRISE_SNAPSHOT_AUTH',
    path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.path = path;
  }
}

/** The adapter failed to write a snapshot (reported; the snapshot is retried or handed to `'persistFailed'`). */
export class PersistError extends RepriseError {
  /** The adapter key of the snapshot. */
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super('ERR_REPRISE_PERSIST', message, options);
    this.key = key;
  }
}

/** A restore failed (adapter error, corrupt or refused snapshot). Reported; the visitor gets a fresh session. */
export class RestoreError extends RepriseError {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super('ERR_REPRISE_RESTORE', message, options);
    this.key = key;
  }
}

/** A `persistKey` that is empty, not a string, or shaped like a session id. Thrown by the setter. */
export class PersistKeyError extends RepriseError {
  constructor(message: string) {
    super('ERR_REPRISE_PERSIST_KEY', message);
  }
}

/** A write to a session after its close: ignored and reported. */
export class SessionClosedError extends RepriseError {
  readonly sessionId: string;
  constructor(sessionId: string, message: string) {
    super('ERR_REPRISE_SESSION_CLOSED', message);
    this.sessionId = sessionId;
  }
}

/** An event listener of the manager threw; reported so that it never breaks a close or a restore. */
export class ListenerError extends RepriseError {
  /** The event whose listener threw. */
  readonly event: string;
  constructor(event: string, cause: unknown) {
    super('ERR_REPRISE_LISTENER', `a ${JSON.stringify(event)} listener threw`, { cause });
    this.event = event;
  }
}

/**
 * An adapter operation failed (`ERR_REPRISE_ADAPTER`) or passed the core's `adapterTimeout`
 * (`ERR_REPRISE_ADAPTER_TIMEOUT`). `transient` says whether trying again later may succeed: an outage
 * or a timeout is transient; a configuration error (authentication refused, missing privileges,
 * unknown database) is not, and the core gives such a write up at once (`'persistFailed'`).
 */
export class AdapterError extends RepriseError {
  /** Whether a later attempt may succeed. Default `true`. */
  readonly transient: boolean;
  /**
   * Whether the operation certainly never reached the store (the client was not connected, so the
   * command was not sent). Default `false`: a write that failed otherwise (a timeout, a connection
   * lost mid-command) may still have landed, and the core fences the key before it trusts that it
   * did not. Set it only when sure: a write that failed so is restored straight from the retry queue.
   */
  readonly unsent: boolean;
  constructor(
    code: 'ERR_REPRISE_ADAPTER' | 'ERR_REPRISE_ADAPTER_TIMEOUT',
    message: string,
    options?: { cause?: unknown; transient?: boolean; unsent?: boolean },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options?.transient ?? true;
    this.unsent = options?.unsent ?? false;
  }
}

/**
 * A call another session library offers (koa-session's `ctx.session.manuallyCommit()`, for example)
 * that Reprise has no equivalent for, or a write to one of the names a binding reserves. Thrown
 * where it is used; the message names what to use instead.
 */
export class UnsupportedError extends RepriseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REPRISE_UNSUPPORTED', message, options);
  }
}

const UNAVAILABLE_MESSAGES = Object.freeze({
  store: 'the session is unavailable: its store cannot be read now',
  shutdown: 'the session is unavailable: the server is restarting',
  owner: 'the session is unavailable: another instance holds it and did not hand it over in time',
});

/**
 * The request's session cannot be had right now: its snapshot cannot be read (the store is down),
 * the process is shutting down and has already closed it, or (several instances) another instance
 * holds it and did not hand it over within `handoverTimeout`. Thrown by a write to the session (so
 * that nothing is acknowledged that would be lost); the cookie is kept and the context stays where
 * it was. Carries the HTTP conventions Koa, Express and Fastify honour: `status` 503, `expose`, and a
 * `Retry-After` header of `retryAfter` seconds.
 */
export class SessionUnavailableError extends RepriseError {
  /** HTTP status for the response: 503. */
  readonly status = 503;
  /** Same as `status`, for frameworks that read `statusCode`. */
  readonly statusCode = 503;
  /** The message is safe to show to the client. */
  readonly expose = true;
  /** Seconds after which the client may try again. */
  readonly retryAfter: number;
  /** Response headers the frameworks set from an error: `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(why: 'store' | 'shutdown' | 'owner', retryAfter: number, options?: { cause?: unknown }) {
    super('ERR_REPRISE_SESSION_UNAVAILABLE', UNAVAILABLE_MESSAGES[why], options);
    this.retryAfter = retryAfter;
    this.headers = Object.freeze({ 'Retry-After': String(retryAfter) });
  }
}
