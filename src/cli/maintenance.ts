import type { Command } from 'commander';
import type { Config } from '../config.js';
import { migrate } from '../ledger/db.js';
import { rebuildTenant } from '../ledger/rebuild.js';
import { knownTenants } from '../ledger/outbox-lag.js';
import { createLogger } from '../logger.js';
import { openServices } from '../services.js';
import { within, tenantArg } from './exit.js';
import { progress } from './output.js';

export function registerMaintenance(program: Command, config: () => Config): void {
  program
    .command('migrate')
    .description('create the database if missing and run pending migrations')
    .action(async () => {
      const applied = await within(
        migrate(config().MYSQL_URL, config().tls.mysql),
        60_000,
        'MySQL',
      );
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    });

  program
    .command('rebuild')
    .description(
      "rebuild Redis from MySQL (every tenant, or one): mirrors the outbox, drops the tenant's keys, reloads",
    )
    .option('--tenant <tenant>', 'only this tenant', tenantArg)
    .action(async (o: { tenant?: string }) => {
      const c = config();
      const logger = createLogger(c.LOG_LEVEL === 'info' ? 'warn' : c.LOG_LEVEL);
      const s = await within(openServices(c, logger), 30_000, 'MySQL');
      try {
        const deps = { ...s, prefix: c.REDIS_PREFIX, logger };
        const started = Date.now();
        const tenants = o.tenant ? [o.tenant] : (await knownTenants(s.knex)).sort();
        const bar = progress('tenants rebuilt');
        for (const [i, tenant] of tenants.entries()) {
          bar.update(i, tenants.length);
          await rebuildTenant(deps, tenant);
        }
        bar.end();
        console.log(
          `rebuilt ${tenants.length} tenant(s) in ${Date.now() - started} ms: ${tenants.join(', ') || '(none)'}`,
        );
      } finally {
        await s.close();
      }
    });
}
