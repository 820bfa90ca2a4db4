/** Runs `work` for each index 0..count-1, at most `limit` at a time; resolves with the results in index order. */
export async function mapLimit<T>(count: number, limit: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

/**
 * The network error code of a failed request (`ECONNREFUSED`, `ECONNRESET`, ...), or `undefined` for
 * another failure. Supertest turns a failed connect into a plain `Error('ECONNREFUSED: Connection refused')`.
 */
export function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    const fromMessage = /^(E[A-Z]+): /.exec(current.message);
    if (fromMessage) return fromMessage[1];
    current = current.cause;
  }
  return undefined;
}
