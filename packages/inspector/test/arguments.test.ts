import { expect } from 'chai';
import { parseInvocation } from '../src/arguments.js';
import { main } from '../src/index.js';
import { reprise, assertBuilt } from './helpers/cli.js';

/** Runs `main` in this process (the same code as the bin, without a process per case). */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(`${line}\n`), err: (line) => err.push(`${line}\n`), raw: () => {} }, env);
  return { code, out: out.join(''), err: err.join('') };
}

const REDIS = ['--redis', 'redis://127.0.0.1:1'];

describe('reprise: arguments (no store is reached)', () => {
  it('refuses bad arguments with exit code 64 and one line saying what is wrong', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [['list'], {}, 'no store given: use --redis <url> or --postgres <url> (or set REPRISE_REDIS_URL or REPRISE_POSTGRES_URL)'],
      [['list', ...REDIS, '--postgres', 'postgresql://x@127.0.0.1:1/db'], {}, 'give --redis or --postgres, not both'],
      [
        ['list'],
        { REPRISE_REDIS_URL: 'redis://a', REPRISE_POSTGRES_URL: 'postgres://b' },
        'both REPRISE_REDIS_URL and REPRISE_POSTGRES_URL are set: choose one with --redis or --postgres',
      ],
      [['list', ...REDIS, '--table', 't'], {}, '--table applies to --postgres; for Redis give --redis-prefix'],
      [
        ['list', '--postgres', 'postgresql://x@h/db', '--redis-prefix', 'p:'],
        {},
        '--redis-prefix applies to --redis; for Postgres give --table',
      ],
      [['list', '--redis', 'http://127.0.0.1'], {}, '--redis must be a redis:// or rediss:// URL, got http://'],
      [['list', '--redis', 'not a url'], {}, '--redis must be a URL (redis:// or rediss://), got something else'],
      [['list', '--limt', '3', ...REDIS], {}, 'unknown option --limt (did you mean --limit?)'],
      [['list', '--raw', ...REDIS], {}, '--raw does not apply to list (see reprise list --help)'],
      [['lst', ...REDIS], {}, 'unknown command "lst": the commands are list, show, delete, stats, help (see reprise --help)'],
      [['show', ...REDIS], {}, 'show takes 1 argument, got 0 (see reprise show --help)'],
      [['show', 'a', 'b', ...REDIS], {}, 'show takes 1 argument, got 2 (see reprise show --help)'],
      [['show', 'a', '--raw', '--json', ...REDIS], {}, 'give --raw or --json, not both'],
      [['list', '--limit=-1', ...REDIS], {}, '--limit must be a whole number (0 for no limit), got "-1"'],
      [['list', '--limit', '-1', ...REDIS], {}, 'option --limit needs a value (write --limit=-… for one that starts with a dash)'],
      [['list', ...REDIS, '--limit'], {}, 'option --limit needs a value'],
      [['stats', '--soon', 'soon', ...REDIS], {}, '--soon must be a duration such as 5000, 30s, 15m, 2h or 1d (at least 0 ms), got "soon"'],
      [['stats', '--timeout', '0', ...REDIS], {}, '--timeout must be a duration such as 5000, 30s, 15m, 2h or 1d (at least 1 ms), got "0"'],
      [['delete', ...REDIS], {}, 'give the key to delete, or --prefix <prefix> --yes for every key under a prefix'],
      [['delete', 'k', '--prefix', 'p', ...REDIS], {}, 'give a key or --prefix, not both'],
      [
        ['list', '--postgres', 'postgresql://x@127.0.0.1:1/db', '--table', 'a.b.c'],
        {},
        '--table: table must be "name" or "schema.name" (one dot at most), got "a.b.c"',
      ],
    ];
    for (const [argv, env, message] of cases) {
      const result = await run(argv, env);
      expect(result, argv.join(' ')).to.deep.include({ code: 64, err: `reprise: ${message}\n` });
    }
  });

  it('prints the help of each command, and the version', async () => {
    const general = await run(['--help']);
    expect(general.code).to.equal(0);
    for (const command of ['list [pattern]', 'show <key>', 'delete <key>', 'delete --prefix <p> --yes', 'stats [pattern]'])
      expect(general.out).to.include(command);
    const topics: Array<[string[], string]> = [
      [['list', '--help'], '--limit <n>'],
      [['help', 'show'], '--raw'],
      [['delete', '-h'], '--yes'],
      [['stats', '--help'], '--soon <duration>'],
    ];
    for (const [argv, option] of topics) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).to.equal(0);
      expect(result.out, argv.join(' ')).to.include(option).and.include('Exit codes:');
    }
    expect(await run(['--version'])).to.deep.equal({ code: 0, out: '0.1.0\n', err: '' });
    const none = await run([]);
    expect(none.code).to.equal(64);
    expect(none.out).to.include('Usage: reprise <command>');
  });

  it('the built bin exits with the same codes', async function () {
    this.timeout(30_000);
    assertBuilt();
    const help = await reprise(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^reprise: list, decode, show and delete/);
    const bad = await reprise(['list', '--limt']);
    expect(bad.code).to.equal(64);
    expect(bad.stderr).to.equal('reprise: unknown option --limt (did you mean --limit?)\n');
  });

  it('takes a key that starts with "-" (a session id may) after "--", and refuses it as an option before', () => {
    const parsed = parseInvocation(['show', ...REDIS, '--', '-Ab3dEf-ghIjkLmNoPqRsT_u']);
    expect(parsed.command).to.equal('show');
    expect(parsed.args).to.deep.equal(['-Ab3dEf-ghIjkLmNoPqRsT_u']);
    expect(() => parseInvocation(['show', ...REDIS, '-Ab3dEf-ghIjkLmNoPqRsT_u'])).to.throw(/unknown option/);
  });
});
