import type { LiveSession, SessionData, SessionManager } from '@reprise/core';

/**
 * A request on `manager` for the session `id`, as `session()` makes one: resumes it (restoring it,
 * or having another instance hand it over), runs `work` on it, releases it. Resolves the
 * resumption's kind (`'live'`, `'restored'`, `'unavailable'`, `'none'`, `'closed'`).
 */
export async function request<TData extends SessionData>(
  manager: SessionManager<TData>,
  id: string,
  work: (session: LiveSession<TData>) => void = () => {},
): Promise<string> {
  const resumed = await manager.resume(id);
  if (resumed.kind !== 'live' && resumed.kind !== 'restored') return resumed.kind;
  try {
    work(resumed.session);
  } finally {
    manager.release(resumed.session);
  }
  return resumed.kind;
}
