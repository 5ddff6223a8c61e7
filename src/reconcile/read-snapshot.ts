import type { Knex } from 'knex';
import { isLockConflict } from '../ledger/mysql-errors.js';
import type { PendingEntry } from './pending-outbox.js';

/**
 * Runs `fn` in a REPEATABLE READ transaction (it only reads): every query in it reads the one
 * snapshot InnoDB takes at its first read, so stock_levels, the ledger, reservations and
 * processed_events agree with each other (the mirror changes them in one transaction).
 * (Not READ ONLY as well: knex writes the two without the comma MySQL requires.)
 */
export function withSnapshot<T>(knex: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return knex.transaction(fn, { isolationLevel: 'repeatable read' });
}

const eventKey = (source: string, id: string) => `${source}\x1f${id}`;

/**
 * The pending entries whose event the snapshot already has: mirrored, but not yet deleted from
 * the outbox when Redis was read. Their effect is in MySQL too, so it is not subtracted.
 */
export async function mirroredEntries(
  trx: Knex.Transaction,
  tenant: string,
  entries: PendingEntry[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < entries.length; i += 500) {
    const chunk = entries.slice(i, i + 500);
    const [rows] = (await trx.raw(
      `SELECT event_source, event_id FROM processed_events
        WHERE tenant = ? AND (${chunk.map(() => '(event_source = ? AND event_id = ?)').join(' OR ')})`,
      [tenant, ...chunk.flatMap((e) => [e.source, e.id])],
    )) as [{ event_source: string; event_id: string }[]];
    const found = new Set(rows.map((r) => eventKey(r.event_source, r.event_id)));
    for (const e of chunk) if (found.has(eventKey(e.source, e.id))) out.add(e.entryId);
  }
  return out;
}

/** Pending entries (of the current epoch) whose effect MySQL does not have yet. */
export async function unmirrored(
  trx: Knex.Transaction,
  tenant: string,
  relevant: PendingEntry[],
): Promise<PendingEntry[]> {
  if (relevant.length === 0) return relevant;
  const mirrored = await mirroredEntries(trx, tenant, relevant);
  return relevant.filter((e) => !mirrored.has(e.entryId));
}

/**
 * Runs `fn` holding the tenant's epoch row exclusively, as a tenant load does: no mirror
 * transaction of the tenant can commit meanwhile, so what MySQL says, and which outbox entries
 * it has, cannot change under `fn` (unlike the detection reads). Retried on a lock conflict.
 */
export async function withTenantLock<T>(
  knex: Knex,
  tenant: string,
  fn: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await knex.transaction(async (trx) => {
        await trx.raw('SELECT epoch FROM tenant_epochs WHERE tenant = ? FOR UPDATE', [tenant]);
        // the snapshot starts here, after the lock: it has every commit there will be meanwhile
        return fn(trx);
      });
    } catch (err) {
      if (attempt >= 5 || !isLockConflict(err)) throw err;
    }
  }
}
