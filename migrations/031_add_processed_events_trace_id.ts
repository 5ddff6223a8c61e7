import type { Knex } from 'knex';

/**
 * The trace an event came with (the trace id of its `traceparent`, W3C trace context), NULL
 * when it came with none. Indexed: an operator or BI starts from a trace id and finds the
 * event, then its ledger rows (`inventory_ledger.event_ref` = `processed_events.id`).
 * One statement: the column and its index together.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE processed_events ADD COLUMN trace_id CHAR(32) CHARACTER SET ascii NULL, ' +
      'ADD INDEX processed_events_trace_id (trace_id)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE processed_events DROP COLUMN trace_id');
}
