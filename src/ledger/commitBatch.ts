import type { Knex } from 'knex';
import {
  latestConfig,
  latestHolds,
  LEDGER_COLUMNS,
  ledgerRows,
  type MirrorItem,
  PROCESSED_COLUMNS,
  processedRow,
  RESERVATION_COLUMNS,
  reservationRow,
  sumDeltas,
} from './mirrorRows.js';
import { isDuplicateKey } from './mysqlErrors.js';
import { insertMany, type SqlValue } from './sqlBatch.js';

export type MirrorResult = 'committed' | 'duplicate' | 'stale';

/**
 * Reads the tenants' epochs under a shared lock: mirrors of the same tenants run side by
 * side, while a tenant load (which takes the row exclusively to bump the epoch) waits for
 * them, and they for it. So a payload is mirrored only if its epoch is the current one.
 */
export async function lockEpochs(
  trx: Knex.Transaction,
  tenants: string[],
): Promise<Map<string, number>> {
  const epochs = new Map<string, number>();
  if (tenants.length === 0) return epochs;
  const [rows] = (await trx.raw(
    `SELECT tenant, epoch FROM tenant_epochs WHERE tenant IN (${tenants.map(() => '?').join(',')}) LOCK IN SHARE MODE`,
    [...tenants].sort(),
  )) as [{ tenant: string; epoch: number | string }[]];
  for (const r of rows) epochs.set(r.tenant, Number(r.epoch));
  return epochs;
}

const eventKey = (i: MirrorItem) => `${i.payload.tenant}\x1f${i.payload.source}\x1f${i.payload.id}`;

/**
 * Which of the events are already recorded. A locking read, so it sees rows committed after
 * this transaction's snapshot was taken (the ones our INSERT just collided with).
 */
async function existingEvents(trx: Knex.Transaction, items: MirrorItem[]): Promise<Set<string>> {
  const groups = new Map<string, { tenant: string; source: string; ids: string[] }>();
  for (const { payload: p } of items) {
    const g = groups.get(p.tenant + '\x1f' + p.source) ?? {
      tenant: p.tenant,
      source: p.source,
      ids: [],
    };
    g.ids.push(p.id);
    groups.set(p.tenant + '\x1f' + p.source, g);
  }
  const found = new Set<string>();
  for (const g of groups.values()) {
    const [rows] = (await trx.raw(
      `SELECT event_id FROM processed_events WHERE tenant = ? AND event_source = ? AND event_id IN (${g.ids.map(() => '?').join(',')}) LOCK IN SHARE MODE`,
      [g.tenant, g.source, ...g.ids],
    )) as [{ event_id: string }[]];
    for (const r of rows) found.add(`${g.tenant}\x1f${g.source}\x1f${r.event_id}`);
  }
  return found;
}

/**
 * Records the events not recorded yet (processed_events is the idempotency key of the whole
 * mirror) and returns the ones it recorded. On a collision the insert is undone to a savepoint,
 * the colliding events are left out, and the rest is inserted again.
 */
async function recordEvents(trx: Knex.Transaction, items: MirrorItem[]): Promise<Set<MirrorItem>> {
  let todo = items;
  const rows = new Map<MirrorItem, SqlValue[]>(
    items.map((i) => [i, processedRow(i, JSON.stringify(i.payload))]),
  );
  for (;;) {
    if (todo.length === 0) return new Set();
    try {
      await trx.transaction(async (sp) => {
        await insertMany(
          sp,
          `processed_events (${PROCESSED_COLUMNS})`,
          todo.map((i) => rows.get(i)!),
        );
      });
      return new Set(todo);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const seen = await existingEvents(trx, todo);
      // a collision with nothing to show for it would loop for ever
      if (seen.size === 0) throw err;
      todo = todo.filter((i) => !seen.has(eventKey(i)));
    }
  }
}

/**
 * Mirrors payloads inside a transaction whose caller holds the tenants' epochs (`epochs`):
 * the event record, its ledger rows, the stock figures and the hold snapshots, all or none.
 * Returns one result per item, in order.
 */
