import type { Knex } from 'knex';
import { pairOf } from '../engine/keys.js';
import { readHashes } from './pending-outbox.js';
import { callScript } from '../engine/call-script.js';
import type { TenantScope } from './tenant-scope.js';
import { unmirrored, withTenantLock } from './read-snapshot.js';
import { figuresOfHash, STOCK_HASH_FIELDS } from './stock-state.js';
import { ledgerSumsOf, stockLevelsOf, type PairKey, type StockLevel } from './stock-sql.js';
import { policyFields } from '../ledger/copy-tenant.js';
import { COLUMN, FIGURES, zeroFigures, type Figure, type Figures } from './types.js';

/**
 * What a repair found and did, per store: `clean` means the drift was not there after all;
 * `drift` that it is there, left as it is (a check without --repair).
 */
export type RepairOutcome = 'repaired' | 'drift' | 'clean' | 'changed' | 'skipped';

/**
 * A store's outcome and, when it was repaired (or found drifting), the figures that differed in the exact read
 * (a figure the detection reads saw differ that is not here was a race, not drift).
 */
export interface StoreRepair {
  outcome: RepairOutcome;
  fields: Figure[];
}

const differing = (a: Figures, b: Figures): Figure[] => FIGURES.filter((f) => a[f] !== b[f]);
const untouched = (outcome: RepairOutcome): StoreRepair => ({ outcome, fields: [] });

const same = (a: Figures, b: Figures) => FIGURES.every((f) => a[f] === b[f]);

/** Redis attempts within one lock before leaving the pair for a later look. */
const CAS_ATTEMPTS = 10;

/**
 * Restores one pair to the ledger: stock_levels to its sums, Redis to its sums plus what the
 * unmirrored outbox entries add (or deletes a Redis hash MySQL knows nothing of). Runs under
 * the tenant's lock (withTenantLock): the sums, the row and the outbox read here cannot race
 * a commit (unlike the detection reads), and what is written is exact. An existing Redis hash is
 * shifted by its drift, read atomically with the outbox (src/lua/restoreStock-2.lua), which
 * events applied meanwhile do not invalidate; a hash to create or delete is written with a
 * compare-and-set that reads again when an event came first (`changed` when that kept
 * happening).
 */
export async function repairPair(
  scope: TenantScope,
  p: PairKey,
  fix: { levels: boolean; redis: boolean; dryRun?: boolean },
): Promise<{ levels: StoreRepair; redis: StoreRepair }> {
  const dry = fix.dryRun === true;
  return withTenantLock(scope.knex, scope.tenant, async (trx) => {
    const ledger =
      (await ledgerSumsOf(trx, scope.tenant, [p])).get(pairOf(p.sku, p.locationId)) ?? null;
    const level =
      (await stockLevelsOf(trx, scope.tenant, [p])).get(pairOf(p.sku, p.locationId)) ?? null;
    const levels = fix.levels
      ? await restoreLevels(trx, scope.tenant, p, level?.figures ?? null, ledger, dry)
      : untouched('skipped');
    const redis = fix.redis
      ? await restoreRedis(scope, trx, p, ledger, level, dry)
      : untouched('skipped');
    return { levels, redis };
  });
}

async function restoreLevels(
  trx: Knex.Transaction,
  tenant: string,
  p: PairKey,
  level: Figures | null,
  ledger: Figures | null,
  dry: boolean,
): Promise<StoreRepair> {
  const sums = ledger ?? zeroFigures();
  if (level ? same(level, sums) : ledger === null) return untouched('clean');
  if (dry) return { outcome: 'drift', fields: differing(level ?? zeroFigures(), sums) };
  await trx.raw(
    `INSERT INTO stock_levels (tenant, sku, location_id, ${FIGURES.map((f) => COLUMN[f]).join(', ')})
     VALUES (?, ?, ?, ${FIGURES.map(() => '?').join(', ')})
     ON DUPLICATE KEY UPDATE ${FIGURES.map((f) => `${COLUMN[f]} = VALUES(${COLUMN[f]})`).join(', ')}`,
    [tenant, p.sku, p.locationId, ...FIGURES.map((f) => sums[f])],
  );
  return { outcome: 'repaired', fields: differing(level ?? zeroFigures(), sums) };
}

async function restoreRedis(
  scope: TenantScope,
  trx: Knex.Transaction,
  p: PairKey,
  ledger: Figures | null,
  level: Pick<StockLevel, 'reorderLevel' | 'reorderQuantity' | 'policy'> | null,
  dry: boolean,
): Promise<StoreRepair> {
  const pair = pairOf(p.sku, p.locationId);
  const key = scope.keys.stock(pair);
  // entries already looked up in processed_events; any other entry was appended after the lock
  // was taken, and nothing commits under it: unmirrored (so a retry costs Redis only)
  const mirrored = new Set<string>();
  for (let i = 0; i < CAS_ATTEMPTS; i++) {
    const read = await readHashes(
      scope.redis,
      scope.keys,
      [key],
      scope.outbox,
      scope.maxOutboxEntries,
      STOCK_HASH_FIELDS,
    );
    if (read.epoch === null || read.pending === null) return untouched('skipped');
    const relevant = read.pending.filter(
      (e) =>
        e.movements.some((m) => pairOf(m.sku, m.locationId) === pair) ||
        e.configPairs.includes(pair),
    );
    if (i === 0) {
      const open = new Set((await unmirrored(trx, scope.tenant, relevant)).map((e) => e.entryId));
      for (const e of relevant) if (!open.has(e.entryId)) mirrored.add(e.entryId);
    }
    const pending = zeroFigures();
    let touched = false;
    for (const e of relevant.filter((x) => !mirrored.has(x.entryId))) {
      touched = true;
      for (const m of e.movements) {
        if (pairOf(m.sku, m.locationId) === pair) for (const f of FIGURES) pending[f] += m[f] ?? 0;
      }
    }
    const hash = read.hashes[0] ?? null;
    const figures = figuresOfHash(hash);
    const known = ledger !== null || level !== null;
    const drop = !known && !touched;
    const target = Object.fromEntries(
      FIGURES.map((f) => [f, (ledger?.[f] ?? 0) + pending[f]]),
    ) as Figures;
    if (drop ? hash === null : hash !== null && same(figures, target)) return untouched('clean');
    if (!known && !drop && hash === null) return untouched('clean');
    if (dry) {
      const now = hash === null ? zeroFigures() : figures;
      return { outcome: 'drift', fields: differing(now, drop ? zeroFigures() : target) };
    }
    // an existing hash that stays: shifted by the drift (exact however busy the pair is);
    // a hash to create or delete: compare-and-set
    const shift = hash !== null && !drop;
    const arg = {
      epoch: read.epoch,
      ...(shift
        ? {
            shift: Object.fromEntries(FIGURES.map((f) => [f, target[f] - figures[f]])),
          }
        : { expected: hash === null ? false : figures, set: drop ? false : target }),
      ...(level?.reorderLevel != null ? { reorderLevel: level.reorderLevel } : {}),
      ...(level?.reorderQuantity != null ? { reorderQuantity: level.reorderQuantity } : {}),
      ...(level ? { policy: policyFields(level.policy) } : {}),
    };
    if (
      Number(
        await callScript(
          scope.redis,
          'restoreStock',
          [scope.keys.meta, key],
          [JSON.stringify(arg)],
        ),
      ) === 1
    ) {
      return {
        outcome: 'repaired',
        fields: differing(hash === null ? zeroFigures() : figures, drop ? zeroFigures() : target),
      };
    }
  }
  return untouched('changed');
}
