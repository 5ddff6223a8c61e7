import type { Knex } from 'knex';
import type {
  Command,
  HoldSnapshot,
  Movement,
  MovementKind,
  Outcome,
  OutboxPayload,
} from '../domain/types.js';
import { parsePayload } from '../engine/payload.js';

interface EventRow {
  id: number | string;
  event_type: string;
  result: Outcome['result'];
  reason: string | null;
  outcome: string | null;
  payload: string;
  occurred_at: Date | null;
}

/** The ledger's delta columns, one per stock figure, in the figures' order. */
export const DELTA_COLUMNS = [
  'on_hand_delta',
  'reserved_delta',
  'committed_delta',
  'unavailable_delta',
  'incoming_delta',
  'backordered_delta',
  'preordered_delta',
] as const;

interface LedgerLine {
  sku: string;
  location_id: string;
  movement: MovementKind;
  on_hand_delta: number;
  reserved_delta: number;
  committed_delta: number;
  unavailable_delta: number;
  incoming_delta: number;
  backordered_delta: number;
  preordered_delta: number;
  reason: string;
  reference_type: string;
  reference_id: string;
}

/**
 * What an event did when it was applied, if it is in the ledger: what a duplicate of it
 * re-announces (`announce` reads the identity, the outcome and the movements).
 *
 * The mirror records a compact row per event (migration 010): the outcome is its `result`,
 * `reason` and `outcome` columns, the movements are its ledger rows in line order. The rest
 * of the payload is not kept there: `holds` and `config` come back empty (the snapshots are in
 * `reservations`, the settings in `stock_levels`), `epoch` as 0, and `occurredAt` as the stored
 * instant in ISO form ('' when the platform's time could not be stored). Events recorded before
 * migration 010 still have their whole payload, which is returned as it was.
 */
export async function findPayload(
  knex: Knex,
  tenant: string,
  source: string,
  id: string,
  command?: Command,
): Promise<OutboxPayload | undefined> {
  const row = (await knex('processed_events')
    .where({ tenant, event_source: source, event_id: id })
    .first('id', 'event_type', 'result', 'reason', 'outcome', 'payload', 'occurred_at')) as
    EventRow | undefined;
  if (!row) return undefined;
  if (row.payload !== '') return parsePayload(row.payload);
  const lines = (await knex('inventory_ledger')
    .where({ event_ref: row.id })
    .orderBy('line_no')
    .select(
      'sku',
      'location_id',
      'movement',
      ...DELTA_COLUMNS,
      'reason',
      'reference_type',
      'reference_id',
    )) as LedgerLine[];
  const outcome: Outcome =
    row.outcome !== null
      ? (JSON.parse(row.outcome) as Outcome)
      : { result: row.result, ...(row.reason !== null ? { reason: row.reason } : {}) };
  return {
    tenant,
    source,
    id,
    type: row.event_type,
    occurredAt: row.occurred_at ? row.occurred_at.toISOString() : '',
    epoch: 0,
    outcome,
    movements: lines.map(movementOf),
    holds:
      (command?.op === 'placeOrder' ||
        command?.op === 'voidShipment' ||
        command?.op === 'updateOrder') &&
      row.result === 'applied'
        ? await orderHold(knex, tenant, command.orderId)
        : [],
    config: [],
  };
}

/** A ledger row as the script wrote its movement: the waiting deltas only when not 0. */
function movementOf(l: LedgerLine): Movement {
  const backordered = Number(l.backordered_delta);
  const preordered = Number(l.preordered_delta);
  return {
    sku: l.sku,
    locationId: l.location_id,
    kind: l.movement,
    onHand: Number(l.on_hand_delta),
    reserved: Number(l.reserved_delta),
    committed: Number(l.committed_delta),
    unavailable: Number(l.unavailable_delta),
    incoming: Number(l.incoming_delta),
    ...(backordered !== 0 ? { backordered } : {}),
    ...(preordered !== 0 ? { preordered } : {}),
    referenceType: l.reference_type,
    referenceId: l.reference_id,
    reason: l.reason,
  };
}

/**
 * The order hold an `order.placed` re-announces (`inventory.reserved` lists the order's whole
 * hold). The compact row keeps no snapshot, and an order that took over its cart's whole hold
 * moved no stock, so no ledger line names it: the duplicate's own command does. Its latest
 * snapshot in `reservations` stands in for the one of the time (same announcement id; the
 * lines are what the order holds now). Without this, an `order.placed` whose announcement was
 * not confirmed (broker restart) was redelivered and never announced. A `shipment.cancelled`
 * that gave units back into the hold re-announces it the same way.
 */
async function orderHold(knex: Knex, tenant: string, orderId: string): Promise<HoldSnapshot[]> {
  const r = (await knex('reservations')
    .where({ tenant, ref_type: 'order', ref_id: orderId })
    .first('state', 'lines', 'version', 'link', 'paid', 'payment_id')) as
    | {
        state: string;
        lines: string;
        version: number;
        link: string | null;
        paid: number;
        payment_id: string | null;
      }
    | undefined;
  if (!r) return [];
  return [
    {
      kind: 'order',
      id: orderId,
      state: r.state,
      lines: JSON.parse(r.lines) as HoldSnapshot['lines'],
      version: Number(r.version),
      ...(r.link !== null ? { link: r.link } : {}),
      ...(Number(r.paid) === 1 ? { paid: true } : {}),
      ...(r.payment_id !== null ? { paymentId: r.payment_id } : {}),
    },
  ];
}
