#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerBi } from './cli/bi.js';
import { registerDemo } from './cli/demo.js';
import { registerDlq } from './cli/dlq.js';
import { registerKits } from './cli/kits.js';
import { registerLocations } from './cli/locations.js';
import { EXIT, EXIT_HELP, exitCodeOf } from './cli/exit.js';
import { registerMaintenance } from './cli/maintenance.js';
import { registerReconcile } from './cli/reconcile.js';
import { registerReports } from './cli/reports.js';
import { registerStock } from './cli/stock.js';
import { registerTenant } from './cli/tenant.js';
import { loadConfig, type Config } from './config.js';
import { ConfigError } from './errors/config-error.js';
import { toError } from './errors/to-error.js';
import { errorText } from './secrets.js';

/**
 * An error no command caught (a client's event emitted with no listener, a stray rejection):
 * Node would print it whole, with whatever the client hung on it (a Redis error carries the
 * command's arguments, a failed AUTH its password). One masked line instead.
 */
const stray = (e: unknown) => {
  console.error(`error: ${errorText(e)}`);
  process.exit(exitCodeOf(toError(e)));
};
process.on('uncaughtException', stray);
process.on('unhandledRejection', stray);

let cached: Config | undefined;
/** Read lazily, so `--help` works whatever the environment. */
const config = (): Config => (cached ??= loadConfig());

const program = new Command()
  .name('inventory')
  .description(
    'Operator CLI of the inventory reservation worker. It reads the same environment as the ' +
      'worker (AMQP_URL, REDIS_URL, MYSQL_URL, REDIS_PREFIX, ...). Data goes to stdout (--json ' +
      'for scripts); messages and progress go to stderr.',
  )
  .addHelpText('after', EXIT_HELP)
  .showHelpAfterError()
  // usage errors throw (exit 2) instead of exiting with 1 like a failed command
  .exitOverride();

registerStock(program, config);
registerLocations(program, config);
registerKits(program, config);
registerTenant(program, config);
registerReports(program, config);
registerDlq(program, config);
registerMaintenance(program, config);
registerReconcile(program, config);
registerBi(program, config);
registerDemo(program, config);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = toError(e);
  if (err instanceof CommanderError) {
    // commander printed the message (or the help) already
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof ConfigError) {
    console.error(err.message);
    process.exitCode = EXIT.config;
  } else {
    console.error(`error: ${errorText(err)}`);
    process.exitCode = exitCodeOf(err);
  }
  // a service that never answered may hold the event loop open: do not hang on it
  setTimeout(() => process.exit(), 2000).unref();
}
