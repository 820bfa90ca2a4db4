/** Length of one window of {@link WarningThrottle}, in ms: 10 s. */
export const WARNING_WINDOW_MS = 10_000;

/** A warning: an `Error`, usually with a stable `code`. */
type Warning = Error & { readonly code?: string };

/**
 * Process warnings, aggregated: per warning code, the first warning of a window (10 s) is emitted
 * whole and at once; the others of the window are counted, and one warning at the window's end says
 * how many there were ("4,999 more ERR_REPRISE_PERSIST warnings in the last 10 s"). So a burst of
 * 100,000 failures prints two warnings, not 100,000, and each costs a counter increment. The window's
 * timer is unref'd: it never keeps the process alive (a count not yet printed when the process exits
 * is lost, the first warning of it was printed).
 */
export class WarningThrottle {
  readonly #windowMs: number;
  readonly #emit: (warning: Error) => void;
  /** Per code: warnings counted after the first in the current window. */
  readonly #suppressed = new Map<string, { count: number; timer: ReturnType<typeof setTimeout> }>();

  /**
   * @param windowMs ms per window; default {@link WARNING_WINDOW_MS}.
   * @param emit where warnings go; default `process.emitWarning`.
   */
  constructor(windowMs: number = WARNING_WINDOW_MS, emit: (warning: Error) => void = (warning) => process.emitWarning(warning)) {
    this.#windowMs = windowMs;
    this.#emit = emit;
  }

  /** Emits `warning` now if it is the first of its code in this window, else counts it. */
  warn(warning: Warning): void {
    const code = warning.code ?? warning.name;
    const window = this.#suppressed.get(code);
    if (window !== undefined) {
      window.count += 1;
      return;
    }
    const timer = setTimeout(() => this.#close(code), this.#windowMs);
    timer.unref?.();
    this.#suppressed.set(code, { count: 0, timer });
    this.#emit(warning);
  }

  #close(code: string): void {
    const window = this.#suppressed.get(code);
    this.#suppressed.delete(code);
    if (window === undefined || window.count === 0) return;
    const summary = new Error(
      `${window.count.toLocaleString('en')} more ${code} warning(s) in the last ${this.#windowMs / 1000} s (the first was printed whole)`,
    );
    summary.name = 'RepriseWarningSummary';
    (summary as Error & { code: string }).code = code;
    this.#emit(summary);
  }
}
