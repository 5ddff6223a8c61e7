import type { Knex } from 'knex';

/** Statements stay well under max_allowed_packet (16 MB by default). */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;
const MAX_ROWS = 5000;

export type SqlValue = string | number | null;

// eslint-disable-next-line no-control-regex -- these control characters are what must be escaped
const SPECIAL = /[\0\b\t\n\r\x1a'\\]/g;
const ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
  "'": "\\'",
  '\\': '\\\\',
};

/**
 * A value as an SQL literal, for a connection in utf8mb4 with backslash escapes (the server
 * default; the driver's own escaping assumes the same). JSON payloads are most of the bytes
 * we send and are full of `"`, which needs no escape inside '…': escaping only what must be
 * escaped, in one pass, is what keeps the mirror's own CPU small.
 */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  SPECIAL.lastIndex = 0;
  return SPECIAL.test(v) ? `'${v.replace(SPECIAL, (c) => ESCAPES[c]!)}'` : `'${v}'`;
}

/**
 * Runs `INSERT INTO <head> VALUES (...),(...) <tail>` for all rows, in as few statements as
 * the size limits allow: one round trip per few thousand rows instead of one per row. The
 * statement is sent as built (no placeholders), so neither knex nor the driver scans it again.
 */
export async function insertMany(
  db: Knex | Knex.Transaction,
  head: string,
  rows: SqlValue[][],
  tail = '',
): Promise<void> {
  let start = 0;
  while (start < rows.length) {
    const parts: string[] = [];
    let bytes = 0;
    let end = start;
    while (
      end < rows.length &&
      end - start < MAX_ROWS &&
      (bytes < MAX_STATEMENT_BYTES || end === start)
    ) {
      const tuple = `(${rows[end]!.map(sqlLiteral).join(',')})`;
      parts.push(tuple);
      bytes += tuple.length;
      end++;
    }
    await db.raw(`INSERT INTO ${head} VALUES ${parts.join(',')} ${tail}`);
    start = end;
  }
}
