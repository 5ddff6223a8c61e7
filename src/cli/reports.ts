import type { Command } from 'commander';
import type { Config } from '../config.js';
import { DEFAULT_TENANT } from '../domain/types.js';
import { createKnex, migrate, type Knex } from '../ledger/db.js';
import { EXIT, intArg, within, tenantArg } from './exit.js';
import { CliError } from '../errors/cli-error.js';
import { cliId, cliIdOption } from './ids.js';
import { printable } from '../broker/printable.js';
import { DELTA_COLUMNS } from '../ledger/find-payload.js';
import { printJson, printTable } from './output.js';
import { holdsByKind, ledgerActivity, stockTotals, tenantOutboxLag, unitsSold } from './stats.js';
import { stockValue } from '../ledger/network-queries.js';
import { createRedisClient, redisTargetOf } from '../engine/redis-client.js';

async function withKnex<T>(config: Config, f: (knex: Knex) => Promise<T>): Promise<T> {
  await within(migrate(config.MYSQL_URL, config.tls.mysql), 30_000, 'MySQL'); // a fresh install answers "nothing yet"
  const knex = createKnex(config.MYSQL_URL, { max: 2, tls: config.tls.mysql });
  try {
    return await f(knex);
  } finally {
    await knex.destroy();
  }
}

/** Read-only reports from MySQL (the durable figures, a few ms behind Redis). */
export function registerReports(program: Command, config: () => Config): void {
  registerLowStock(program, config);
  registerHistory(program, config);
  registerReservations(program, config);
  registerStats(program, config);
}

/** `inventory low-stock`: SKU-locations at or below their reorder level (from stock_levels). */
function registerLowStock(program: Command, config: () => Config): void {
  program
    .command('low-stock')
    .description('SKU-locations at or below their reorder level (from stock_levels)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--limit <n>', 'at most this many rows', intArg(1), 1000)
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; limit: number; json?: boolean }) => {
      const rows = await withKnex(config(), (knex) =>
        knex('stock_levels')
          .select({
            sku: 'sku',
            locationId: 'location_id',
            available: 'available',
            reorderLevel: 'reorder_level',
            reorderQuantity: 'reorder_quantity',
            onHand: 'on_hand',
            reserved: 'reserved',
          })
          .where({ tenant: o.tenant })
          .whereNotNull('reorder_level')
          .whereRaw('available <= reorder_level')
          .orderByRaw('available - reorder_level, sku, location_id')
          .limit(o.limit),
      );
      const out = (rows as Record<string, unknown>[]).map((r) => ({
        ...r,
        available: Number(r.available),
        onHand: Number(r.onHand),
        reserved: Number(r.reserved),
      }));
      if (o.json) return printJson(out);
      printTable(out, [
        'sku',
        'locationId',
        'available',
        'reorderLevel',
        'reorderQuantity',
        'onHand',
        'reserved',
      ]);
    });
}

/** `inventory history`: ledger movements of a SKU, newest first, a page at a time. */
function registerHistory(program: Command, config: () => Config): void {
  program
    .command('history <sku>')
    .description('ledger movements of a SKU, newest first, a page at a time')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--location <id>', 'one location only')
    .option('--limit <n>', 'rows per page', intArg(1), 50)
    .option('--before <id>', 'next page: movements with a ledger id below this one', intArg(1))
    .option('--json', 'print JSON: { movements, nextBefore } (nextBefore null on the last page)')
    .action(
      async (
        sku: string,
        o: { tenant: string; location?: string; limit: number; before?: number; json?: boolean },
      ) => {
        const location = cliIdOption('--location', o.location);
        cliId('sku', sku);
        const rows = (await withKnex(config(), (knex) => {
          const q = knex('inventory_ledger')
            .select(
              'id',
              'occurred_at',
              'recorded_at',
              'location_id',
              'movement',
              'qty',
              ...DELTA_COLUMNS,
              'reference_type',
              'reference_id',
              'reason',
              'event_type',
              'event_id',
            )
            .where({ tenant: o.tenant, sku })
            .orderBy('id', 'desc')
            // one more than a page says whether there is a next one
            .limit(o.limit + 1);
          if (location !== undefined) void q.andWhere({ location_id: location });
          if (o.before !== undefined) void q.andWhere('id', '<', o.before);
          return q;
        })) as (Record<string, unknown> & { id: number })[];
        const movements: Record<string, unknown>[] = rows
          .slice(0, o.limit)
          .map((r) => ({ ...r, id: Number(r.id) }));
        const nextBefore = rows.length > o.limit ? Number(rows[o.limit - 1]!.id) : null;
        if (o.json) return printJson({ tenant: o.tenant, sku, movements, nextBefore });
        printTable(
          movements.map((r) => ({
            ...r,
            occurred_at: r.occurred_at instanceof Date ? r.occurred_at.toISOString() : '',
          })),
          [
            'id',
            'occurred_at',
            'location_id',
            'movement',
            'qty',
            'on_hand_delta',
            'reserved_delta',
            'backordered_delta',
            'preordered_delta',
            'reference_type',
            'reference_id',
            'reason',
            'event_type',
          ],
        );
        if (nextBefore !== null) console.error(`\nnext page: --before ${nextBefore}`);
      },
    );
}

