import type { Knex } from 'knex';

/**
 * Fills `event_ref` of the ledger rows written before migration 011 (data only; a no-op on a
 * new database). Every ledger row has its processed_events row: both are written in one
 * transaction, and neither table is ever deleted from.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE inventory_ledger l
      JOIN processed_events e
        ON e.tenant = l.tenant AND e.event_source = l.event_source AND e.event_id = l.event_id
       SET l.event_ref = e.id
     WHERE l.event_ref IS NULL
  `);
}

export async function down(): Promise<void> {
  // the column goes with migration 011's down
}
