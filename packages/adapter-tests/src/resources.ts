/**
 * Counting what keeps the process alive, to find what an adapter leaves open after `close()`.
 *
 * `process.getActiveResourcesInfo()` lists one type name per active resource: handles such as
 * `'TCPSocketWrap'` (a TCP connection), `'PipeWrap'` (a Unix socket), `'TLSWrap'`, `'Timeout'` (a
 * ref'ed timer or interval), `'Immediate'`, and in-flight requests such as `'GetAddrInfoReqWrap'`
 * or `'FSReqCallback'`. It has no owner information, so the close check compares **counts per type**:
 * a baseline taken before the factory runs, and counts after `close()` resolved. Only types whose
 * count went **up** are blamed, which keeps the check robust:
 *
 * - The check's own timers are not counted: samples are taken right after an `await` of a timer,
 *   when that timer is already gone; the runner's timeout timer and the suite's deadline timer exist
 *   before the baseline and after, so they cancel out.
 * - `process.stdout`/`process.stderr` create their handle lazily (the first warning an adapter prints
 *   would look like a leaked `'PipeWrap'`), so both are touched before the baseline.
 * - The baseline is taken once two samples 10 ms apart agree, so the sockets of a previous group's
 *   adapter, still closing, are not counted in and then mistaken for ours going away.
 * - Sockets close a moment after a client's `quit()`/`end()` resolves, and in-flight requests
 *   finish: after `close()` the counts are sampled every 10 ms until nothing exceeds the baseline,
 *   for up to `closeSettleMs`. Only what is still there at the end is reported.
 * - Resources that went away (a count lower than the baseline) are ignored.
 *
 * Limits: unref'ed timers and handles are not listed by Node, so a timer left running but unref'ed
 * goes unseen; and anything else the process opens during the check (another test running in
 * parallel in the same process) would be blamed on the adapter; mocha and `node:test` run one check
 * at a time in a file.
 */

/** Count of active resources per type name. */
export type ResourceCounts = ReadonlyMap<string, number>;

/** Interval between two samples, in ms. */
const SAMPLE_INTERVAL_MS = 10;

/** Resolves after `ms` with its timer gone, so that the caller's next sample does not count it. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The active resources of the process, counted by type. */
export function countResources(): ResourceCounts {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** What `after` holds beyond `before`, as `['TCPSocketWrap +1', 'Timeout +2']`; empty when nothing. */
export function excessOver(before: ResourceCounts, after: ResourceCounts): string[] {
  const excess: string[] = [];
  for (const [type, count] of after) {
    const extra = count - (before.get(type) ?? 0);
    if (extra > 0) excess.push(`${type} +${extra}`);
  }
  return excess.sort();
}

function sameCounts(a: ResourceCounts, b: ResourceCounts): boolean {
  if (a.size !== b.size) return false;
  for (const [type, count] of a) if (b.get(type) !== count) return false;
  return true;
}

/**
 * The baseline: counts once two samples 10 ms apart agree (or the last sample after `maxMs`).
 * Creates the lazy stdio handles first.
 */
export async function settledBaseline(maxMs: number): Promise<ResourceCounts> {
  void process.stdout;
  void process.stderr;
  const deadline = Date.now() + maxMs;
  await pause(0);
  let previous = countResources();
  for (;;) {
    await pause(SAMPLE_INTERVAL_MS);
    const current = countResources();
    if (sameCounts(previous, current) || Date.now() >= deadline) return current;
    previous = current;
  }
}

/**
 * Samples every 10 ms until nothing exceeds `baseline`, for up to `maxMs`.
 * @returns the excess still there at the end (empty when the resources went back to the baseline).
 */
export async function excessAfterSettling(baseline: ResourceCounts, maxMs: number): Promise<string[]> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    await pause(SAMPLE_INTERVAL_MS);
    const excess = excessOver(baseline, countResources());
    if (excess.length === 0 || Date.now() >= deadline) return excess;
  }
}
