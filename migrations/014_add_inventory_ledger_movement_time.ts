import type { Knex } from 'knex';

/**
 * BI's daily questions ask for one kind of movement over a period: units sold (`shipped`) per
 * day, shrinkage (`adjusted`, `counted`) by reason. (tenant, movement, occurred_at) answers
 * them with a range read instead of a scan of every movement of the period. One more index
 * for every ledger insert to maintain: BI's reads are what the ledger is for.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE inventory_ledger ADD KEY inventory_ledger_movement_time (tenant, movement, occurred_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE inventory_ledger DROP KEY inventory_ledger_movement_time');
}
