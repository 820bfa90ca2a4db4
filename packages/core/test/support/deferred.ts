/** A promise with its resolve and reject exposed, to hold a hook or an adapter call open. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (value) => {
      d.settled = true;
      resolve(value);
    },
    reject: (error) => {
      d.settled = true;
      reject(error);
    },
  };
  return d;
}

/** Lets pending promise callbacks run (a few macrotask-free microtask turns). */
export async function flushMicrotasks(turns = 60): Promise<void> {
  for (let i = 0; i < turns; i += 1) await Promise.resolve();
}
