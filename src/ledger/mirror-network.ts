import type { NetworkChange } from '../domain/types.js';
import { changeSeq } from './change-seq.js';
import { encodeKit } from '../engine/network.js';
import type { MirrorItem } from './mirror-rows.js';
import { insertManyStatements } from './sql-batch.js';
import { entryTimeMs, sqlDateTime } from './sql-time.js';

const SEP = '\x1f';

interface Latest<T> {
  tenant: string;
  change: T;
  seq: string;
  at: string;
}

type LocationChange = Extract<NetworkChange, { kind: 'location' }>;
type BindingChange = Extract<NetworkChange, { kind: 'binding' }>;
type KitChange = Extract<NetworkChange, { kind: 'kit' }>;

/** The newest change per location, per binding and per kit in the batch, in one key order. */
export function latestNetwork(items: MirrorItem[]): {
  locations: Latest<LocationChange>[];
  bindings: Latest<BindingChange>[];
  kits: Latest<KitChange>[];
} {
  const locs = new Map<string, Latest<LocationChange>>();
  const binds = new Map<string, Latest<BindingChange>>();
  const kits = new Map<string, Latest<KitChange>>();
  for (const { payload: p, entryId } of items) {
    if (!p.network || p.network.length === 0) continue;
    const seq = changeSeq(p.epoch, entryId);
    const at = sqlDateTime(entryTimeMs(entryId));
    for (const c of p.network) {
      if (c.kind === 'location') {
        const key = p.tenant + SEP + c.locationId;
        const prev = locs.get(key);
        if (!prev || prev.seq < seq) locs.set(key, { tenant: p.tenant, change: c, seq, at });
      } else if (c.kind === 'kit') {
        const key = p.tenant + SEP + c.sku;
        const prev = kits.get(key);
        if (!prev || prev.seq < seq) kits.set(key, { tenant: p.tenant, change: c, seq, at });
      } else {
        const key = p.tenant + SEP + c.sku + SEP + c.locationId;
        const prev = binds.get(key);
        if (!prev || prev.seq < seq) binds.set(key, { tenant: p.tenant, change: c, seq, at });
      }
    }
  }
  const sorted = <T>(m: Map<string, T>): T[] =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return { locations: sorted(locs), bindings: sorted(binds), kits: sorted(kits) };
}

const newer = 'VALUES(change_seq) > change_seq';
const guarded = (cols: string[]) =>
  // each assignment sees the columns assigned before it: the guard column goes last
  [...cols, 'updated_at', 'change_seq']
    .map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`)
    .join(', ');

/**
 * The statements that upsert the batch's location, binding and kit changes (`locations`,
 * `location_skus`, `kits`), appended to `out`, for the mirror's transaction; an older change
 * never overwrites a newer one. None when the batch changed none. A removed kit keeps its row
 * with `components` NULL, so that an older definition mirrored later cannot bring it back.
 */
export function networkStatements(items: MirrorItem[], out: string[]): void {
  const { locations, bindings, kits } = latestNetwork(items);
  insertManyStatements(
    'locations (tenant, location_id, name, priority, ships_to, change_seq, updated_at)',
    locations.map((l) => [
      l.tenant,
      l.change.locationId,
      l.change.name,
      l.change.priority,
      JSON.stringify(l.change.shipsTo),
      l.seq,
      l.at,
    ]),
    `ON DUPLICATE KEY UPDATE ${guarded(['name', 'priority', 'ships_to'])}`,
    out,
  );
  insertManyStatements(
    'location_skus (tenant, sku, location_id, bound, change_seq, updated_at)',
    bindings.map((b) => [
      b.tenant,
      b.change.sku,
      b.change.locationId,
      b.change.bound ? 1 : 0,
      b.seq,
      b.at,
    ]),
    `ON DUPLICATE KEY UPDATE ${guarded(['bound'])}`,
    out,
  );
  insertManyStatements(
    'kits (tenant, sku, components, change_seq, updated_at)',
    kits.map((k) => [
      k.tenant,
      k.change.sku,
      k.change.components === null ? null : encodeKit(k.change.components),
      k.seq,
      k.at,
    ]),
    `ON DUPLICATE KEY UPDATE ${guarded(['components'])}`,
    out,
  );
}
