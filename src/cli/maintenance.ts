import type { Command } from 'commander';
import type { Config } from '../config.js';
import { migrate } from '../ledger/db.js';
import { rebuildAll, rebuildTenant } from '../ledger/rebuild.js';
import { createLogger } from '../logger.js';
import { openServices } from '../services.js';

export function registerMaintenance(program: Command, config: () => Config): void {
  program
    .command('migrate')
    .description('create the database if missing and run pending migrations')
    .action(async () => {
      const applied = await migrate(config().MYSQL_URL);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    });

  program
    .command('rebuild')
    .description(
      "rebuild Redis from MySQL (every tenant, or one): mirrors the outbox, drops the tenant's keys, reloads",
    )
    .option('--tenant <tenant>', 'only this tenant')
    .action(async (o: { tenant?: string }) => {
      const c = config();
      const logger = createLogger(c.LOG_LEVEL === 'info' ? 'warn' : c.LOG_LEVEL);
      const s = await openServices(c, logger);
      try {
        const deps = { ...s, prefix: c.REDIS_PREFIX, logger };
        const started = Date.now();
        const tenants = o.tenant
          ? (await rebuildTenant(deps, o.tenant), [o.tenant])
          : await rebuildAll(deps);
        console.log(
          `rebuilt ${tenants.length} tenant(s) in ${Date.now() - started} ms: ${tenants.join(', ') || '(none)'}`,
        );
      } finally {
        await s.close();
      }
    });
}
