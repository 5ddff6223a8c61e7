import type { Knex } from 'knex';
import { pairOf, splitPair } from '../engine/keys.js';
import { readHashes } from './pending-outbox.js';
import type { TenantScope } from './tenant-scope.js';
import { unmirrored, withSnapshot } from './read-snapshot.js';
import {
  ledgerSumsOf,
  ledgerSumsPage,
  stockLevelsOf,
  stockLevelsPage,
  type PairKey,
  type StockLevel,
} from './stock-sql.js';
import { FIGURES, zeroFigures, type Figures } from './types.js';

/** What Redis says of one pair, read atomically with the tenant's pending outbox. */
export interface RedisStock {
  epoch: number;
  exists: boolean;
  /** as in the hash (absent fields read 0) */
  figures: Figures;
  /** what outbox entries not mirrored yet added to them */
  pending: Figures;
  /** an unmirrored entry moves or configures this pair */
  touched: boolean;
}

/** Everything the reconciliation knows of one stock pair at one moment. */
export interface PairState extends PairKey {
  pair: string;
  level: StockLevel | null;
  /** null: no ledger rows */
  ledger: Figures | null;
  /** undefined: Redis not compared */
  redis?: RedisStock;
}

/**
 * The stock hash fields read: the figures, and the settings, so that a hash a configuration
 * alone created (reorder or selling policy fields, no figures) reads as there.
 */
export const STOCK_HASH_FIELDS = [
  ...FIGURES,
  'reorderLevel',
  'reorderQuantity',
  'pol',
  'plim',
  'pto',
];

const num = (v: string | undefined): number => (v === undefined ? 0 : Number(v));

export function figuresOfHash(h: Record<string, string> | null): Figures {
  const f = zeroFigures();
  if (h) for (const k of FIGURES) f[k] = num(h[k]);
  return f;
}

/**
 * Adds Redis to pairs already read from MySQL, inside the same snapshot transaction: Redis is
 * read after the snapshot was taken, and entries it lists that the snapshot already has
 * (mirrored, not yet deleted from the outbox) are not counted as pending.
 */
async function withRedis(
  scope: TenantScope,
  trx: Knex.Transaction,
  states: PairState[],
): Promise<PairState[]> {
  if (!scope.redisCompared || states.length === 0) return states;
  const read = await readHashes(
    scope.redis,
    scope.keys,
    states.map((s) => scope.keys.stock(s.pair)),
    scope.outbox,
    scope.maxOutboxEntries,
    STOCK_HASH_FIELDS,
  );
  if (read.epoch === null) {
    scope.stopRedis('tenant not loaded in Redis');
    return states;
  }
  if (read.pending === null) {
    scope.stopRedis(`outbox longer than ${scope.maxOutboxEntries} entries: Redis not compared`);
    return states;
  }
  const index = new Map(states.map((s) => [s.pair, s]));
  const relevant = read.pending.filter(
    (e) =>
      e.movements.some((m) => index.has(pairOf(m.sku, m.locationId))) ||
      e.configPairs.some((p) => index.has(p)),
  );
  const pending = await unmirrored(trx, scope.tenant, relevant);
  states.forEach((s, i) => {
    const h = read.hashes[i] ?? null;
    s.redis = {
      epoch: read.epoch!,
      exists: h !== null,
      figures: figuresOfHash(h),
      pending: zeroFigures(),
      touched: false,
    };
  });
  for (const e of pending) {
    for (const m of e.movements) {
      const r = index.get(pairOf(m.sku, m.locationId))?.redis;
      if (!r) continue;
      r.touched = true;
      // the waiting figures are absent from a movement when 0
      for (const f of FIGURES) r.pending[f] += m[f] ?? 0;
    }
    for (const p of e.configPairs) {
      const r = index.get(p)?.redis;
      if (r) r.touched = true;
    }
  }
  return states;
}

function statesOf(
  levels: Iterable<StockLevel>,
  sums: Iterable<{ sku: string; locationId: string; figures: Figures }>,
): PairState[] {
  const byPair = new Map<string, PairState>();
  const at = (k: PairKey) => {
    const pair = pairOf(k.sku, k.locationId);
    let s = byPair.get(pair);
    if (!s)
      byPair.set(
        pair,
        (s = { sku: k.sku, locationId: k.locationId, pair, level: null, ledger: null }),
      );
    return s;
  };
  for (const l of levels) at(l).level = l;
  for (const l of sums) at(l).ledger = l.figures;
  return [...byPair.values()];
}

/** A page whose MySQL side is read; `complete` adds Redis in the same snapshot and ends it. */
export interface StockPage {
  /** where the next page starts; undefined on the last page */
  next: PairKey | undefined;
  complete(): Promise<PairState[]>;
  /** ends the snapshot without reading Redis */
  abandon(): Promise<void>;
}

/**
 * Reads the MySQL side of the next page of pairs after `after`: the union of stock_levels rows
 * and ledger pairs, at most `pageSize` of each, bounded so that neither source skips a pair.
 * The snapshot stays open until `complete`, so the caller can read the next page's MySQL side
 * while this page's Redis side is read.
 */
export async function openStockPage(
  scope: TenantScope,
  after: PairKey | undefined,
): Promise<StockPage> {
  const n = scope.pageSize;
  const trx = await scope.knex.transaction({ isolationLevel: 'repeatable read' });
  // the transaction only reads: committing is how it ends, whatever happened
  const end = async (): Promise<void> => {
    await trx.commit().catch(() => undefined);
  };
  try {
    let levels = await stockLevelsPage(trx, scope.tenant, { after }, n);
    let upto: PairKey | undefined = levels.length === n ? levels[n - 1] : undefined;
    const sums = await ledgerSumsPage(trx, scope.tenant, { after, upto }, n);
    if (sums.length === n) {
      // the ledger has more pairs than stock_levels before `upto`: stop at its last one
      upto = sums[n - 1];
      levels = await stockLevelsPage(trx, scope.tenant, { after, upto }, n);
    }
    const states = statesOf(levels, sums);
    return {
      next: upto && { sku: upto.sku, locationId: upto.locationId },
      async complete() {
        try {
          return await withRedis(scope, trx, states);
        } finally {
          await end();
        }
      },
      abandon: end,
    };
  } catch (err) {
    await end();
    throw err;
  }
}

/** The current state of the given pairs (to look again at suspected drift). */
export function readStockPairs(scope: TenantScope, pairs: PairKey[]): Promise<PairState[]> {
  return withSnapshot(scope.knex, async (trx) => {
    const levels = await stockLevelsOf(trx, scope.tenant, pairs);
    const sums = await ledgerSumsOf(trx, scope.tenant, pairs);
    const states = statesOf(
      levels.values(),
      [...sums].map(([pair, figures]) => ({ ...splitPair(pair), figures })),
    );
    // pairs nothing in MySQL knows still get a state, for their Redis side
    const have = new Set(states.map((s) => s.pair));
    for (const p of pairs) {
      const pair = pairOf(p.sku, p.locationId);
      if (!have.has(pair))
        states.push({ sku: p.sku, locationId: p.locationId, pair, level: null, ledger: null });
    }
    return withRedis(scope, trx, states);
  });
}
