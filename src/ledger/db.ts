import knexFactory, { type Knex } from 'knex';
import { createConnection } from 'mysql2/promise';
import { migrationSource } from '../../migrations/index.js';
import type { Logger } from '../logger.js';
import { safeText } from '../secrets.js';
import { mysqlSslOptions, type TlsFiles } from '../tls.js';

export type { Knex };

/** The callback API of the raw mysql2 connection knex hands to `afterCreate`. */
interface SessionConnection {
  query(sql: string, cb: (err: Error | null) => void): void;
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

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase(url: string, tls?: TlsFiles): Promise<void> {
  const { database, ...server } = parseMysqlUrl(url, tls);
  const conn = await createConnection(server);
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await conn.end();
  }
}

export function createKnex(
  url: string,
  pool: { min?: number; max?: number; logger?: Logger; tls?: TlsFiles } = {},
): Knex {
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
    // Every DATETIME is UTC: mysql2 writes and reads Dates as UTC ('Z'), and the session's
    // time_zone makes CURRENT_TIMESTAMP defaults agree with what we write ourselves.
    connection: {
      ...c,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      dateStrings: false,
      timezone: 'Z',
    },
    pool: {
      min: pool.min ?? 0,
      max: pool.max ?? 8,
      afterCreate: (conn: SessionConnection, done: (err: Error | null, conn: unknown) => void) => {
        conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
      },
    },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
}

/** Creates the database if missing and runs every pending migration. */
export async function migrate(url: string, tls?: TlsFiles): Promise<string[]> {
  await ensureDatabase(url, tls);
  const knex = createKnex(url, { max: 1, ...(tls ? { tls } : {}) });
  try {
    const [, applied] = (await knex.migrate.latest()) as [number, string[]];
    return applied;
  } finally {
    await knex.destroy();
  }
}
