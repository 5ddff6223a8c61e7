import { decodeHoldHash } from '../engine/hold-hash.js';
import type { Knex } from 'knex';
import { pairOf } from '../engine/keys.js';
import type { ReservationRow } from '../ledger/hold-hash.js';
import {
  HOLD_KINDS,
  ledgerHeldOf,
  ledgerRefIdsPage,
  reservationIdsPage,
  reservationsOf,
  type HoldKindChecked,
  type LedgerHeld,
  noUnits,
} from './hold-sql.js';
import { holdRef, readHashes } from './pending-outbox.js';
import type { TenantScope } from './tenant-scope.js';
import { unmirrored, withSnapshot } from './read-snapshot.js';

export interface HoldKey {
  kind: HoldKindChecked;
  id: string;
}

/** A Redis hold, read atomically with the tenant's pending outbox. */
export interface RedisHold {
  epoch: number;
  /** the hash; null when Redis has no such hold */
  fields: Record<string, string> | null;
  /** the units unmirrored outbox entries added, per pair */
  pending: LedgerHeld;
  /** an unmirrored entry carries a snapshot of this hold (its row is behind) */
  snapshotPending: boolean;
}

/** Everything the reconciliation knows of one cart or order at one moment. */
export interface HoldState extends HoldKey {
  ref: string;
  row: ReservationRow | null;
  /** empty when the ledger has no rows for the reference */
  ledger: LedgerHeld;
  /** undefined: Redis not compared */
  redis?: RedisHold;
}

/** The facts a hold's hash or row gives, alike. */
export interface HoldView {
  state: string | undefined;
  link: string | undefined;
  paid: boolean;
  exp: number | undefined;
  /** units held per pair */
  held: Map<string, number>;
  /** units waiting for stock per pair, by backing */
  backordered: Map<string, number>;
  preordered: Map<string, number>;
}

export function viewOfHash(h: Record<string, string>): HoldView {
  const d = decodeHoldHash(h);
  const held = new Map<string, number>();
  const backordered = new Map<string, number>();
  const preordered = new Map<string, number>();
  for (const [pair, l] of d.lines) {
    if (l.held) held.set(pair, l.held);
    if (l.backordered) backordered.set(pair, l.backordered);
    if (l.preordered) preordered.set(pair, l.preordered);
  }
  return {
    state: d.state,
    link: d.link,
    paid: d.paid,
    exp: d.expiresAt,
    held,
    backordered,
    preordered,
  };
}

export function viewOfRow(r: ReservationRow): HoldView {
  const held = new Map<string, number>();
  const backordered = new Map<string, number>();
  const preordered = new Map<string, number>();
  const lines = JSON.parse(r.lines) as
    | {
        sku: string;
        locationId: string;
        held?: number;
        backordered?: number;
        preordered?: number;
      }[]
    | object;
  for (const l of Array.isArray(lines) ? lines : []) {
    const pair = pairOf(l.sku, l.locationId);
    if (l.held) held.set(pair, l.held);
    if (l.backordered) backordered.set(pair, l.backordered);
    if (l.preordered) preordered.set(pair, l.preordered);
  }
  return {
    state: r.state,
    link: r.link ?? undefined,
    paid: Boolean(r.paid),
    exp: r.expires_at ? r.expires_at.getTime() : undefined,
    held,
    backordered,
    preordered,
  };
}

/** The hold the reconciliation goes by: Redis when it is compared and has it, else the row. */
export function liveView(s: HoldState): HoldView | undefined {
  if (s.redis?.fields) return viewOfHash(s.redis.fields);
  return s.row ? viewOfRow(s.row) : undefined;
}

/** The cart an order was placed from, and the order a converted cart became. */
function linksOf(s: HoldState): HoldKey[] {
  const out: HoldKey[] = [];
  const views = [
    s.redis?.fields ? viewOfHash(s.redis.fields) : undefined,
    s.row ? viewOfRow(s.row) : undefined,
  ];
  for (const v of views) {
    if (!v?.link) continue;
    if (s.kind === 'order') out.push({ kind: 'cart', id: v.link });
    else if (v.state === 'converted') out.push({ kind: 'order', id: v.link });
  }
  return out;
}

const redisKey = (scope: TenantScope, k: HoldKey) =>
  k.kind === 'cart' ? scope.keys.cart(k.id) : scope.keys.order(k.id);

