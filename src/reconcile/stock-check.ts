import type { PairState } from './stock-state.js';
import { FIGURES, isZero, zeroFigures, type Drift } from './types.js';

/**
 * The drifts of one stock pair. The ledger is the truth: stock_levels must equal its sums, and
 * Redis must equal them plus what the outbox entries not mirrored yet add. Pure.
 */
export function stockDrifts(tenant: string, s: PairState): Drift[] {
  const out: Drift[] = [];
  const at = { tenant, sku: s.sku, locationId: s.locationId, repaired: false };
  const ledger = s.ledger ?? zeroFigures();
  if (s.level) {
    for (const f of FIGURES) {
      if (s.level.figures[f] !== ledger[f]) {
        out.push({
          ...at,
          kind: 'stock-levels-vs-ledger',
          field: f,
          ledger: ledger[f],
          stockLevels: s.level.figures[f],
          redis: s.redis?.exists ? s.redis.figures[f] - s.redis.pending[f] : null,
        });
      }
    }
  } else if (s.ledger && !isZero(s.ledger)) {
    for (const f of FIGURES) {
      if (ledger[f] !== 0) {
        out.push({
          ...at,
          kind: 'stock-levels-vs-ledger',
          field: f,
          ledger: ledger[f],
          stockLevels: null,
          detail: 'no stock_levels row',
        });
      }
    }
  }

  const r = s.redis;
  if (!r) return out;
  const known = s.level !== null || s.ledger !== null;
  if (!r.exists) {
    if (known)
      out.push({
        ...at,
        kind: 'redis-missing',
        detail: 'MySQL has the pair, Redis has no stock hash',
      });
    return out;
  }
  if (!known && !r.touched) {
    out.push({
      ...at,
      kind: 'mysql-missing',
      detail: `Redis stock hash without stock_levels or ledger rows: ${FIGURES.map((f) => `${f}=${r.figures[f]}`).join(' ')}`,
    });
    return out;
  }
  for (const f of FIGURES) {
    const net = r.figures[f] - r.pending[f];
    if (net !== ledger[f]) {
      out.push({
        ...at,
        kind: 'redis-vs-ledger',
        field: f,
        ledger: ledger[f],
        redis: net,
        pending: r.pending[f],
        stockLevels: s.level ? s.level.figures[f] : null,
      });
    }
  }
  return out;
}
