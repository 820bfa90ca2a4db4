/**
 * Holds the event loop open while something must finish (a shutdown): the timers of hooks, adapter
 * calls and retries are unref'd, so without this a process whose only pending work is a hung hook
 * or a store that stopped answering would exit before its snapshots are written.
 * Returns the function that lets the loop go again.
 */
export function keepAlive(): () => void {
  const timer = setInterval(() => undefined, 2 ** 30);
  return () => clearInterval(timer);
}
