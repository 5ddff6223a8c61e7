import type { Knex } from 'knex';

/**
 * What each shipment of an order moved, so `shipment.cancelled` can undo it after Redis is
 * rebuilt from MySQL: a JSON object, shipment id → its record (src/domain/shipment-record.ts),
 * NULL when the order has none. Internal, like `version`: BI counts shipments in the ledger.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE reservations ADD COLUMN shipments LONGTEXT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE reservations DROP COLUMN shipments');
}
