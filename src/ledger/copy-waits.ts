import type { HoldLine } from '../domain/types.js';
import { pairOf } from '../engine/keys.js';
import type { CopyContext } from './copy-tenant.js';

/** Holds whose lines can be waiting for stock: the ones copyHolds keeps without expiry. */
const WAITING_STATES: { kind: 'cart' | 'order'; states: string[] }[] = [
  { kind: 'cart', states: ['open'] },
  { kind: 'order', states: ['placed', 'paid', 'released', 'fulfilled', 'prepaid'] },
];

interface Waiter {
  kind: 'cart' | 'order';
  id: string;
  /** an order: the cart it was placed from, whose waiting units it may have taken over */
  cart: string | null;
  pairs: string[];
}

interface WaitRow {
  id: number | string;
  reference_type: string;
  reference_id: string;
  sku: string;
  location_id: string;
  d: number | string;
}

const SEP = '\x1f';

/** The pairs where a `reservations` row's lines (JSON) have units waiting. */
export function waitingPairsOf(linesJson: string): string[] {
  const lines = JSON.parse(linesJson) as HoldLine[] | Record<string, never>;
  return (Array.isArray(lines) ? lines : [])
    .filter((l) => (l.backordered ?? 0) + (l.preordered ?? 0) > 0)
    .map((l) => pairOf(l.sku, l.locationId));
}
const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');

/**
 * Rebuilds the wait queues (`wait:<pair>`) from the holds' waiting lines. A queue's order is
 * the order the lines started waiting, which the ledger keeps: the score of a line is the id
 * of the ledger row whose movement took its waiting units from 0 to more (the latest time, if
 * it waited, was filled and waited again). An order counts from the cart it was placed from:
 * it took over the cart's waiting units, and its place, without a movement of its own. Meta
 * `wseq` goes above every score, so lines that start waiting from now on queue behind.
 * Runs inside the loader's transaction, after copyHolds.
 */
export async function copyWaits(c: CopyContext): Promise<number> {
  let queued = 0;
  let top = 0;
  for (const { kind, states } of WAITING_STATES) {
    let after = '';
    for (;;) {
      const [rows] = (await c.trx.raw(
        `SELECT ref_id, link, \`lines\` FROM reservations
          WHERE tenant = ? AND ref_type = ? AND state IN (${marks(states.length)}) AND ref_id > ?
                AND (\`lines\` LIKE '%"backordered"%' OR \`lines\` LIKE '%"preordered"%')
          ORDER BY ref_id LIMIT ?`,
        [c.keys.tenant, kind, ...states, after, c.pageSize],
      )) as [{ ref_id: string; link: string | null; lines: string }[]];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.ref_id;
      const waiters: Waiter[] = [];
      for (const r of rows) {
        const pairs = waitingPairsOf(r.lines);
        if (pairs.length > 0)
          waiters.push({ kind, id: r.ref_id, cart: kind === 'order' ? r.link : null, pairs });
      }
      if (waiters.length === 0) continue;
      const starts = await waitStarts(c, waiters);
      const pipeline = c.redis.pipeline();
      const late: [string, string][] = [];
      for (const w of waiters) {
        for (const pair of w.pairs) {
          const start = starts.get(w.kind + SEP + w.id + SEP + pair);
          // the ledger always has the movement; without it the line queues behind the rest
          if (start === undefined) late.push([pair, `${w.kind}:${w.id}`]);
          else {
            pipeline.zadd(c.keys.wait(pair), start, `${w.kind}:${w.id}`);
            if (start > top) top = start;
          }
          queued++;
        }
      }
      await run(pipeline);
      if (late.length > 0) {
        // placed after every line of the tenant whose start the ledger gives
        const [maxRows] = (await c.trx.raw(
          'SELECT COALESCE(MAX(id), 0) AS m FROM inventory_ledger WHERE tenant = ?',
          [c.keys.tenant],
        )) as [{ m: number | string }[]];
        top = Math.max(top, Number(maxRows[0]?.m ?? 0));
        const p = c.redis.pipeline();
        for (const [pair, member] of late) p.zadd(c.keys.wait(pair), 'NX', ++top, member);
        await run(p);
      }
    }
  }
  if (top > 0) await c.redis.hset(c.keys.meta, 'wseq', String(top));
  return queued;
}

/**
 * When each waiter's lines started waiting: `kind \x1f id \x1f pair` → ledger row id. Runs
 * over the waiting movements (backordered or preordered not 0) of the waiters, and of the
 * carts the orders were placed from, in ledger order.
 */
async function waitStarts(c: CopyContext, waiters: Waiter[]): Promise<Map<string, number>> {
  const ids = { cart: new Set<string>(), order: new Set<string>() };
  for (const w of waiters) {
    ids[w.kind].add(w.id);
    if (w.cart !== null) ids.cart.add(w.cart);
  }
  const rows: WaitRow[] = [];
  for (const kind of ['cart', 'order'] as const) {
    const list = [...ids[kind]];
    for (let i = 0; i < list.length; i += 1000) {
      const chunk = list.slice(i, i + 1000);
      const [found] = (await c.trx.raw(
        `SELECT id, reference_type, reference_id, sku, location_id,
                backordered_delta + preordered_delta AS d
           FROM inventory_ledger
          WHERE tenant = ? AND reference_type = ? AND reference_id IN (${marks(chunk.length)})
                AND (backordered_delta <> 0 OR preordered_delta <> 0)`,
        [c.keys.tenant, kind, ...chunk],
      )) as [WaitRow[]];
      rows.push(...found);
    }
  }
  rows.sort((a, b) => Number(a.id) - Number(b.id));
  // the rows of each reference and pair, in ledger order
  const byRef = new Map<string, WaitRow[]>();
  for (const r of rows) {
    const key = r.reference_type + SEP + r.reference_id + SEP + pairOf(r.sku, r.location_id);
    let list = byRef.get(key);
    if (!list) byRef.set(key, (list = []));
    list.push(r);
  }
  const out = new Map<string, number>();
  for (const w of waiters) {
    for (const pair of w.pairs) {
      const own = byRef.get(w.kind + SEP + w.id + SEP + pair) ?? [];
      const fromCart = w.cart === null ? [] : (byRef.get('cart' + SEP + w.cart + SEP + pair) ?? []);
      const merged = fromCart.length === 0 ? own : [...fromCart, ...own];
      if (fromCart.length > 0) merged.sort((a, b) => Number(a.id) - Number(b.id));
      let waiting = 0;
      let start: number | undefined;
      for (const r of merged) {
        const before = waiting;
        waiting += Number(r.d);
        if (before <= 0 && waiting > 0) start = Number(r.id);
      }
      if (start !== undefined) out.set(w.kind + SEP + w.id + SEP + pair, start);
    }
  }
  return out;
}

async function run(pipeline: ReturnType<CopyContext['redis']['pipeline']>): Promise<void> {
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([e]) => e);
  if (failed) throw failed[0];
}
