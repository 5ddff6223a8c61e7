import type { Command } from 'commander';
import type { Config } from '../config.js';
import { DEFAULT_TENANT } from '../domain/types.js';
import { createKnex, migrate, type Knex } from '../ledger/db.js';
import { printJson, printTable } from './output.js';

async function withKnex<T>(config: Config, f: (knex: Knex) => Promise<T>): Promise<T> {
  await migrate(config.MYSQL_URL); // a fresh install answers "nothing yet" rather than failing
  const knex = createKnex(config.MYSQL_URL, { max: 2 });
  try {
    return await f(knex);
  } finally {
    await knex.destroy();
  }
}

/** Read-only reports from MySQL (the durable figures, a few ms behind Redis). */
export function registerReports(program: Command, config: () => Config): void {
  program
    .command('low-stock')
    .description('SKU-locations at or below their reorder level (from stock_levels)')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--limit <n>', 'at most this many rows', '1000')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; limit: string; json?: boolean }) => {
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
          .limit(Number(o.limit)),
      );
      if (o.json) return printJson(rows);
      printTable(rows, [
        'sku',
        'locationId',
        'available',
        'reorderLevel',
        'reorderQuantity',
        'onHand',
        'reserved',
      ]);
    });

  program
    .command('history <sku>')
    .description('ledger movements of a SKU, newest first')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--location <id>', 'one location only')
    .option('--limit <n>', 'rows per page', '50')
    .option('--before <id>', 'page: movements with a ledger id below this one')
    .option('--json', 'print JSON')
    .action(
      async (
        sku: string,
        o: { tenant: string; location?: string; limit: string; before?: string; json?: boolean },
      ) => {
        const rows = await withKnex(config(), (knex) => {
          const q = knex('inventory_ledger')
            .select(
              'id',
              'occurred_at',
              'location_id',
              'movement',
              'qty',
              'on_hand_delta',
              'reserved_delta',
              'committed_delta',
              'unavailable_delta',
              'incoming_delta',
              'reference_type',
              'reference_id',
              'reason',
              'event_type',
              'event_id',
            )
            .where({ tenant: o.tenant, sku })
            .orderBy('id', 'desc')
            .limit(Number(o.limit));
          if (o.location) void q.andWhere({ location_id: o.location });
          if (o.before) void q.andWhere('id', '<', Number(o.before));
          return q;
        });
        if (o.json) return printJson(rows);
        printTable(rows as Record<string, unknown>[], [
          'id',
          'occurred_at',
          'location_id',
          'movement',
          'qty',
          'reference_type',
          'reference_id',
          'reason',
          'event_type',
        ]);
        const last = rows.at(-1) as { id: number } | undefined;
        if (last && rows.length === Number(o.limit))
          console.log(`\nnext page: --before ${last.id}`);
      },
    );

  program
    .command('reservations <reference>')
    .description('holds of a cart, order or transfer id (mirrored state, with lines)')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--json', 'print JSON')
    .action(async (reference: string, o: { tenant: string; json?: boolean }) => {
      const rows = (await withKnex(config(), (knex) =>
        knex('reservations').where({ tenant: o.tenant, ref_id: reference }).orderBy('ref_type'),
      )) as Record<string, unknown>[];
      const parsed: Record<string, unknown>[] = rows.map((r) => ({
        ...r,
        lines: JSON.parse(String(r.lines)) as unknown,
      }));
      if (o.json) return printJson(parsed);
      if (!parsed.length) {
        console.error(`no cart, order or transfer ${reference} (tenant ${o.tenant})`);
        process.exitCode = 1;
        return;
      }
      for (const r of parsed) {
        console.log(
          `${String(r.ref_type)} ${String(r.ref_id)}: ${String(r.state)}${r.paid ? ' (paid)' : ''}${r.expires_at ? `, expires ${new Date(r.expires_at as string).toISOString()}` : ''}`,
        );
        printTable(r.lines as Record<string, unknown>[], [
          'sku',
          'locationId',
          'held',
          'ordered',
          'shipped',
        ]);
      }
    });

  program
    .command('stats')
    .description('units on hand, SKUs, holds by kind and state, ledger size and outbox lag')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--days <n>', 'units sold over the last N days', '30')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; days: string; json?: boolean }) => {
      const stats = await withKnex(config(), async (knex) => {
        const [totals] = (await knex('stock_levels')
          .where({ tenant: o.tenant })
          .select(
            knex.raw('COUNT(DISTINCT sku) AS skus'),
            knex.raw('COUNT(*) AS skuLocations'),
            knex.raw('COALESCE(SUM(on_hand),0) AS unitsOnHand'),
            knex.raw('COALESCE(SUM(reserved),0) AS unitsReserved'),
            knex.raw('COALESCE(SUM(available),0) AS unitsAvailable'),
          )) as Record<string, unknown>[];
        const holds = (await knex('reservations')
          .where({ tenant: o.tenant })
          .select('ref_type', 'state')
          .count({ n: '*' })
          .groupBy('ref_type', 'state')) as { ref_type: string; state: string; n: number }[];
        const [sold] = (await knex('inventory_ledger')
          .where({ tenant: o.tenant, movement: 'shipped' })
          .andWhere(
            'occurred_at',
            '>=',
            knex.raw('UTC_TIMESTAMP(3) - INTERVAL ? DAY', [Number(o.days)]),
          )
          .sum({ units: knex.raw('-on_hand_delta') })) as { units: number | null }[];
        const [lag] = (await knex('processed_events')
          .where({ tenant: o.tenant })
          .select(
            knex.raw('MAX(recorded_at) AS lastRecordedAt'),
            knex.raw('COUNT(*) AS events'),
          )) as Record<string, unknown>[];
        return {
          tenant: o.tenant,
          ...Object.fromEntries(Object.entries(totals ?? {}).map(([k, v]) => [k, Number(v)])),
          unitsSold: { days: Number(o.days), units: Number(sold?.units ?? 0) },
          holds: holds.map((h) => ({ kind: h.ref_type, state: h.state, count: Number(h.n) })),
          eventsRecorded: Number(lag?.events ?? 0),
          lastRecordedAt: lag?.lastRecordedAt ?? null,
        };
      });
      if (o.json) return printJson(stats);
      const { holds, unitsSold, ...rest } = stats;
      for (const [k, v] of Object.entries(rest)) console.log(`${k.padEnd(16)} ${String(v)}`);
      console.log(`${'unitsSold'.padEnd(16)} ${unitsSold.units} (last ${unitsSold.days} days)`);
      console.log('\nholds by kind and state:');
      printTable(holds, ['kind', 'state', 'count']);
    });
}
