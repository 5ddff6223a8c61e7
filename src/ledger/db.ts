import knexFactory, { type Knex } from 'knex';
import { createConnection } from 'mysql2/promise';
import { migrationSource } from '../../migrations/index.js';
import type { Logger } from '../logger.js';

export type { Knex };

/** The callback API of the raw mysql2 connection knex hands to `afterCreate`. */
interface SessionConnection {
  query(sql: string, cb: (err: Error | null) => void): void;
}

/** Splits a mysql:// URL into connection settings and the database name. */
export function parseMysqlUrl(url: string): {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
} {
  const u = new URL(url);
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
  };
}

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const { database, ...server } = parseMysqlUrl(url);
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
  pool: { min?: number; max?: number; logger?: Logger } = {},
): Knex {
  const c = parseMysqlUrl(url);
  const log = pool.logger;
  return knexFactory({
    client: 'mysql2',
    // knex prints to the console unless told otherwise (e.g. every failed connect)
    ...(log
      ? {
          log: {
            warn: (m: unknown) => log.warn({ knex: String(m) }, 'knex warning'),
            error: (m: unknown) => log.error({ knex: String(m) }, 'knex error'),
            deprecate: (m: unknown) => log.warn({ knex: String(m) }, 'knex deprecation'),
            debug: (m: unknown) => log.debug({ knex: m }, 'knex debug'),
          },
        }
      : {}),
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
export async function migrate(url: string): Promise<string[]> {
  await ensureDatabase(url);
  const knex = createKnex(url, { max: 1 });
  try {
    const [, applied] = (await knex.migrate.latest()) as [number, string[]];
    return applied;
  } finally {
    await knex.destroy();
  }
}
