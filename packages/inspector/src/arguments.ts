import { parseArgs } from 'node:util';
import { assertKnownOptions } from '@reprise/core/adapter-kit';
import { usageError } from './errors.js';
import { parseDuration } from './format.js';

/** The commands of `reprise`. */
export const COMMANDS = Object.freeze(['list', 'show', 'delete', 'stats', 'help'] as const);
export type Command = (typeof COMMANDS)[number];

/** Every option of every command (`node:util` `parseArgs` configuration). */
const OPTIONS = {
  redis: { type: 'string' },
  postgres: { type: 'string' },
  'redis-prefix': { type: 'string' },
  table: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  'show-ids': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  raw: { type: 'boolean' },
  prefix: { type: 'string' },
  yes: { type: 'boolean' },
  soon: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Options every command takes. */
const COMMON: readonly OptionName[] = ['redis', 'postgres', 'redis-prefix', 'table', 'timeout', 'json', 'show-ids', 'help'];

/** Options of each command beyond {@link COMMON}. */
const OWN: Readonly<Record<Command, readonly OptionName[]>> = Object.freeze({
  list: ['limit', 'all'],
  show: ['raw'],
  delete: ['prefix', 'yes'],
  stats: ['soon'],
  help: [],
});

/** Positional arguments each command takes (after its name): at least, at most. */
const POSITIONALS: Readonly<Record<Command, readonly [number, number]>> = Object.freeze({
  list: [0, 1],
  show: [1, 1],
  delete: [0, 1],
  stats: [0, 1],
  help: [0, 1],
});

/** Defaults of the options, in one place (see the README). */
export const DEFAULTS = Object.freeze({
  /** ms to connect and for each command or statement. */
  timeout: 5000,
  /** Keys `list` prints at most; 0 = no limit. */
  limit: 1000,
  /** `stats` counts keys expiring within this many ms. */
  soon: 3_600_000,
});

/** The parsed command line. Durations in ms. */
export interface Invocation {
  /** `undefined`: no command (`reprise`, `reprise --help`, `reprise --version`). */
  readonly command: Command | undefined;
  /** The arguments after the command's name. */
  readonly args: readonly string[];
  readonly help: boolean;
  readonly version: boolean;
  readonly json: boolean;
  readonly showIds: boolean;
  readonly redis: string | undefined;
  readonly postgres: string | undefined;
  readonly redisPrefix: string | undefined;
  readonly table: string | undefined;
  readonly timeout: number;
  readonly limit: number;
  readonly all: boolean;
  readonly raw: boolean;
  readonly prefix: string | undefined;
  readonly yes: boolean;
  readonly soon: number;
}

/**
 * Parses `argv` (without `node` and the script): options may come before or after the command.
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_USAGE` on an unknown command or option (with a
 *   "did you mean" hint), an option of another command, a missing or malformed value, or a wrong
 *   number of arguments.
 */
export function parseInvocation(argv: readonly string[]): Invocation {
  const { values, positionals } = parseStrict(argv);
  const [name, ...args] = positionals;
  const command = name === undefined ? undefined : commandNamed(name);
  const given = Object.keys(values) as OptionName[];
  if (command !== undefined) {
    for (const option of given) {
      if (!COMMON.includes(option) && !OWN[command].includes(option))
        throw usageError(`--${option} does not apply to ${command} (see reprise ${command} --help)`);
    }
    const [least, most] = POSITIONALS[command];
    if (values.help !== true && (args.length < least || args.length > most)) {
      throw usageError(
        `${command} takes ${least === most ? least : `${least} to ${most}`} argument${most === 1 ? '' : 's'}, got ${args.length} (see reprise ${command} --help)`,
      );
    }
  }
  if (values.raw === true && values.json === true) throw usageError('give --raw or --json, not both');
  if (command === 'delete' && values.help !== true) {
    if (args.length === 1 && values.prefix !== undefined) throw usageError('give a key or --prefix, not both');
    if (args.length === 0 && values.prefix === undefined)
      throw usageError('give the key to delete, or --prefix <prefix> --yes for every key under a prefix');
  }
  return Object.freeze({
    command,
    args,
    help: values.help === true,
    version: values.version === true,
    json: values.json === true,
    showIds: values['show-ids'] === true,
    redis: values.redis,
    postgres: values.postgres,
    redisPrefix: values['redis-prefix'],
    table: values.table,
    timeout: duration('timeout', values.timeout, DEFAULTS.timeout, 1),
    limit: count('limit', values.limit, DEFAULTS.limit),
    all: values.all === true,
    raw: values.raw === true,
    prefix: values.prefix,
    yes: values.yes === true,
    soon: duration('soon', values.soon, DEFAULTS.soon, 0),
  });
}

function parseStrict(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(parseProblem(error as Error & { code?: string }), error);
  }
}

/** The message of a `parseArgs` error, with a "did you mean" hint for an unknown option. */
function parseProblem(error: Error & { code?: string }): string {
  const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(error.message);
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
    try {
      assertKnownOptions({ [unknown[2]!]: true }, new Set(Object.keys(OPTIONS)), '--');
    } catch (hinted) {
      return (hinted as Error).message.replaceAll('"', '');
    }
  }
  const ambiguous = /^Option '(-[^' ]*)[^']*' argument is ambiguous/.exec(error.message);
  if (ambiguous !== null) return `option ${ambiguous[1]} needs a value (write ${ambiguous[1]}=-… for one that starts with a dash)`;
  return error.message
    .split('\n')[0]!
    .replace(/\.?$/, '')
    .replace(/^Option '(-[^' ]*)[^']*' argument missing$/, 'option $1 needs a value');
}

/**
 * The command of that name.
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_USAGE` when there is none.
 */
export function commandNamed(name: string): Command {
  if ((COMMANDS as readonly string[]).includes(name)) return name as Command;
  throw usageError(`unknown command ${JSON.stringify(name)}: the commands are ${COMMANDS.join(', ')} (see reprise --help)`);
}

function count(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,15}$/.test(text)) throw usageError(`--${name} must be a whole number (0 for no limit), got ${JSON.stringify(text)}`);
  return Number(text);
}

function duration(name: string, text: string | undefined, fallback: number, least: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms < least || ms > 2 ** 31 - 1) {
    throw usageError(`--${name} must be a duration such as 5000, 30s, 15m, 2h or 1d (at least ${least} ms), got ${JSON.stringify(text)}`);
  }
  return ms;
}
