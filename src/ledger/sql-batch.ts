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
 * A value as an SQL literal, for a session in utf8mb4 that reads backslash escapes: every
 * session createKnex opens turns NO_BACKSLASH_ESCAPES off and checks it (db.ts), as knex's and
 * the driver's own escaping need too. JSON payloads are most of the bytes we send and are full
 * of `"`, which needs no escape inside '…': escaping only what must be escaped, in one pass, is
 * what keeps the mirror's own CPU small.
 */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  return typeof v === 'number' ? sqlNumber(v) : sqlString(v);
}

export function sqlString(v: string): string {
  return `'${sqlEscape(v)}'`;
}

/**
 * What goes between the quotes of a string literal: `v` itself unless it holds a character
 * to escape. Short strings (ids, SKUs: most of the values) are checked by a plain loop, which
 * beats a regular expression at that length; long ones (JSON) by the expression.
 */
export function sqlEscape(v: string): string {
  if (v.length > 64) {
    SPECIAL.lastIndex = 0;
    return SPECIAL.test(v) ? v.replace(SPECIAL, (c) => ESCAPES[c]!) : v;
  }
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // \0 \b \t \n \r \x1a ' \\, the characters of SPECIAL
    if (
      c === 39 ||
      c === 92 ||
      (c <= 26 && (c === 0 || c === 8 || c === 9 || c === 10 || c === 13 || c === 26))
    ) {
      return v.replace(SPECIAL, (ch) => ESCAPES[ch]!);
    }
  }
  return v;
}

export function sqlNumber(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
  return String(v);
}

/** A row of values as a `(…)` tuple of literals. */
export function sqlTuple(values: SqlValue[]): string {
  return `(${values.map(sqlLiteral).join(',')})`;
}

/** How `tuples` split into statements within the size limits: [start, end) of each. */
function* ranges(tuples: string[]): Generator<[number, number]> {
  let start = 0;
  while (start < tuples.length) {
    let bytes = 0;
    let end = start;
    while (
      end < tuples.length &&
      end - start < MAX_ROWS &&
      (bytes < MAX_STATEMENT_BYTES || end === start)
    ) {
      bytes += tuples[end]!.length + 1;
      end++;
    }
    yield [start, end];
    start = end;
  }
}

/** True when the tuples go in one statement (or none). */
export function fitsOneStatement(tuples: string[]): boolean {
  const split = ranges(tuples);
  split.next();
  return split.next().done === true;
}

/** The multi-row statements for the rendered `(…)` tuples, with the count of their rows. */
function* statements(
  head: string,
  tuples: string[],
  tail: string,
): Generator<{ sql: string; count: number }> {
  for (const [start, end] of ranges(tuples)) {
    const values = start === 0 && end === tuples.length ? tuples : tuples.slice(start, end);
    yield { sql: `INSERT INTO ${head} VALUES ${values.join(',')} ${tail}`, count: end - start };
  }
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
  await insertTuples(db, head, rows.map(sqlTuple), tail);
}

/** `insertMany` of rows already rendered by `sqlTuple` (or built the same way). */
export async function insertTuples(
  db: Knex | Knex.Transaction,
  head: string,
  tuples: string[],
  tail = '',
): Promise<void> {
  for (const { sql } of statements(head, tuples, tail)) await db.raw(sql);
}

/** The statements `insertMany` runs, rendered, to send with others (`runStatements`). */
export function insertManyStatements(
  head: string,
  rows: SqlValue[][],
  tail = '',
  out: string[] = [],
): string[] {
  return insertTuplesStatements(head, rows.map(sqlTuple), tail, out);
}

/** The statements `insertTuples` runs, rendered, appended to `out`; none for no rows. */
export function insertTuplesStatements(
  head: string,
  tuples: string[],
  tail = '',
  out: string[] = [],
): string[] {
  for (const { sql } of statements(head, tuples, tail)) out.push(sql);
  return out;
}

/**
 * True when `db`'s connections were opened with `multipleStatements` (createKnex's option):
 * then several statements go in one query.
 */
export function takesMultipleStatements(db: Knex | Knex.Transaction): boolean {
  const client = db.client as { config?: { connection?: { multipleStatements?: unknown } } };
  return client.config?.connection?.multipleStatements === true;
}

/** What MySQL replies to a statement that returns no rows (`ResultSetHeader`). */
export interface StatementResult {
  affectedRows?: number;
  insertId?: number | string;
}

/**
 * Runs `sqls` in order, each a statement we rendered (no placeholders), and returns what each
 * replied, in order. On a connection that takes multiple statements, as few queries as the
 * size limit allows, usually one: one round trip instead of one per statement. MySQL runs the
 * statements of a query in order and stops at the first that fails, whose error the query
 * returns; the ones before it stay done, so inside a transaction the caller rolls back (or to
 * a savepoint), as after any failed statement.
 */
export async function runStatements(
  db: Knex | Knex.Transaction,
  sqls: string[],
): Promise<StatementResult[]> {
  const results: StatementResult[] = [];
  if (!takesMultipleStatements(db)) {
    for (const sql of sqls) results.push(((await db.raw(sql)) as [StatementResult])[0]);
    return results;
  }
  const send = async (group: string[]) => {
    // one statement replies with its header, several with the list of theirs
    const [reply] = (await db.raw(group.join(';\n'))) as [StatementResult | StatementResult[]];
    if (group.length === 1) results.push(reply as StatementResult);
    else results.push(...(reply as StatementResult[]));
  };
  let group: string[] = [];
  let bytes = 0;
  for (const sql of sqls) {
    if (group.length > 0 && bytes + sql.length > MAX_STATEMENT_BYTES) {
      await send(group);
      group = [];
      bytes = 0;
    }
    group.push(sql);
    bytes += sql.length + 2;
  }
  if (group.length > 0) await send(group);
  return results;
}

/**
 * `insertTuples` into a table with an AUTO_INCREMENT key, returning the key each row got, in
 * row order. `step` is the server's auto_increment_increment, given only when its lock mode
 * makes the keys of one multi-row INSERT consecutive (innodb_autoinc_lock_mode 0 or 1): the
 * first key (the statement's insertId), then one step apart. With null, returns undefined: the
 * caller must read the keys back.
 */
export async function insertTuplesReturningIds(
  db: Knex | Knex.Transaction,
  head: string,
  tuples: string[],
  step: number | null,
): Promise<number[] | undefined> {
  const ids: number[] = [];
  for (const { sql, count } of statements(head, tuples, '')) {
    const [header] = (await db.raw(sql)) as [{ insertId?: number | string; affectedRows?: number }];
    if (step === null) continue;
    const first = Number(header.insertId);
    if (
      header.affectedRows !== count ||
      !(first >= 1) ||
      !Number.isSafeInteger(first + count * step)
    ) {
      throw new Error(
        `INSERT INTO ${head.slice(0, 40)}: ${count} rows gave affectedRows ${header.affectedRows}, insertId ${header.insertId}`,
      );
    }
    for (let k = 0; k < count; k++) ids.push(first + k * step);
  }
  return step === null ? undefined : ids;
}
