import type { Command } from 'commander';
import type { Connection } from 'mysql2/promise';
import type { Config } from '../config.js';
import { connectServer, migrate, parseMysqlUrl } from '../ledger/db.js';
import { confirmed } from './confirm.js';
import { EXIT, exitCodeOf } from './exit.js';
import { CliError } from '../errors/cli-error.js';

/**
 * What BI may read: the ledger, the current figures, the holds, the locations and what each
 * stocks, the kits, unit costs, the tenants' settings, and the views over them.
 */
export const BI_TABLES = [
  'inventory_ledger',
  'stock_levels',
  'reservations',
  'locations',
  'location_skus',
  'kits',
  'sku_costs',
  'tenant_settings',
] as const;
export const BI_VIEWS = [
  'bi_stock_daily_changes',
  'bi_units_sold_daily',
  'bi_holds_by_state',
  'bi_shrinkage_daily',
] as const;

/** Where the accounts bi-grant created are recorded (migration 030). */
export const BI_ACCOUNTS = 'bi_accounts';

/**
 * The host part when none is given: connections from the database server itself only. A BI
 * tool elsewhere needs its address or network named (`--host 10.1.2.%`); '%' (anywhere) is
 * never a default.
 */
export const DEFAULT_BI_HOST = 'localhost';

const USER = /^[A-Za-z0-9_.-]{1,32}$/;
const HOST = /^[A-Za-z0-9_.%:-]{1,255}$/;
/** MySQL and MariaDB: CREATE USER of an account that exists */
const ER_CANNOT_USER = 1396;

/** The statements, with `?` for user, host (and password) in that order. */
export function biGrantSql(database: string): {
  create: string;
  password: string;
  mark: string;
  grants: string[];
} {
  return {
    create: 'CREATE USER ?@? IDENTIFIED BY ?',
    password: 'ALTER USER ?@? IDENTIFIED BY ?',
    mark: `INSERT IGNORE INTO \`${database}\`.${BI_ACCOUNTS} (user, host) VALUES (?, ?)`,
    grants: [...BI_TABLES, ...BI_VIEWS].map(
      (t) => `GRANT SELECT ON \`${database}\`.\`${t}\` TO ?@?`,
    ),
  };
}

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function account(o: { user: string; host: string }): [string, string] {
  if (!USER.test(o.user)) throw new CliError(`invalid --user "${o.user}"`, EXIT.usage);
  if (!HOST.test(o.host)) throw new CliError(`invalid --host "${o.host}"`, EXIT.usage);
  return [o.user, o.host];
}

/** The password, from BI_PASSWORD or stdin: never from argv, which `ps` shows to everyone. */
async function readPassword(fromStdin: boolean): Promise<string> {
  let password = process.env.BI_PASSWORD;
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!password) {
    throw new CliError(
      'give the password in BI_PASSWORD, or on stdin with --password-stdin',
      EXIT.usage,
    );
  }
  return password;
}

/** Runs statements; a failure's message never repeats the password. */
async function run(conn: Connection, sql: string, values: string[], secret: string) {
  try {
    await conn.query(sql, values);
  } catch (e) {
    const err = e as Error & { errno?: number };
    const message = err.message.split(secret).join('***');
    throw Object.assign(
      new CliError(`${sql.split(' ?')[0]} failed: ${message}`, exitCodeOf(err), { cause: err }),
      { errno: err.errno },
    );
  }
}

async function isMarked(conn: Connection, database: string, who: [string, string]) {
  const [rows] = await conn.query(
    `SELECT 1 FROM \`${database}\`.${BI_ACCOUNTS} WHERE user = ? AND host = ?`,
    who,
  );
  return (rows as unknown[]).length > 0;
}

async function open(config: Config) {
  const url = config.MYSQL_URL;
  await migrate(url, config.tls.mysql); // the views must exist to be granted, and bi_accounts
  const { database } = parseMysqlUrl(url, config.tls.mysql);
  // mysql2's query() fills in the password on the client: the session must read backslashes
  return { database, conn: await connectServer(url, config.tls.mysql) };
}

export function registerBi(program: Command, config: () => Config): void {
  registerBiGrant(program, config);
  registerBiRevoke(program, config);
}

