/** Text formatting of the inspector's human output (the `--json` output uses raw numbers instead). */

/** `1234` → `"1.2 KiB"`; under 1 KiB: `"812 B"`. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration in ms for people, in the largest unit and the next one when not zero: `6d 23h`, `4m 10s`, `1h`, `850ms`. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.floor(ms);
  for (const [name, size] of units) {
    if (parts.length > 0) {
      if (rest >= size) parts.push(`${Math.floor(rest / size)}${name}`);
      break;
    }
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    }
  }
  return parts.join(' ');
}

/** What is left of a key's life: `never`, `expired` (Postgres rows not swept yet) or a duration. */
export function humanTtl(ttlMs: number | undefined): string {
  if (ttlMs === undefined) return 'never';
  return ttlMs <= 0 ? 'expired' : humanDuration(ttlMs);
}

/** ms since the epoch as an ISO string, `-` for none. */
export function isoTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

/** A table row: each cell padded to its column's width (the last cell is not padded). */
export function row(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
}

/** Parses a duration: a number of ms, or a number with a unit `ms`, `s`, `m`, `h` or `d` (`15m`, `1.5h`). `undefined` when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) return undefined;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  const ms = Number(match[1]) * factor;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

const C1 = /[\x7f-\x9f\u2028\u2029]/g;

/**
 * `JSON.stringify`, with DEL, the C1 controls and the line separators escaped too (JSON.stringify
 * leaves them raw): stored text, whoever wrote it, never sends a control sequence to the terminal.
 */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(C1, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A key for a table: as it is when plain, else as a JSON string (quoted, control characters escaped). */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return /^[^\x00-\x20"\\\x7f-\x9f\u2028\u2029](?:[^\x00-\x1f"\\\x7f-\x9f\u2028\u2029]*[^\x00-\x20"\\\x7f-\x9f\u2028\u2029])?$/.test(text)
    ? text
    : safeJson(text);
}

/** `text` with every control character (C0, DEL, C1, line separators) written as `\uXXXX`: safe for a terminal. */
export function escapeControls(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
