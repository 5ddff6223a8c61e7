import knexFactory, { type Knex } from 'knex';
import { format } from 'mysql2';
import { createConnection, type Connection } from 'mysql2/promise';
import { migrationSource } from '../../migrations/index.js';
import type { Logger } from '../logger.js';
import { safeText } from '../secrets.js';
import { mysqlSslOptions, type TlsFiles } from '../tls.js';

export type { Knex };

/** The callback API of the raw mysql2 connection knex hands to `afterCreate`. */
interface SessionConnection {
  query(sql: string, cb: (err: Error | null, rows?: unknown) => void): void;
}

/** The parts of a raw mysql2 connection the statement guard uses. */
interface GuardedConnection {
  query(...args: unknown[]): { once(event: 'end', f: () => void): unknown };
  stream: {
    destroy(err?: Error): void;
    on(event: 'data', f: () => void): unknown;
    removeListener(event: 'data', f: () => void): unknown;
  };
}

/**
 * How long a statement may wait with no byte from the server before its connection is given
 * up. @default 60000
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;

/**
 * A server that died or a network that dropped without a reset leaves a statement waiting for
 * TCP keepalive, minutes. While a statement runs, this drops the connection once the server
 * has sent nothing for `timeoutMs`: the statement fails as a connection error (the ledger
 * writer waits and retries, the pool opens a new connection). Not for migrations, whose
 * statements may rightly run silent for longer.
 */
function guardStatements(conn: GuardedConnection, timeoutMs: number): void {
  const query = conn.query.bind(conn);
  conn.query = (...args: unknown[]) => {
    const command = query(...args);
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const arm = () => {
      // the reply that ends the statement arrives in a 'data' event whose listeners are
      // already chosen: this one still runs after the end, and must not arm again
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const err = new Error(`MySQL sent nothing for ${timeoutMs} ms; connection dropped`);
        conn.stream.destroy(Object.assign(err, { code: 'ETIMEDOUT' }));
      }, timeoutMs);
    };
    arm();
    conn.stream.on('data', arm);
    command.once('end', () => {
      done = true;
      clearTimeout(timer);
      conn.stream.removeListener('data', arm);
    });
    return command;
  };
}

type FormatArgs = Parameters<typeof format>;

/**
 * mysql2's own formatting (`?` filled in, escaped on the client: see SESSION_SETUP), skipped when
 * there is nothing to fill in. mysql2 formats every query, with `[]` when knex passes no bindings,
 * and its formatter reads the whole text for placeholders: the mirror's statements carry their
 * literals already (sql-batch.ts) and are tens of kilobytes a batch.
 */
export function queryFormat(sql: string, values: FormatArgs[1], timezone?: FormatArgs[3]): string {
  if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql;
  return format(sql, values, false, timezone);
}

/**
 * What every session runs before its first statement. Every value reaches MySQL escaped on
 * the client: the mirror renders its own literals (sql-batch.ts), and knex and mysql2's
 * `query` fill in `?` themselves (only `execute` binds on the server). All of them escape with
 * backslashes, which a server in NO_BACKSLASH_ESCAPES reads as plain characters, so that a
 * quote in an id ends the literal and the rest of the id is SQL. The session keeps the
 * server's sql_mode without that one mode. Every DATETIME is UTC: mysql2 writes and reads
 * Dates as UTC ('Z'), and the session's time_zone makes CURRENT_TIMESTAMP defaults agree.
 */
export const SESSION_SETUP =
  "SET @@SESSION.time_zone = '+00:00', @@SESSION.sql_mode = TRIM(BOTH ',' FROM " +
  "REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))";

export const SESSION_CHECK =
  'SELECT @@SESSION.sql_mode AS sqlMode, @@SESSION.time_zone AS timeZone';

/**
 * Throws unless the session is as SESSION_SETUP left it (the rows of SESSION_CHECK): a server
 * or proxy that did not take the setting must not get a single value from us.
 */
export function checkSession(rows: unknown): void {
  const row = (Array.isArray(rows) ? rows[0] : undefined) as
    { sqlMode?: unknown; timeZone?: unknown } | undefined;
  const modes = String(row?.sqlMode ?? '').split(',');
  if (!row || modes.includes('NO_BACKSLASH_ESCAPES') || row.timeZone !== '+00:00') {
    throw new Error(
      `MySQL session not usable: sql_mode ${String(row?.sqlMode)}, time_zone ${String(row?.timeZone)} ` +
        "(need no NO_BACKSLASH_ESCAPES and '+00:00')",
    );
  }
}

/** Runs SESSION_SETUP and SESSION_CHECK on a connection knex's pool has just opened. */
function prepareSession(conn: SessionConnection, done: (err: Error | null) => void): void {
  conn.query(SESSION_SETUP, (err) => {
    if (err) return done(err);
    conn.query(SESSION_CHECK, (err2, rows) => {
      if (err2) return done(err2);
      try {
        checkSession(rows);
        done(null);
      } catch (e) {
        done(e as Error);
      }
    });
  });
}

/**
 * Splits a mysql:// URL into connection settings and the database name; with `?ssl=true`,
 * TLS with the files given (the system's CAs without a CA file).
 */
export function parseMysqlUrl(
  url: string,
  tls?: TlsFiles,
): {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl?: ReturnType<typeof mysqlSslOptions>;
} {
  const u = new URL(url);
  const ssl = mysqlSslOptions(url, tls);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) {
    throw new Error(`MYSQL_URL must name a database of letters, digits and _ (got "${database}")`);
  }
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database,
    ...(ssl ? { ssl } : {}),
  };
}