/** `inventory bi-grant`: create a read-only MySQL account for BI (tables and bi_* views), or update it. */
function registerBiGrant(program: Command, config: () => Config): void {
  program
    .command('bi-grant')
    .description('create a read-only MySQL account for BI (tables and bi_* views), or update it')
    .requiredOption('--user <name>', 'account name (letters, digits, _ . -)')
    .option(
      '--host <host>',
      "host part of the account: where BI connects from ('%' = anywhere)",
      DEFAULT_BI_HOST,
    )
    .option('--password-stdin', 'read the password from stdin (else from BI_PASSWORD)')
    .option('--print', 'print the SQL for a DBA to run instead of running it')
    .option('--force', 'also change an existing account that bi-grant did not create')
    .addHelpText(
      'after',
      '\nThe password comes from BI_PASSWORD or, with --password-stdin, from stdin; never from\n' +
        `the command line. --host defaults to ${DEFAULT_BI_HOST} (the database server itself).\n` +
        `Accounts it creates are recorded in the ${BI_ACCOUNTS} table. An account that exists\n` +
        'and is not recorded there (root, any other) is refused unless --force, which changes\n' +
        "its password and grants but does not make it bi-grant's (bi-revoke will not drop it).\n" +
        "The worker's own account (MYSQL_URL) is always refused. Runs as the MYSQL_URL account,\n" +
        'which needs CREATE USER and GRANT OPTION. Run again to change the password or to grant\n' +
        'views added by newer migrations. Exit 2 when refused.',
    )
    .action(
      async (o: {
        user: string;
        host: string;
        passwordStdin?: boolean;
        print?: boolean;
        force?: boolean;
      }) => {
        const who = account(o);
        const url = config().MYSQL_URL;
        if (o.print) {
          const sql = biGrantSql(parseMysqlUrl(url).database);
          const fill = (s: string, values: string[]) => {
            let i = 0;
            return `${s.replace(/\?/g, () => quote(values[i++]!))};`;
          };
          console.log(fill(sql.create, [...who, '<password>']));
          console.log(fill(sql.mark, who));
          for (const s of sql.grants) console.log(fill(s, who));
          return;
        }
        const self = parseMysqlUrl(url).user;
        if (o.user === self) {
          throw new CliError(
            `refusing to touch ${o.user}: it is the account of MYSQL_URL, the worker's own`,
            EXIT.usage,
          );
        }
        const password = await readPassword(Boolean(o.passwordStdin));
        const { database, conn } = await open(config());
        const sql = biGrantSql(database);
        try {
          let created = false;
          if (await isMarked(conn, database, who)) {
            // ours: re-created if someone dropped it since
            await run(
              conn,
              'CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?',
              [...who, password],
              password,
            );
            await run(conn, sql.password, [...who, password], password);
          } else {
            try {
              await run(conn, sql.create, [...who, password], password);
              created = true;
            } catch (e) {
              if ((e as { errno?: number }).errno !== ER_CANNOT_USER) throw e;
              if (!o.force) {
                throw new CliError(
                  `refusing to touch '${o.user}'@'${o.host}': it exists and bi-grant did not create ` +
                    'it (--force to change its password and grants anyway)',
                  EXIT.usage,
                );
              }
              await run(conn, sql.password, [...who, password], password);
            }
            if (created) {
              try {
                await conn.query(sql.mark, who);
              } catch (e) {
                // unmarked, it would be refused from now on: do not leave it behind
                await conn.query('DROP USER ?@?', who).catch(() => undefined);
                throw e;
              }
            }
          }
          for (const s of sql.grants) await run(conn, s, who, password);
          console.log(
            `${created ? 'created' : 'updated'} '${o.user}'@'${o.host}': it can read ` +
              `${BI_TABLES.length} tables and ${BI_VIEWS.length} views of ${database}`,
          );
        } finally {
          await conn.end();
        }
      },
    );
}

/** `inventory bi-revoke`: drop a BI account that bi-grant created (asks first). */
function registerBiRevoke(program: Command, config: () => Config): void {
  program
    .command('bi-revoke')
    .description('drop a BI account that bi-grant created (asks first)')
    .requiredOption('--user <name>', 'account name')
    .option('--host <host>', 'host part of the account', DEFAULT_BI_HOST)
    .option('--yes', 'do not ask')
    .addHelpText(
      'after',
      `\nOnly an account recorded in ${BI_ACCOUNTS} by bi-grant is dropped; any other is refused\n` +
        '(exit 2). On a terminal it asks for the account name; a script passes --yes, without\n' +
        'which it refuses when not run from a terminal (exit 2).',
    )
    .action(async (o: { user: string; host: string; yes?: boolean }) => {
      const who = account(o);
      const name = `'${o.user}'@'${o.host}'`;
      const { database, conn } = await open(config());
      try {
        if (!(await isMarked(conn, database, who))) {
          throw new CliError(
            `refusing to drop ${name}: bi-grant did not create it (not in ${BI_ACCOUNTS})`,
            EXIT.usage,
          );
        }
        const ok = await confirmed({
          yes: o.yes,
          action: `drop ${name}`,
          question: `Drop the MySQL account ${name}?`,
          word: o.user,
        });
        if (!ok) {
          console.log('nothing dropped');
          return;
        }
        await conn.query('DROP USER IF EXISTS ?@?', who);
        await conn.query(
          `DELETE FROM \`${database}\`.${BI_ACCOUNTS} WHERE user = ? AND host = ?`,
          who,
        );
        console.log(`dropped ${name}`);
      } finally {
        await conn.end();
      }
    });
}
