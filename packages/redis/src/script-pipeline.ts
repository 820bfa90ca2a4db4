import { adapterError } from './arguments.js';
import { isNoScript } from './script-runner.js';
import type { ScriptClient } from './script-runner.js';
import type { DeadlineSignal } from './deadline.js';
import type { LuaScript } from './scripts.js';

/** One run of a script in a pipeline: its keys (prefix included) and its arguments. */
export interface ScriptCall {
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** How one run of a pipeline ended: Redis's reply, or the error of that command. */
export type ScriptOutcome = PromiseSettledResult<unknown>;

/**
 * Sends one command per run of `calls` in one pipeline and settles each on its own: every command
 * is issued in the same tick, and node-redis writes the commands issued in one tick in one corked
 * socket write, then reads the replies in order, so the whole pipeline costs one round trip.
 * Every run goes as `EVALSHA`, but the first as `EVAL` (with the source) when `evalFirst`.
 */
function sendAll(client: ScriptClient, script: LuaScript, calls: readonly ScriptCall[], evalFirst: boolean): Promise<ScriptOutcome[]> {
  return Promise.allSettled(
    calls.map((call, i) => {
      const options = { keys: [...call.keys], arguments: [...call.args] };
      return evalFirst && i === 0 ? client.eval(script.source, options) : client.evalSha(script.sha1, options);
    }),
  );
}

/**
 * Runs `script` once per entry of `calls`, all in one pipeline (`EVALSHA`, the script's SHA-1 only),
 * and resolves how each run ended, in order: a pipeline is not a transaction, each run stands alone
 * (each script is atomic on its own key). Runs Redis answered with NOSCRIPT (the script is not
 * cached: first use, a restart, `SCRIPT FLUSH`) did not run, so they are sent again in a second
 * pipeline whose first command is an `EVAL` with the source (which caches the script) and the
 * others `EVALSHA` right behind it; this repeats while NOSCRIPT comes back (each round runs at
 * least its `EVAL`). A retry is never sent once the caller's deadline has passed (`signal`): the
 * call then rejects, as the single calls do.
 */
export async function runScriptPipeline(
  client: ScriptClient,
  script: LuaScript,
  calls: readonly ScriptCall[],
  signal: DeadlineSignal,
): Promise<ScriptOutcome[]> {
  const outcomes = await sendAll(client, script, calls, false);
  let retry = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' && isNoScript(outcome.reason) ? [i] : []));
  while (retry.length > 0) {
    if (signal.aborted) throw adapterError(`${script.name} abandoned after its deadline`);
    const again = await sendAll(
      client,
      script,
      retry.map((i) => calls[i]!),
      true,
    );
    for (const [n, outcome] of again.entries()) outcomes[retry[n]!] = outcome;
    retry = retry.filter((_, n) => again[n]!.status === 'rejected' && isNoScript((again[n] as PromiseRejectedResult).reason));
  }
  return outcomes;
}
