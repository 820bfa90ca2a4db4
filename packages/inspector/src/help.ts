import type { Command } from './arguments.js';

const CONNECTION = `Store (one of):
  --redis <url>           redis:// or rediss:// URL (else REPRISE_REDIS_URL)
  --redis-prefix <p>      the RedisAdapter's key prefix (default "reprise:"; else REPRISE_REDIS_PREFIX)
  --postgres <url>        postgres:// or postgresql:// URL (else REPRISE_POSTGRES_URL)
  --table <name>          the PostgresAdapter's table, name or schema.name
                          (default reprise_snapshots; else REPRISE_POSTGRES_TABLE)
  --timeout <duration>    to connect, and per command (default 5s)

Output:
  --json                  JSON for scripts
  --show-ids              print session ids whole (by default AbCdEf…: an id is a credential)
  -h, --help              this help`;

const EXIT = `Exit codes: 0 done, 1 undecodable value or key refused, 2 store unreachable or not a
Reprise store, 3 no such key, 64 bad arguments, 70 unexpected error.`;

const GENERAL = `reprise: list, decode, show and delete Reprise session snapshots in Redis or Postgres.

Usage: reprise <command> [arguments] [options]

Commands:
  list [pattern]          keys with kind, reason, session, size and times
  show <key>              a record decoded: metadata, and the session's data as JSON
  delete <key>            delete one snapshot, pointer or checkpoint
  delete --prefix <p> --yes   delete every snapshot whose key starts with p
  stats [pattern]         counts by kind and reason, sizes, what expires soon
  help [command]          help of a command

A key is the adapter key (without the Redis prefix). A redacted key as list prints it (AbCdEf…,
or AbCdEf... typed) names the one key it stands for. Patterns: * matches anything, \\* a star.

${CONNECTION}

${EXIT}`;

const COMMANDS: Readonly<Record<Command, string>> = Object.freeze({
  list: `Usage: reprise list [pattern] [--limit n] [--all] [options]

One line per key, in the store's scan order: KIND (snapshot, checkpoint, pointer, erased,
undecodable), REASON, SESSION (redacted), BYTES (stored value), CLOSED AT, EXPIRES IN, KEY
(-> the key a pointer leads to). --json prints one JSON object per line instead.

  [pattern]               keys to list: * matches anything, \\* a star (default: every key)
  --limit <n>             list at most n keys (default 1000; 0: no limit)
  --all                   also list expired rows not yet swept, floors (what a restore leaves),
                          coordinator keys (lease, token, deadlines) and foreign keys

Redis is read with SCAN (never KEYS); Postgres by pages of its primary key.`,
  show: `Usage: reprise show <key> [--raw] [options]

The record under <key>: kind, reason, session (redacted), times, size, version, expiry, and a
snapshot's data as readable JSON: Dates as ISO strings, other types tagged ({"$map": [[k, v]]},
{"$set": [...]}, {"$bigint": "1"}, {"$Uint8Array": "hex"}, {"$undefined": true}, {"$ref": "data.a"}).
A value that is not a Reprise snapshot is described (why, first bytes) with exit code 1.
A key that starts with "-" (a session id may) goes after "--": reprise show --redis <url> -- -Ab3...

  --raw                   print the stored value exactly as it is (ids included), nothing else`,
  delete: `Usage: reprise delete <key> | reprise delete --prefix <p> --yes [options]

Deletes what the adapter writes: snapshots, checkpoints, pointers, erased marks, undecodable
values and floors. Coordinator keys (lease, token, deadlines) and foreign keys are never deleted:
naming one fails with exit code 1; a bulk delete keeps and counts them. A key that starts with "-"
goes after "--", as with show.

  --prefix <p>            every key starting with p ("" for every key of the store)
  --yes                   required with --prefix; without it the keys are only counted (exit 64)`,
  stats: `Usage: reprise stats [pattern] [--soon duration] [options]

Counts keys by kind and records by reason, adds up the stored bytes, names the largest value and
counts what expires soon, in one scan.

  [pattern]               keys to count (default: every key)
  --soon <duration>       "expiring soon" window (default 1h)`,
  help: `Usage: reprise help [command]`,
});

/** The help text of a command, or the general help. */
export function helpText(command: Command | undefined): string {
  if (command === undefined || command === 'help') return GENERAL;
  return `${COMMANDS[command]}\n\n${CONNECTION}\n\n${EXIT}`;
}
