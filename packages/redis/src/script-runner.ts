import { adapterError } from './arguments.js';
import type { DeadlineSignal } from './deadline.js';
import type { LuaScript } from './scripts.js';

/** What the runner uses of a node-redis 5 client. */
export interface ScriptClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Redis answers `EVALSHA` of a script it has not cached (first use, after a restart or `SCRIPT FLUSH`) with NOSCRIPT. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs `script` on `key` with `args`: `EVALSHA` (the script's SHA-1 only, no source on the wire),
 * and `EVAL` with the source when Redis does not have it cached yet, which caches it. A NOSCRIPT
 * reply means the script did not run, so sending it again is safe, unless the caller's deadline
 * has passed meanwhile (`signal`): then it is not sent, since the caller was already told it failed.
 */
export function runScript(client: ScriptClient, script: LuaScript, key: string, args: string[], signal: DeadlineSignal): Promise<unknown> {
  const options = { keys: [key], arguments: args };
  return client.evalSha(script.sha1, options).then(undefined, (error: unknown) => {
    if (!isNoScript(error)) throw error;
    if (signal.aborted) throw adapterError(`${script.name} abandoned after its deadline`);
    return client.eval(script.source, options);
  });
}
