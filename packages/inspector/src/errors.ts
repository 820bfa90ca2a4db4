/** Stable error codes of the inspector. */
export type InspectorErrorCode =
  | 'ERR_REPRISE_INSPECTOR_USAGE'
  | 'ERR_REPRISE_INSPECTOR_STORE'
  | 'ERR_REPRISE_INSPECTOR_NOT_FOUND'
  | 'ERR_REPRISE_INSPECTOR_UNDECODABLE'
  | 'ERR_REPRISE_INSPECTOR_REFUSED';

/**
 * Exit codes of `reprise` (see the README): 0 done; 1 a value that cannot be decoded, or a key the
 * inspector refuses to delete; 2 the store is unreachable or is not a Reprise store; 3 no such key;
 * 64 bad arguments (`EX_USAGE` of sysexits.h); 70 an unexpected error (`EX_SOFTWARE`).
 */
export const EXIT_CODES = Object.freeze({
  ok: 0,
  failed: 1,
  store: 2,
  notFound: 3,
  usage: 64,
  internal: 70,
});

const EXIT_BY_CODE: Readonly<Record<InspectorErrorCode, number>> = Object.freeze({
  ERR_REPRISE_INSPECTOR_USAGE: EXIT_CODES.usage,
  ERR_REPRISE_INSPECTOR_STORE: EXIT_CODES.store,
  ERR_REPRISE_INSPECTOR_NOT_FOUND: EXIT_CODES.notFound,
  ERR_REPRISE_INSPECTOR_UNDECODABLE: EXIT_CODES.failed,
  ERR_REPRISE_INSPECTOR_REFUSED: EXIT_CODES.failed,
});

/** An error the inspector reports in one line (never with a stack trace) and turns into its exit code. */
export class InspectorError extends Error {
  readonly code: InspectorErrorCode;
  constructor(code: InspectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'InspectorError';
  }

  /** The process exit code for this error (see {@link EXIT_CODES}). */
  get exitCode(): number {
    return EXIT_BY_CODE[this.code];
  }
}

/** Bad arguments: exit code 64. */
export function usageError(message: string, cause?: unknown): InspectorError {
  return new InspectorError('ERR_REPRISE_INSPECTOR_USAGE', message, cause === undefined ? undefined : { cause });
}

/** The store failed or is not what it should be: exit code 2. */
export function storeError(message: string, cause?: unknown): InspectorError {
  const detail = cause === undefined ? '' : ` (${causeMessage(cause)})`;
  return new InspectorError('ERR_REPRISE_INSPECTOR_STORE', `${message}${detail}`, cause === undefined ? undefined : { cause });
}

/** The message of a thrown value, with the `code` of a system error when its message lacks it. */
export function causeMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return causeMessage(error.errors[0]);
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message === '' ? error.name : error.message;
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
