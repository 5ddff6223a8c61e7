import type { Command } from 'commander';
import type { Config } from '../config.js';
import { connectServer, migrate, parseMysqlUrl } from '../ledger/db.js';
import { CliError, EXIT } from './exit.js';

/**
 * What BI may read: the ledger, the current figures, the holds, the locations and what each
 * stocks, unit costs, and the views over them.
 */
export const BI_TABLES = [
  'inventory_ledger',
  'stock_levels',
  'reservations',
  'locations',
  'location_skus',
  'sku_costs',
] as const;
export const BI_VIEWS = [
  'bi_stock_daily_changes',
  'bi_units_sold_daily',
  'bi_holds_by_state',
  'bi_shrinkage_daily',
] as const;

const USER = /^[A-Za-z0-9_.-]{1,32}$/;
const HOST = /^[A-Za-z0-9_.%:-]{1,255}$/;

/** The statements, with `?` for user, host (and password) in that order. */
export function biGrantSql(database: string): { create: string[]; grants: string[] } {
  return {
    create: ['CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', 'ALTER USER ?@? IDENTIFIED BY ?'],
    grants: [...BI_TABLES, ...BI_VIEWS].map(
      (t) => `GRANT SELECT ON \`${database}\`.\`${t}\` TO ?@?`,
    ),
  };
}

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function registerBi(program: Command, config: () => Config): void {
  program
    .command('bi-grant')
    .description('create or update a read-only MySQL account for BI (tables and bi_* views)')
    .requiredOption('--user <name>', 'account name (letters, digits, _ . -)')
    .option('--host <host>', "host part of the account ('%' = from anywhere)", '%')
    .option('--password <password>', 'its password (or set BI_PASSWORD)')
    .option('--print', 'print the SQL for a DBA to run instead of running it')
    .addHelpText(
      'after',
      '\nRuns as the MYSQL_URL account, which needs CREATE USER and GRANT OPTION. Run again to\n' +
        'change the password or to grant views added by newer migrations. Remove the account\n' +
        "with `DROP USER 'name'@'host'` (or `inventory bi-revoke`).",
    )
    .action(async (o: { user: string; host: string; password?: string; print?: boolean }) => {
      if (!USER.test(o.user)) throw new CliError(`invalid --user "${o.user}"`, EXIT.usage);
      if (!HOST.test(o.host)) throw new CliError(`invalid --host "${o.host}"`, EXIT.usage);
      const url = config().MYSQL_URL;
      const { database } = parseMysqlUrl(url);
      const sql = biGrantSql(database);
      const who = [o.user, o.host];
      if (o.print) {
        const fill = (s: string, values: string[]) => {
          let i = 0;
          return `${s.replace(/\?/g, () => quote(values[i++]!))};`;
        };
        for (const s of sql.create) console.log(fill(s, [...who, '<password>']));
        for (const s of sql.grants) console.log(fill(s, who));
        return;
      }
      const password = o.password ?? process.env.BI_PASSWORD;
      if (!password) throw new CliError('give --password or set BI_PASSWORD', EXIT.usage);
      await migrate(url); // the views must exist to be granted
      // mysql2's query() fills in the password on the client: the session must read backslashes
      const conn = await connectServer(url);
      try {
        for (const s of sql.create) await conn.query(s, [...who, password]);
        for (const s of sql.grants) await conn.query(s, who);
      } finally {
        await conn.end();
      }
      console.log(
        `${o.user}@${o.host} can read ${BI_TABLES.length} tables and ${BI_VIEWS.length} views of ${database}`,
      );
    });

  program
    .command('bi-revoke')
    .description('drop a BI account made by bi-grant')
    .requiredOption('--user <name>', 'account name')
    .option('--host <host>', 'host part of the account', '%')
    .action(async (o: { user: string; host: string }) => {
      if (!USER.test(o.user)) throw new CliError(`invalid --user "${o.user}"`, EXIT.usage);
      if (!HOST.test(o.host)) throw new CliError(`invalid --host "${o.host}"`, EXIT.usage);
      const conn = await connectServer(config().MYSQL_URL);
      try {
        await conn.query('DROP USER IF EXISTS ?@?', [o.user, o.host]);
      } finally {
        await conn.end();
      }
      console.log(`dropped ${o.user}@${o.host} (if it existed)`);
    });
}