export async function mirrorInTransaction(
  trx: Knex.Transaction,
  items: MirrorItem[],
  epochs: Map<string, number>,
): Promise<MirrorResult[]> {
  const results: MirrorResult[] = new Array(items.length);
  const firstOf = new Map<string, number>();
  const candidates: MirrorItem[] = [];
  items.forEach((item, i) => {
    if (epochs.get(item.payload.tenant) !== item.payload.epoch) {
      results[i] = 'stale';
      return;
    }
    const key = eventKey(item);
    if (firstOf.has(key)) {
      results[i] = 'duplicate';
      return;
    }
    firstOf.set(key, i);
    candidates.push(item);
  });

  const recorded = await recordEvents(trx, candidates);
  for (const item of candidates) {
    results[firstOf.get(eventKey(item))!] = recorded.has(item) ? 'committed' : 'duplicate';
  }
  const fresh = candidates.filter((i) => recorded.has(i));
  if (fresh.length === 0) return results;

  await insertMany(
    trx,
    `inventory_ledger (${LEDGER_COLUMNS})`,
    fresh.flatMap((i) => ledgerRows(i.payload)),
  );
  await insertMany(
    trx,
    'stock_levels (tenant, sku, location_id, on_hand, reserved, committed, unavailable, incoming)',
    sumDeltas(fresh).map((d) => [
      d.tenant,
      d.sku,
      d.locationId,
      d.onHand,
      d.reserved,
      d.committed,
      d.unavailable,
      d.incoming,
    ]),
    `ON DUPLICATE KEY UPDATE on_hand = on_hand + VALUES(on_hand), reserved = reserved + VALUES(reserved),
     committed = committed + VALUES(committed), unavailable = unavailable + VALUES(unavailable),
     incoming = incoming + VALUES(incoming)`,
  );
  // Each assignment sees the columns assigned before it, so the guard column goes last.
  const newerConfig = 'config_seq IS NULL OR VALUES(config_seq) > config_seq';
  await insertMany(
    trx,
    'stock_levels (tenant, sku, location_id, reorder_level, reorder_quantity, config_seq)',
    latestConfig(fresh).map((c) => [
      c.tenant,
      c.sku,
      c.locationId,
      c.reorderLevel,
      c.reorderQuantity,
      c.seq,
    ]),
    `ON DUPLICATE KEY UPDATE
     reorder_level = IF(${newerConfig}, VALUES(reorder_level), reorder_level),
     reorder_quantity = IF(${newerConfig}, VALUES(reorder_quantity), reorder_quantity),
     config_seq = IF(${newerConfig}, VALUES(config_seq), config_seq)`,
  );
  const newer = 'VALUES(change_seq) > change_seq';
  const guarded = [
    'state',
    '`lines`',
    'link',
    'paid',
    'payment_id',
    'from_location_id',
    'to_location_id',
    'expires_at',
    'version',
    'updated_at',
    'change_seq',
  ].map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`);
  await insertMany(
    trx,
    `reservations (${RESERVATION_COLUMNS})`,
    latestHolds(fresh).map(reservationRow),
    `ON DUPLICATE KEY UPDATE ${guarded.join(', ')}`,
  );
  return results;
}

/**
 * Called, inside the transaction that holds the tenant's epoch row shared, for a payload whose
 * epoch is ahead of MySQL's: a load wrote meta, then died before its commit.
 */
export type EpochAheadHandler = (tenant: string, epoch: number) => Promise<void>;

/** Mirrors a batch in one transaction of its own. */
export async function commitBatch(
  knex: Knex,
  items: MirrorItem[],
  onEpochAhead?: EpochAheadHandler,
): Promise<MirrorResult[]> {
  const tenants = [...new Set(items.map((i) => i.payload.tenant))];
  return knex.transaction(async (trx) => {
    const epochs = await lockEpochs(trx, tenants);
    if (onEpochAhead) {
      const ahead = new Map<string, number>();
      for (const { payload: p } of items) {
        // a tenant MySQL has never heard of is not a dead load but a wrong database: leave
        // Redis alone and let the payloads be stale until someone looks
        const known = epochs.get(p.tenant);
        if (known !== undefined && p.epoch > known) ahead.set(p.tenant, p.epoch);
      }
      for (const [tenant, epoch] of ahead) await onEpochAhead(tenant, epoch);
    }
    return mirrorInTransaction(trx, items, epochs);
  });
}
