import { isSessionId, redactId } from '@reprise/core/adapter-kit';

/**
 * A session id is a credential (whoever has it is that visitor), so output names sessions the way
 * Reprise's own reports do: the first 6 characters and `…` (`redactId` of `@reprise/core`), unless
 * `--show-ids` is given. Keys holding an id are redacted too: a key that is a session id, and the
 * coordinator's `lease:<id>` and `token:<id>`.
 */
export interface Redactor {
  /** A session id for output. */
  id(id: string): string;
  /** An adapter key for output. */
  key(key: string): string;
}

const ID_IN_KEY = /^(lease:|token:)(.*)$/s;

/** The redacted form of a key (see {@link Redactor}); other keys are returned as they are. */
export function redactKey(key: string): string {
  if (isSessionId(key)) return redactId(key);
  const match = ID_IN_KEY.exec(key);
  if (match !== null && isSessionId(match[2])) return `${match[1]}${redactId(match[2]!)}`;
  return key;
}

/** The redactor of `--show-ids` (`true`: ids shown whole) or of the default. */
export function redactor(showIds: boolean): Redactor {
  return showIds ? { id: (id) => id, key: (key) => key } : { id: (id) => redactId(id), key: redactKey };
}

/** Whether `text` is a redacted key as list prints it: ends with `…` (or `...`, easier to type). */
export function isRedactedReference(text: string): boolean {
  return text.endsWith('…') || text.endsWith('...');
}

/** A redacted reference in the form `redactKey` prints (`...` turned into `…`). */
export function normalizeReference(text: string): string {
  return text.endsWith('...') ? `${text.slice(0, -3)}…` : text;
}
