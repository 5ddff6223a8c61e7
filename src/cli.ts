#!/usr/bin/env node
import { Command } from 'commander';
import { registerDlq } from './cli/dlq.js';
import { registerMaintenance } from './cli/maintenance.js';
import { registerReconcile } from './cli/reconcile.js';
import { registerReports } from './cli/reports.js';
import { registerStock } from './cli/stock.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { toError } from './errors/toError.js';

let cached: Config | undefined;
/** Read lazily, so `--help` works whatever the environment. */
const config = (): Config => (cached ??= loadConfig());

const program = new Command()
  .name('inventory')
  .description(
    'Operator CLI of the inventory reservation worker. Reads the same environment as the worker\n' +
      '(AMQP_URL, REDIS_URL, MYSQL_URL, REDIS_PREFIX, ...).',
  )
  .showHelpAfterError();

registerStock(program, config);
registerReports(program, config);
registerDlq(program, config);
registerMaintenance(program, config);
registerReconcile(program, config);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = toError(e);
  console.error(err instanceof ConfigError ? err.message : `error: ${err.message}`);
  process.exitCode = err instanceof ConfigError ? 78 : 1;
}
