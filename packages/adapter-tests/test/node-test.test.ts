import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const fixture = fileURLToPath(new URL('./fixtures/node-test-suite.ts', import.meta.url));

/** Runs the fixture under node:test with the TAP reporter; resolves with its exit code and output. */
function runFixture(adapters: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions', '@reprise/source', '--test-reporter', 'tap', fixture],
      { env: { ...process.env, REPRISE_FIXTURE_ADAPTERS: adapters.join(',') }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** The number after `# <name>` in node:test's TAP summary. */
function summary(output: string, name: string): number {
  const match = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output);
  if (!match) throw new Error(`no "# ${name}" line in:\n${output}`);
  return Number(match[1]);
}

/** Names of the failed tests and suites, in order (`not ok 3 - name`, at any depth). */
function failures(output: string): string[] {
  return [...output.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((match) => match[1]!);
}

// One child process runs the suite three times under node:test: the healthy MemoryAdapter, one
// that strips NUL characters, and a non-atomic one that says so.
describe('the suite under node:test (a child process)', function () {
  this.timeout(30_000);
  let run: { code: number; output: string };

  before(async () => {
    run = await runFixture(['memory', 'nul-mangling', 'honest-racy-take']);
  });

  it('runs with node:test’s describe, it, before and after: MemoryAdapter passes', () => {
    expect(run.output).to.match(/^ok \d+ - memory under node:test$/m);
    expect(summary(run.output, 'pass')).to.be.greaterThan(3 * 75);
  });

  it('fails the adapter that mangles NUL characters, naming the checks, and only it', () => {
    expect(run.code).to.equal(1);
    expect(failures(run.output)).to.deep.equal([
      'round-trips NUL characters',
      'round-trips only a NUL character',
      'round-trips every Unicode scalar value of the BMP and a sample of the astral planes',
      'round trip',
      'nul-mangling under node:test',
    ]);
    expect(run.output).to.contain('first difference at index 0: expected U+0000');
    expect(summary(run.output, 'fail')).to.equal(3);
  });

  it('reports the exactly-once checks of a non-atomic adapter, and the ordered checks of an unordered one, as skipped, with the reason', () => {
    expect(run.output).to.match(/^ok \d+ - honest-racy-take under node:test$/m);
    expect(run.output).to.match(
      /ok \d+ - exactly one of 50 concurrent take\(\) calls on one key gets the value # SKIP adapter\.atomic is false/,
    );
    const unordered = run.output.match(/ # SKIP the adapter is not ordered: it has no saveIfNewer\(\) and takeVersioned\(\)$/gm) ?? [];
    expect(unordered.length).to.be.greaterThan(40);
    expect(summary(run.output, 'skipped')).to.equal(2 + unordered.length);
  });
});
