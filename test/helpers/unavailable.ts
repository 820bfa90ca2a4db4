import type { IncomingHttpHeaders } from 'node:http';

/** A response of supertest or of `KeepAliveBrowser`: what {@link unavailableProblem} looks at. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders | Record<string, unknown>;
}

/**
 * What is wrong with `response` as the answer to a write whose session cannot be had (store down,
 * server shutting down): it must be a 503 with a `Retry-After` of whole seconds and no session
 * `Set-Cookie` (the visitor's cookie is kept: its context is still where it was). `undefined` when it is right.
 */
export function unavailableProblem(response: HttpAnswer): string | undefined {
  const problems: string[] = [];
  if (response.status !== 503) problems.push(`status ${response.status} (want 503)`);
  const retryAfter = response.headers['retry-after'];
  if (typeof retryAfter !== 'string' || !/^\d+$/.test(retryAfter))
    problems.push(`Retry-After ${JSON.stringify(retryAfter)} (want whole seconds)`);
  const raw = response.headers['set-cookie'];
  const headers = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  const cookies = headers.filter((header) => header.startsWith('reprise.sid'));
  if (cookies.length > 0) problems.push(`Set-Cookie ${JSON.stringify(cookies.map((header) => header.split(';')[0]))} (want none)`);
  return problems.length === 0 ? undefined : problems.join(', ');
}
