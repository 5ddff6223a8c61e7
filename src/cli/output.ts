import { printable, printableJson } from '../broker/printable.js';

/** One cell as text a terminal shows as it is (control and bidi characters escaped). */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return printable(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return printableJson(v);
}

/** Prints rows as an aligned text table, or JSON when asked. */
export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(line(columns));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** Prints JSON, with the characters that would act on a terminal escaped. */
export function printJson(value: unknown): void {
  console.log(printableJson(value, 2));
}

/**
 * A one-line progress indicator on stderr, redrawn at most ten times a second; silent when
 * stderr is not a terminal (logs, pipes, CI), so output meant for scripts stays clean.
 */
export function progress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): {
  update(done: number, total?: number): void;
  end(): void;
} {
  const tty = stream.isTTY;
  let last = 0;
  let drawn = false;
  const WIDTH = 24;
  return {
    update(done, total) {
      const now = Date.now();
      if (!tty || now - last < 100) return;
      last = now;
      drawn = true;
      if (!total) {
        stream.write(`\r${label}: ${done}   `);
        return;
      }
      const share = Math.min(1, done / total);
      const filled = Math.round(share * WIDTH);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`;
      stream.write(`\r${label} ${bar} ${done}/${total} ${Math.floor(share * 100)}%   `);
    },
    end() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
