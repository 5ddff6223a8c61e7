import { lineField } from '../engine/hold-hash.js';
import { splitPair } from '../engine/keys.js';
import { holdFields } from '../ledger/hold-hash.js';
import { HOLD_UNITS, type LedgerHeld } from './hold-sql.js';
import { liveView, viewOfHash, viewOfRow, type HoldState, type HoldView } from './hold-state.js';
import { holdRef } from './pending-outbox.js';
import type { Drift } from './types.js';

/** States whose Redis hold is kept without expiry (copyHolds loads them all). */
const KEPT: Record<string, readonly string[]> = {
  cart: ['open'],
  order: ['placed', 'paid', 'released', 'fulfilled', 'prepaid'],
};

export interface HoldCheck {
  drifts: Drift[];
  /** an open cart past its expiry and the grace: leaked unless its expiry job is still due */
  leak?: { expiresAt: number; held: number; ledger: number; from: 'redis' | 'reservations' };
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * A converted cart's units went on to its order without a ledger movement of their own (the
 * cart's rows stay as they were), so the cart and the order it became are checked together,
 * at the order. The order it became must name it back: a cart converted into an order that
 * already had its hold released everything instead.
 */
function convertedInto(s: HoldState, states: Map<string, HoldState>): boolean {
  const v = liveView(s);
  if (s.kind !== 'cart' || v?.state !== 'converted' || !v.link) return false;
  const order = states.get(holdRef('order', v.link));
  return order !== undefined && liveView(order)?.link === s.id;
}

function members(s: HoldState, states: Map<string, HoldState>): HoldState[] {
  const link = s.kind === 'order' ? liveView(s)?.link : undefined;
  const cart = link === undefined ? undefined : states.get(holdRef('cart', link));
  return cart && convertedInto(cart, states) ? [s, cart] : [s];
}

type Units = Record<(typeof HOLD_UNITS)[number], Map<string, number>>;

const units = (): Units => ({
  reserved: new Map(),
  committed: new Map(),
  backordered: new Map(),
  preordered: new Map(),
});
const add = (m: Map<string, number>, pair: string, n: number) =>
  m.set(pair, (m.get(pair) ?? 0) + n);

function ledgerUnits(held: LedgerHeld, into: Units): void {
  for (const [pair, u] of held) for (const f of HOLD_UNITS) add(into[f], pair, u[f]);
}

/**
 * What a hold holds: every unit held is reserved, and committed too once paid; waiting units
 * are neither (they are not backed by stock on hand).
 */
function viewUnits(v: HoldView | undefined, into: Units): void {
  if (!v) return;
  for (const [pair, n] of v.held) {
    add(into.reserved, pair, n);
    add(into.committed, pair, v.paid ? n : 0);
  }
  for (const [pair, n] of v.backordered) add(into.backordered, pair, n);
  for (const [pair, n] of v.preordered) add(into.preordered, pair, n);
}

function compareUnits(
  base: Omit<Drift, 'kind'>,
  kind: 'hold-vs-ledger' | 'reservation-vs-ledger',
  truth: Units,
  seen: Units,
  pending?: Units,
): Drift[] {
  const out: Drift[] = [];
  for (const field of HOLD_UNITS) {
    const pairs = new Set([
      ...truth[field].keys(),
      ...seen[field].keys(),
      ...(pending?.[field].keys() ?? []),
    ]);
    for (const pair of [...pairs].sort()) {
      const ledger = truth[field].get(pair) ?? 0;
      const p = pending?.[field].get(pair) ?? 0;
      const value = (seen[field].get(pair) ?? 0) - p;
      if (value === ledger) continue;
      const { sku, locationId } = splitPair(pair);
      out.push({
        ...base,
        kind,
        sku,
        locationId,
        field,
        ledger,
        ...(kind === 'hold-vs-ledger' ? { redis: value, pending: p } : { reservations: value }),
      });
    }
  }
  return out;
}

function fieldMap(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

/** Field-by-field differences between a Redis hold and its reservations row. */
function rowDifferences(
  base: Omit<Drift, 'kind'>,
  redis: Record<string, string>,
  rowFlat: string[],
): Drift[] {
  const row = fieldMap(rowFlat);
  const names = new Set([...Object.keys(redis), ...row.keys()]);
  const out: Drift[] = [];
  for (const name of [...names].sort()) {
    const r = redis[name];
    const m = row.get(name);
    if (r === m) continue;
    const line = lineField(name);
    const numeric = line !== undefined || name === 'exp' || name === 'v';
    out.push({
      ...base,
      kind: 'hold-vs-reservation',
      ...(line
        ? {
            ...splitPair(line.pair),
            field: line.figure,
          }
        : { field: name }),
      ...(numeric
        ? {
            redis: r === undefined ? null : Number(r),
            reservations: m === undefined ? null : Number(m),
          }
        : {}),
      detail: `redis ${r ?? '(none)'}, reservations ${m ?? '(none)'}`,
    });
  }
  return out;
}

/**
 * The drifts of one cart or order. Truth is the ledger's sum of the reference's movements
 * (with the cart it was placed from, for an order): Redis must hold that plus what unmirrored
 * entries added, and the reservations row (in the ledger's snapshot) exactly that. A hold an
 * unmirrored entry changed is not compared with its row (the row is behind by that entry).
 * Pure: `states` must hold the linked cart or order too (see readHolds).
 */
export function holdDrifts(
  tenant: string,
  s: HoldState,
  states: Map<string, HoldState>,
  now: number,
  graceMs: number,
): HoldCheck {
  const base = { tenant, referenceType: s.kind, referenceId: s.id, repaired: false };
  const drifts: Drift[] = [];
  const r = s.redis;

  if (r && !r.snapshotPending) {
    if (!r.fields && s.row && KEPT[s.kind]!.includes(s.row.state)) {
      drifts.push({
        ...base,
        kind: 'redis-missing',
        field: 'st',
        detail: `reservations row ${s.row.state}, no Redis hold`,
      });
    } else if (r.fields && !s.row) {
      drifts.push({
        ...base,
        kind: 'mysql-missing',
        field: 'st',
        detail: `Redis hold ${r.fields.st ?? '?'} without reservations row`,
      });
    } else if (r.fields && s.row) {
      drifts.push(...rowDifferences(base, r.fields, holdFields(s.row)));
    }
  }

  if (!convertedInto(s, states)) {
    const group = members(s, states);
    const detail =
      group.length > 1 ? { detail: `with cart ${group[1]!.id}, which became this order` } : {};
    const truth = units();
    for (const m of group) ledgerUnits(m.ledger, truth);
    if (r) {
      const seen = units();
      const pending = units();
      for (const m of group) {
        viewUnits(m.redis?.fields ? viewOfHash(m.redis.fields) : undefined, seen);
        if (m.redis) ledgerUnits(m.redis.pending, pending);
      }
      drifts.push(...compareUnits({ ...base, ...detail }, 'hold-vs-ledger', truth, seen, pending));
    }
    const rows = units();
    for (const m of group) viewUnits(m.row ? viewOfRow(m.row) : undefined, rows);
    drifts.push(...compareUnits({ ...base, ...detail }, 'reservation-vs-ledger', truth, rows));
  }

  if (s.kind !== 'cart') return { drifts };
  // Redis is the live state when compared; otherwise the row is all there is.
  const from = r ? 'redis' : 'reservations';
  const view = r
    ? r.fields
      ? viewOfHash(r.fields)
      : undefined
    : s.row
      ? viewOfRow(s.row)
      : undefined;
  if (view?.state !== 'open' || view.exp === undefined || view.exp >= now - graceMs)
    return { drifts };
  const ledger = [...s.ledger.values()].reduce((a, u) => a + u.reserved, 0);
  return { drifts, leak: { expiresAt: view.exp, held: sum(view.held), ledger, from } };
}
