/** Prints rows as an aligned text table, or JSON when asked. */
export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(line(columns));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** A one-line progress indicator on stderr (only when it is a terminal). */
export function progress(label: string): {
  update(done: number, total?: number): void;
  end(): void;
} {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(done, total) {
      const now = Date.now();
      if (!tty || now - last < 100) return;
      last = now;
      const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
      process.stderr.write(`\r${label}: ${done}${total ? `/${total}` : ''}${pct}   `);
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}
