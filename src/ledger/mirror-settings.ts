import type { TenantSettings } from '../domain/types.js';
import { changeSeq } from './change-seq.js';
import type { MirrorItem } from './mirror-rows.js';
import { insertManyStatements } from './sql-batch.js';
import { entryTimeMs, sqlDateTime } from './sql-time.js';

/** DATETIME(3) holds years 1000–9999: a setting's time outside is stored at the nearest end. */
const MIN_MS = Date.UTC(1000, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const setAt = (ms: number | undefined): string | null =>
  ms === undefined ? null : sqlDateTime(Math.min(Math.max(ms, MIN_MS), MAX_MS));

interface Latest {
  tenant: string;
  source: string;
  id: string;
  settings: TenantSettings;
  seq: string;
  at: string;
}

/** The newest settings per tenant in the batch (payloads of tenant.configured that changed them). */
export function latestSettings(items: MirrorItem[]): Latest[] {
  const latest = new Map<string, Latest>();
  for (const { payload: p, entryId } of items) {
    if (!p.settings) continue;
    const seq = changeSeq(p.epoch, entryId);
    const prev = latest.get(p.tenant);
    if (!prev || prev.seq < seq)
      latest.set(p.tenant, {
        tenant: p.tenant,
        source: p.source,
        id: p.id,
        settings: p.settings,
        seq,
        at: sqlDateTime(entryTimeMs(entryId)),
      });
  }
  return [...latest.values()].sort((a, b) =>
    a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0,
  );
}

const COLUMNS = [
  'cart_ttl_seconds',
  'checkout_ttl_seconds',
  'default_reorder_level',
  'cart_ttl_set_at',
  'checkout_ttl_set_at',
  'default_reorder_level_set_at',
  'event_source',
  'event_id',
];
const newer = 'VALUES(change_seq) > change_seq';
// each assignment sees the columns assigned before it: the guard column goes last
const guarded = [...COLUMNS, 'updated_at', 'change_seq']
  .map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`)
  .join(', ');

/**
 * The statement that upserts the batch's tenant settings (`tenant_settings`), appended to
 * `out`, for the mirror's transaction; an older change never overwrites a newer one. Each
 * payload carries the whole settings. None when the batch changed no settings.
 */
export function settingsStatements(items: MirrorItem[], out: string[]): void {
  insertManyStatements(
    `tenant_settings (tenant, ${COLUMNS.join(', ')}, change_seq, updated_at)`,
    latestSettings(items).map((r) => [
      r.tenant,
      r.settings.cartTtlSeconds,
      r.settings.checkoutTtlSeconds,
      r.settings.defaultReorderLevel,
      setAt(r.settings.setAt.cartTtlSeconds),
      setAt(r.settings.setAt.checkoutTtlSeconds),
      setAt(r.settings.setAt.defaultReorderLevel),
      r.source,
      r.id,
      r.seq,
      r.at,
    ]),
    `ON DUPLICATE KEY UPDATE ${guarded}`,
    out,
  );
}
