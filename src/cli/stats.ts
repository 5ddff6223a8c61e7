import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { outboxLag, type OutboxLag } from '../ledger/outbox-lag.js';

/**
 * The figures of `inventory stats`, one small query each, so that more (per location, value
 * at cost) can be added beside them.
 */
export interface StockTotals {
  skus: number;
  skuLocations: number;
  unitsOnHand: number;
  unitsReserved: number;
  unitsAvailable: number;
  /** units held by carts and orders waiting for stock (backorders, pre-orders) */
  unitsBackordered: number;
  unitsPreordered: number;
}

export async function stockTotals(knex: Knex, tenant: string): Promise<StockTotals> {
  const [row] = (await knex('stock_levels')
    .where({ tenant })
    .select(
      knex.raw('COUNT(DISTINCT sku) AS skus'),
      knex.raw('COUNT(*) AS skuLocations'),
      knex.raw('COALESCE(SUM(on_hand),0) AS unitsOnHand'),
      knex.raw('COALESCE(SUM(reserved),0) AS unitsReserved'),
      knex.raw('COALESCE(SUM(available),0) AS unitsAvailable'),
      knex.raw('COALESCE(SUM(backordered),0) AS unitsBackordered'),
      knex.raw('COALESCE(SUM(preordered),0) AS unitsPreordered'),
    )) as Record<keyof StockTotals, unknown>[];
  return {
    skus: Number(row?.skus ?? 0),
    skuLocations: Number(row?.skuLocations ?? 0),
    unitsOnHand: Number(row?.unitsOnHand ?? 0),
    unitsReserved: Number(row?.unitsReserved ?? 0),
    unitsAvailable: Number(row?.unitsAvailable ?? 0),
    unitsBackordered: Number(row?.unitsBackordered ?? 0),
    unitsPreordered: Number(row?.unitsPreordered ?? 0),
  };
}

export interface HoldCount {
  kind: string;
  state: string;
  count: number;
}

export async function holdsByKind(knex: Knex, tenant: string): Promise<HoldCount[]> {
  const rows = (await knex('reservations')
    .where({ tenant })
    .select('ref_type', 'state')
    .count({ n: '*' })
    .groupBy('ref_type', 'state')
    .orderBy(['ref_type', 'state'])) as { ref_type: string; state: string; n: number }[];
  return rows.map((h) => ({ kind: h.ref_type, state: h.state, count: Number(h.n) }));
}

/** Units shipped over the last `days` days. */
export async function unitsSold(
  knex: Knex,
  tenant: string,
  days: number,
): Promise<{ days: number; units: number }> {
  const [sold] = (await knex('inventory_ledger')
    .where({ tenant, movement: 'shipped' })
    .andWhere('occurred_at', '>=', knex.raw('UTC_TIMESTAMP(3) - INTERVAL ? DAY', [days]))
    .sum({ units: knex.raw('-on_hand_delta') })) as { units: number | null }[];
  return { days, units: Number(sold?.units ?? 0) };
}

/** How much the ledger holds, and when it last recorded an event. */
export async function ledgerActivity(
  knex: Knex,
  tenant: string,
): Promise<{ eventsRecorded: number; lastRecordedAt: Date | null }> {
  const [row] = (await knex('processed_events')
    .where({ tenant })
    .select(knex.raw('MAX(recorded_at) AS lastRecordedAt'), knex.raw('COUNT(*) AS events'))) as {
    lastRecordedAt: Date | null;
    events: unknown;
  }[];
  return { eventsRecorded: Number(row?.events ?? 0), lastRecordedAt: row?.lastRecordedAt ?? null };
}

/** The lag of the ledger behind Redis: events applied and not yet in MySQL. */
export function tenantOutboxLag(
  redis: RedisClient,
  prefix: string,
  tenant: string,
): Promise<OutboxLag> {
  return outboxLag(redis, prefix, [tenant]);
}
