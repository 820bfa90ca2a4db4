import Mocha from 'mocha';
import type { TestBody, TestFunctions } from '../../src/index.js';

/** What a child run reported, by full title ("adapter group check"). */
export interface ChildRunReport {
  readonly passed: string[];
  readonly pending: string[];
  /** Failed checks and hooks, with their error messages. */
  readonly failed: Array<{ title: string; message: string }>;
}

/**
 * Test functions that build a detached mocha suite tree under `root` (instead of mocha's globals,
 * which belong to the run in progress). Describe callbacks get the new Suite as `this`, like mocha's.
 */
function collector(root: Mocha.Suite): TestFunctions {
  let current = root;
  const it = Object.assign((title: string, fn: TestBody) => current.addTest(new Mocha.Test(title, fn)), {
    skip: (title: string) => current.addTest(new Mocha.Test(title)),
  });
  return {
    describe(title, fn) {
      const parent = current;
      const suite = Mocha.Suite.create(parent, title);
      current = suite;
      try {
        fn.call(suite);
      } finally {
        current = parent;
      }
      return suite;
    },
    it,
    before: (fn) => current.beforeAll(fn),
    after: (fn) => current.afterAll(fn),
  };
}

/**
 * Runs checks in a child mocha run, in this process: `register` declares them with the given test
 * functions (for example by calling `runAdapterTests`), then a separate `Mocha.Runner` runs that tree
 * and the outcome of every check is collected. Nothing is printed.
 * @param grep only checks whose full title matches it run (their groups' hooks with them).
 */
export async function runInChildMocha(register: (fns: TestFunctions) => void, grep?: RegExp): Promise<ChildRunReport> {
  // A root suite (its third argument, isRoot, is missing from @types/mocha).
  const RootSuite = Mocha.Suite as unknown as new (title: string, context: Mocha.Context, isRoot: boolean) => Mocha.Suite;
  const root = new RootSuite('', new Mocha.Context(), true);
  root.timeout(15_000);
  register(collector(root));
  const runner = new Mocha.Runner(root, { cleanReferencesAfterRun: true });
  if (grep) runner.grep(grep, false);
  const report: ChildRunReport = { passed: [], pending: [], failed: [] };
  runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, (test) => report.passed.push(test.fullTitle()));
  runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (test) => report.pending.push(test.fullTitle()));
  runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test, error: Error) =>
    report.failed.push({ title: test.fullTitle(), message: String(error?.message ?? error) }),
  );
  try {
    await new Promise<void>((resolve) => runner.run(() => resolve()));
  } finally {
    runner.dispose();
  }
  return report;
}
