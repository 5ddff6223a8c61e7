import type { Knex } from 'knex';

/**
 * Selling ahead of stock (backorders, pre-orders): the two waiting figures (the ledger's sums of
 * `backordered_delta` and `preordered_delta`; BIGINT, as every other figure here, since a
 * sum of INT deltas can outgrow INT) and the policy a
 * `stock.configured` sets, guarded by `config_seq` like the reorder fields. `policy` is
 * deny, backorder or preorder; `policy_limit` the most units that may wait; `preorder_until`
 * (UTC) the end of new pre-orders, NULL for none. `available` stays on_hand − reserved −
 * unavailable: waiting units are not reserved. One ALTER: every column or none.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE stock_levels
      ADD COLUMN backordered BIGINT NOT NULL DEFAULT 0,
      ADD COLUMN preordered BIGINT NOT NULL DEFAULT 0,
      ADD COLUMN policy VARCHAR(16) NOT NULL DEFAULT 'deny',
      ADD COLUMN policy_limit INT NOT NULL DEFAULT 0,
      ADD COLUMN preorder_until DATETIME(3) NULL
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE stock_levels
      DROP COLUMN backordered,
      DROP COLUMN preordered,
      DROP COLUMN policy,
      DROP COLUMN policy_limit,
      DROP COLUMN preorder_until
  `);
}
