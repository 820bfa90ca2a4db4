import { createRequire } from 'node:module';
import { commandNamed, parseInvocation } from './arguments.js';
import type { Invocation } from './arguments.js';
import { list } from './commands/list.js';
import { remove } from './commands/delete.js';
import { show } from './commands/show.js';
import { stats } from './commands/stats.js';
import { openStore, resolveTarget } from './connection.js';
import type { Context, Io } from './context.js';
import { snapshotKeysFrom } from './snapshot-keys.js';
import { causeMessage, EXIT_CODES, InspectorError } from './errors.js';
import { helpText } from './help.js';
import { redactor } from './redaction.js';

const COMMANDS = { list, show, delete: remove, stats } as const;

/**
 * Runs `reprise` with `argv` (the arguments after the script) and resolves its exit code. Every
 * failure is one line on standard error starting with `reprise: `, never a stack trace (set
 * `REPRISE_DEBUG=1` for the stack of an unexpected error).
 */
export async function main(argv: readonly string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    await run(parseInvocation(argv), io, env);
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof InspectorError) {
      io.err(`reprise: ${error.message}`);
      return error.exitCode;
    }
    io.err(`reprise: unexpected error: ${causeMessage(error)}`);
    if (env.REPRISE_DEBUG === '1' && error instanceof Error && error.stack !== undefined) io.err(error.stack);
    return EXIT_CODES.internal;
  }
}

async function run(options: Invocation, io: Io, env: NodeJS.ProcessEnv): Promise<void> {
  if (options.version) {
    io.out(version());
    return;
  }
  const command = options.command;
  if (options.help || command === undefined || command === 'help') {
    const topic = command === 'help' ? commandNamed(options.args[0] ?? 'help') : command;
    io.out(helpText(topic));
    if (command === undefined && !options.help) throw new InspectorError('ERR_REPRISE_INSPECTOR_USAGE', 'no command given');
    return;
  }
  const snapshotKeys = snapshotKeysFrom(env);
  const target = resolveTarget(options, env);
  const store = await openStore(target, options.timeout);
  const context: Context = { store, options, io, redact: redactor(options.showIds), snapshotKeys };
  try {
    await COMMANDS[command](context);
  } finally {
    await store.close();
  }
}

/** This package's version. */
function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../package.json') as { version: string }).version;
}