/**
 * Reads the holds (and the carts and orders they link to: a converted cart's units went to
 * its order) from MySQL and Redis: the snapshot is taken first, then Redis is read with the
 * pending outbox, and entries the snapshot already has are not counted as pending.
 */
export function readHolds(scope: TenantScope, wanted: HoldKey[]): Promise<Map<string, HoldState>> {
  return withSnapshot(scope.knex, async (trx) => {
    const states = new Map<string, HoldState>();
    const load = async (keys: HoldKey[]) => {
      for (const kind of HOLD_KINDS) {
        const ids = [
          ...new Set(
            keys
              .filter((k) => k.kind === kind && !states.has(holdRef(kind, k.id)))
              .map((k) => k.id),
          ),
        ];
        if (ids.length === 0) continue;
        const rows = await reservationsOf(trx, scope.tenant, kind, ids);
        const ledger = await ledgerHeldOf(trx, scope.tenant, kind, ids);
        for (const id of ids) {
          states.set(holdRef(kind, id), {
            kind,
            id,
            ref: holdRef(kind, id),
            row: rows.get(id) ?? null,
            ledger: ledger.get(id) ?? new Map(),
          });
        }
      }
    };
    await load(wanted);
    await load([...states.values()].flatMap(linksOf));
    if (scope.redisCompared) await withRedis(scope, trx, states, load);
    return states;
  });
}

async function withRedis(
  scope: TenantScope,
  trx: Knex.Transaction,
  states: Map<string, HoldState>,
  load: (keys: HoldKey[]) => Promise<void>,
): Promise<void> {
  for (let round = 0; ; round++) {
    const all = [...states.values()];
    const read = await readHashes(
      scope.redis,
      scope.keys,
      all.map((s) => redisKey(scope, s)),
      scope.outbox,
      scope.maxOutboxEntries,
    );
    if (read.epoch === null) return scope.stopRedis('tenant not loaded in Redis');
    if (read.pending === null) {
      return scope.stopRedis(
        `outbox longer than ${scope.maxOutboxEntries} entries: Redis not compared`,
      );
    }
    all.forEach((s, i) => {
      s.redis = {
        epoch: read.epoch!,
        fields: read.hashes[i] ?? null,
        pending: new Map(),
        snapshotPending: false,
      };
    });
    // a link only Redis has (a conversion not mirrored yet): read again with the linked hold
    const missing = all.flatMap(linksOf).filter((k) => !states.has(holdRef(k.kind, k.id)));
    if (missing.length > 0 && round < 2) {
      await load(missing);
      continue;
    }
    const relevant = read.pending.filter(
      (e) =>
        e.holds.some((r) => states.has(r)) ||
        e.movements.some((m) => states.has(holdRef(m.referenceType, m.referenceId))),
    );
    for (const e of await unmirrored(trx, scope.tenant, relevant)) {
      for (const r of e.holds) {
        const s = states.get(r);
        if (s?.redis) s.redis.snapshotPending = true;
      }
      for (const m of e.movements) {
        const r = states.get(holdRef(m.referenceType, m.referenceId))?.redis;
        if (!r) continue;
        const pair = pairOf(m.sku, m.locationId);
        const p = r.pending.get(pair) ?? noUnits();
        p.reserved += m.reserved;
        p.committed += m.committed;
        p.backordered += m.backordered ?? 0;
        p.preordered += m.preordered ?? 0;
        r.pending.set(pair, p);
      }
    }
    return;
  }
}

/**
 * The next page of references of one kind after `after`: the union of reservations rows and
 * ledger references, at most `pageSize` of each, bounded so that neither source skips one.
 */
export async function readHoldPage(
  scope: TenantScope,
  kind: HoldKindChecked,
  after: string | undefined,
): Promise<{ ids: string[]; next: string | undefined }> {
  const n = scope.pageSize;
  let ids = await reservationIdsPage(scope.knex, scope.tenant, kind, { after }, n);
  let upto = ids.length === n ? ids[n - 1] : undefined;
  const refs = await ledgerRefIdsPage(scope.knex, scope.tenant, kind, { after, upto }, n);
  if (refs.length === n) {
    upto = refs[n - 1];
    ids = await reservationIdsPage(scope.knex, scope.tenant, kind, { after, upto }, n);
  }
  return { ids: [...new Set([...ids, ...refs])], next: upto };
}
