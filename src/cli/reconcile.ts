import { Queue } from 'bullmq';
import type { Command } from 'commander';
import { CART_EXPIRY_QUEUE } from '../../jobs/cart-expiry.js';
import { bullConnection, bullPrefix } from '../../jobs/connection.js';
import { lazyPublisher } from '../broker/lazy-publisher.js';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import { reconcile, type ReconcileSummary } from '../reconcile/index.js';
import { openServices } from '../services.js';
import { printJson, printTable, progress } from './output.js';

import { EXIT, tenantArg } from './exit.js';
import { redisTargetOf } from '../engine/redis-client.js';

/** Exit status when drift was found (whether or not it was repaired). */
export const EXIT_DRIFT = EXIT.drift;

function printSummary(s: ReconcileSummary, ms: number): void {
  const kinds = Object.entries(s.byKind).map(([kind, n]) => ({ kind, drifts: n }));
  if (kinds.length > 0) {
    printTable(kinds, ['kind', 'drifts']);
    console.log('');
    printTable(
      s.firstDrifts.map((d) => ({
        ...d,
        pair: d.sku === undefined ? '' : `${d.sku} @ ${d.locationId}`,
        reference: d.referenceId === undefined ? '' : `${d.referenceType} ${d.referenceId}`,
        stock_levels: d.stockLevels,
        repaired: d.repaired ? 'yes' : '',
      })),
      [
        'tenant',
        'kind',
        'pair',
        'reference',
        'field',
        'ledger',
        'redis',
        'pending',
        'stock_levels',
        'reservations',
        'repaired',
        'detail',
      ],
    );
    if (s.drifts > s.firstDrifts.length) {
      console.log(
        `... and ${s.drifts - s.firstDrifts.length} more: SELECT * FROM reconcile_drifts WHERE run_id = ${s.runId}`,
      );
    }
    console.log('');
  }
  for (const k of s.skipped) console.log(`not fully compared: tenant ${k.tenant}: ${k.reason}`);
  if (s.unloaded.length > 0)
    console.log(`not loaded in Redis (MySQL compared only): ${s.unloaded.join(', ')}`);
  console.log(
    `run ${s.runId} ${s.status}: ${s.drifts} drift(s), ${s.repaired} repaired; ` +
      `${s.tenants} tenant(s), ${s.stockChecked} stock pair(s), ${s.holdsChecked} hold(s) checked in ${(ms / 1000).toFixed(1)} s`,
  );
}

/** `inventory reconcile`: compare (and repair) Redis, stock_levels and the ledger now. */
export function registerReconcile(program: Command, config: () => Config): void {
  program
    .command('reconcile')
    .description(
      'compare Redis, stock_levels, reservations and the ledger (the truth) for every tenant, SKU, ' +
        'location, cart and order; record the run in reconcile_runs / reconcile_drifts',
    )
    .option(
      '--repair',
      'restore stock_levels and Redis (figures, locations, bindings) to MySQL, release leaked carts, mend wait queues',
    )
    .option('--tenant <tenant>', 'only this tenant', tenantArg)
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `\nExit status: 0 when nothing drifted, ${EXIT_DRIFT} when drift was found (repaired or not), ` +
        '1 on error.\nDrift is reported only if it is still there a second later (in-flight events ' +
        'are not drift).',
    )
    .action(async (o: { repair?: boolean; tenant?: string; json?: boolean }) => {
      const c = config();
      // stdout is for the table or the JSON; logs go to stderr
      const logger = createLogger(c.LOG_LEVEL === 'info' ? 'warn' : c.LOG_LEVEL, 'inventory', 2);
      const services = await openServices(c, logger);
      const bull = bullConnection(redisTargetOf(c));
      const jobs = new Queue(CART_EXPIRY_QUEUE, {
        connection: bull,
        prefix: bullPrefix(c.REDIS_PREFIX),
      });
      // without a listener BullMQ prints the error whole (a Redis error's command and arguments)
      jobs.on('error', (err) => logger.warn({ err }, 'cart expiry queue error'));
      const publisher = lazyPublisher(c.AMQP_URL, c.tls.amqp);
      const bar = progress('checked');
      const started = Date.now();
      try {
        const summary = await reconcile(
          {
            ...services,
            prefix: c.REDIS_PREFIX,
            logger,
            cartJobState: (jobId) => jobs.getJobState(jobId),
            publish: publisher.publish,
          },
          {
            repair: Boolean(o.repair),
            ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
            onProgress: (done, total) => bar.update(done, total),
          },
        );
        bar.end();
        if (o.json) printJson(summary);
        else printSummary(summary, Date.now() - started);
        process.exitCode = summary.drifts > 0 ? EXIT_DRIFT : 0;
      } finally {
        await publisher.close();
        await jobs.close();
        bull.disconnect();
        await services.close();
      }
    });
}