/**
 * A connection to the server of `url` without a database (to create one, or manage accounts),
 * its session prepared as the pool's are.
 */
export async function connectServer(url: string, tls?: TlsFiles): Promise<Connection> {
  const { host, port, user, password, ssl } = parseMysqlUrl(url, tls);
  const conn = await createConnection({
    host,
    port,
    user,
    password,
    ...(ssl ? { ssl } : {}),
    charset: 'utf8mb4',
  });
  try {
    await conn.query(SESSION_SETUP);
    const [rows] = await conn.query(SESSION_CHECK);
    checkSession(rows);
    return conn;
  } catch (err) {
    await conn.end().catch(() => undefined);
    throw err;
  }
}

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase(url: string, tls?: TlsFiles): Promise<void> {
  const { database } = parseMysqlUrl(url, tls);
  const conn = await connectServer(url, tls);
  try {
    // an identifier parseMysqlUrl checked (letters, digits, _): DDL takes no placeholders
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await conn.end();
  }
}

export function createKnex(
  url: string,
  pool: {
    min?: number;
    max?: number;
    logger?: Logger;
    tls?: TlsFiles;
    /** see guardStatements; 0: none. @default DEFAULT_STATEMENT_TIMEOUT_MS */
    statementTimeoutMs?: number;
    /**
     * Lets one query carry several statements: for the ledger writer's pool only, which sends
     * a commit's INSERTs in one round trip (commit-batch.ts). Safe there because that pool runs
     * only the mirror's statements, written in the code, every value escaped on the client
     * (sql-batch.ts, or a `?` knex fills in), never SQL from outside; the other pools keep it
     * off, so a mistake in a query of theirs can at worst bend that one statement, never
     * append another (docs/security.md). @default false
     */
    multipleStatements?: boolean;
  } = {},
): Knex {
  const statementTimeoutMs = pool.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const c = parseMysqlUrl(url, pool.tls);
  const log = pool.logger;
  // knex prints to the console unless told otherwise (e.g. every failed connect): never a
  // password, never more than a readable length
  const say = (m: unknown) => safeText(String(m));
  return knexFactory({
    client: 'mysql2',
    log: log
      ? {
          warn: (m: unknown) => log.warn({ knex: say(m) }, 'knex warning'),
          error: (m: unknown) => log.error({ knex: say(m) }, 'knex error'),
          deprecate: (m: unknown) => log.warn({ knex: say(m) }, 'knex deprecation'),
          debug: (m: unknown) => log.debug({ knex: m }, 'knex debug'),
        }
      : {
          warn: (m: unknown) => console.error(`knex: ${say(m)}`),
          error: (m: unknown) => console.error(`knex: ${say(m)}`),
          deprecate: (m: unknown) => console.error(`knex: ${say(m)}`),
          debug: () => undefined,
        },
    // An error carries the statement with `?` placeholders, not with its values (ids, payloads,
    // a BI account's password): errors are logged and printed.
    compileSqlOnError: false,
    connection: {
      ...c,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      dateStrings: false,
      timezone: 'Z',
      multipleStatements: pool.multipleStatements === true,
      queryFormat,
    },
    pool: {
      min: pool.min ?? 0,
      max: pool.max ?? 8,
      afterCreate: (conn: SessionConnection, done: (err: Error | null, conn: unknown) => void) =>
        prepareSession(conn, (err) => {
          if (!err && statementTimeoutMs > 0)
            guardStatements(conn as unknown as GuardedConnection, statementTimeoutMs);
          done(err, conn);
        }),
    },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
}

/**
 * How long `migrate` waits for another process's migrations (a worker or CLI starting at the same
 * time) before it gives up. @default 600 (10 minutes)
 */
export const MIGRATION_LOCK_WAIT_SECONDS = 10 * 60;

/**
 * Creates the database if missing and runs every pending migration, one process at a time.
 *
 * knex's own lock is a row that a second migrator finds taken and fails on (and two first
 * migrators race to create knex's tables), so workers started together on a new database
 * (`docker compose up --scale worker=3`) would all but one fail to start. The migrators queue
 * on a MySQL named lock instead, per database. It belongs to a connection, so a migrator that
 * dies frees it; and whoever holds it is the only migrator, so a knex lock still set is one a
 * migrator that died mid-migration left (a DDL statement commits it) and is freed.
 */
export async function migrate(url: string, tls?: TlsFiles): Promise<string[]> {
  await ensureDatabase(url, tls);
  const { database } = parseMysqlUrl(url, tls);
  // MySQL's names are 64 characters at most: two databases cut to the same name only queue
  const lockName = `inventory-migrations:${database}`.slice(0, 64);
  const lock = await connectServer(url, tls);
  try {
    const [rows] = await lock.query('SELECT GET_LOCK(?, ?) AS got', [
      lockName,
      MIGRATION_LOCK_WAIT_SECONDS,
    ]);
    if ((rows as { got: number | null }[])[0]?.got !== 1) {
      throw new Error(
        `migrations: another process held the lock on database ${database} for ${MIGRATION_LOCK_WAIT_SECONDS} s`,
      );
    }
    const knex = createKnex(url, { max: 1, statementTimeoutMs: 0, ...(tls ? { tls } : {}) });
    try {
      await knex.migrate.forceFreeMigrationsLock();
      const [, applied] = (await knex.migrate.latest()) as [number, string[]];
      return applied;
    } finally {
      await knex.destroy();
    }
  } finally {
    await lock.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