/** `inventory reservations`: holds of a cart, order or transfer id (mirrored state, with lines). */
function registerReservations(program: Command, config: () => Config): void {
  program
    .command('reservations <reference>')
    .description('holds of a cart, order or transfer id (mirrored state, with lines)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExit status 4 when no cart, order or transfer has this id.')
    .action(async (reference: string, o: { tenant: string; json?: boolean }) => {
      cliId('reference', reference);
      const rows = (await withKnex(config(), (knex) =>
        knex('reservations').where({ tenant: o.tenant, ref_id: reference }).orderBy('ref_type'),
      )) as Record<string, unknown>[];
      const parsed = rows.map((r) => ({
        kind: String(r.ref_type),
        id: String(r.ref_id),
        state: String(r.state),
        paid: Boolean(r.paid),
        paymentId: r.payment_id ?? null,
        link: r.link ?? null,
        fromLocationId: r.from_location_id ?? null,
        toLocationId: r.to_location_id ?? null,
        expiresAt: r.expires_at ?? null,
        updatedAt: r.updated_at ?? null,
        lines: JSON.parse(String(r.lines)) as Record<string, unknown>[],
      }));
      if (o.json) {
        printJson(parsed);
        if (!parsed.length) process.exitCode = EXIT.notFound;
        return;
      }
      if (!parsed.length)
        throw new CliError(
          `no cart, order or transfer ${reference} (tenant ${o.tenant})`,
          EXIT.notFound,
        );
      for (const r of parsed) {
        const expires = r.expiresAt instanceof Date ? `, expires ${r.expiresAt.toISOString()}` : '';
        const waiting = r.lines.reduce(
          (n, l) => n + Number(l.backordered ?? 0) + Number(l.preordered ?? 0),
          0,
        );
        const waits = waiting > 0 ? `, ${waiting} unit(s) waiting for stock` : '';
        console.log(
          `${r.kind} ${printable(r.id)}: ${r.state}${r.paid ? ' (paid)' : ''}${expires}${waits}`,
        );
        printTable(r.lines, [
          'sku',
          'locationId',
          'held',
          'backordered',
          'preordered',
          'ordered',
          'shipped',
        ]);
      }
    });
}

/** `inventory stats`: units on hand, SKUs, holds by kind and state, units sold, ledger size and lag behind Redis. */
function registerStats(program: Command, config: () => Config): void {
  program
    .command('stats')
    .description(
      'units on hand, SKUs, holds by kind and state, units sold, ledger size and lag behind Redis',
    )
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--days <n>', 'units sold over the last N days', intArg(1), 30)
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; days: number; json?: boolean }) => {
      const c = config();
      const stats = await withKnex(c, async (knex) => ({
        tenant: o.tenant,
        ...(await stockTotals(knex, o.tenant)),
        unitsSold: await unitsSold(knex, o.tenant, o.days),
        stockValue: await stockValue(knex, o.tenant),
        holds: await holdsByKind(knex, o.tenant),
        ...(await ledgerActivity(knex, o.tenant)),
        outbox: await readOutboxLag(c, o.tenant),
      }));
      if (o.json) return printJson(stats);
      const { holds, unitsSold: sold, outbox, stockValue: value, ...rest } = stats;
      const show = (k: string, v: unknown) =>
        console.log(`${k.padEnd(16)} ${v instanceof Date ? v.toISOString() : String(v)}`);
      for (const [k, v] of Object.entries(rest)) show(k, v);
      show('unitsSold', `${sold.units} (last ${sold.days} days)`);
      show(
        'stockValue',
        `${value.value} (${value.unitsValued} units at unit cost; ${value.skusWithoutCost} SKUs on hand without a cost)`,
      );
      show(
        'ledgerLag',
        outbox === null
          ? 'unknown (Redis did not answer)'
          : `${outbox.entries} event(s) not yet in MySQL, oldest ${outbox.oldestSeconds.toFixed(1)} s`,
      );
      console.log('\nholds by kind and state:');
      printTable(holds as unknown as Record<string, unknown>[], ['kind', 'state', 'count']);
    });
}

/** The tenant's outbox lag, or null when Redis does not answer within a few seconds. */
async function readOutboxLag(c: Config, tenant: string) {
  const redis = createRedisClient(redisTargetOf(c), { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined); // reported as null below
  try {
    return await within(
      redis.connect().then(() => tenantOutboxLag(redis, c.REDIS_PREFIX, tenant)),
      5_000,
      'Redis',
    );
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}
