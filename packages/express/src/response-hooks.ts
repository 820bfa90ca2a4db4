import type { Response } from 'express';
import type { RequestSession } from './request-session.js';

type WriteHead = Response['writeHead'];
type End = Response['end'];

/**
 * Hooks the response so that the session cookie is written before the headers go out (Express has
 * no `await next()`), as `on-headers` and express-session do:
 * - `res.end()` with headers not yet sent waits for {@link RequestSession.commit} (closes started by
 *   the request, a new session's lease with several instances), then ends the response;
 * - `res.writeHead()` called any other way (a streamed body, `res.flushHeaders()`) decides the cookie
 *   at once ({@link RequestSession.commitNow});
 * - the request's hold on its session ends when the response is closed (sent, or the client gone).
 */
export function hookResponse(response: Response, binding: RequestSession): void {
  const writeHead = response.writeHead as (...args: unknown[]) => Response;
  const end = response.end as (...args: unknown[]) => Response;
  response.writeHead = function hookedWriteHead(this: Response, ...args: unknown[]) {
    if (!binding.committed && !this.headersSent) binding.commitNow();
    return writeHead.apply(this, args);
  } as WriteHead;
  response.end = function hookedEnd(this: Response, ...args: unknown[]) {
    if (binding.committed || this.headersSent || binding.committing) return end.apply(this, args);
    void binding.commit().then(() => end.apply(this, args));
    return this;
  } as End;
  response.once('close', () => binding.end());
}
