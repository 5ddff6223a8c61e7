import type { Knex } from 'knex';
import type { OutboxPayload } from '../domain/types.js';
import { parsePayload } from '../engine/payload.js';

/** The payload an event produced when it was applied, if it is in the ledger. */
export async function findPayload(
  knex: Knex,
  tenant: string,
  source: string,
  id: string,
): Promise<OutboxPayload | undefined> {
  const row = (await knex('processed_events')
    .where({ tenant, event_source: source, event_id: id })
    .first('payload')) as { payload: string } | undefined;
  return row ? parsePayload(row.payload) : undefined;
}
