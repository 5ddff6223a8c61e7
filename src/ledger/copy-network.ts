import type { CopyContext } from './copy-tenant.js';
import { pairOf } from '../engine/keys.js';
import { encodeKit, parseKit } from '../engine/network.js';

/**
 * Copies the tenant's locations, bindings and kits from MySQL into Redis (`locs`, `bind`,
 * `kits`; a removed kit, `components` NULL, is not copied), inside
 * the loader's transaction. The network version `nv` starts again from none: the planners'
 * tokens include the epoch, which the load bumps, so no plan made before it is accepted.
 */
export async function copyNetwork(c: CopyContext): Promise<number> {
  const [locs] = (await c.trx.raw(
    'SELECT location_id, name, priority, ships_to FROM locations WHERE tenant = ?',
    [c.keys.tenant],
  )) as [{ location_id: string; name: string; priority: number; ships_to: string }[]];
  const [binds] = (await c.trx.raw(
    'SELECT sku, location_id FROM location_skus WHERE tenant = ? AND bound = 1',
    [c.keys.tenant],
  )) as [{ sku: string; location_id: string }[]];
  const [kits] = (await c.trx.raw(
    'SELECT sku, components FROM kits WHERE tenant = ? AND components IS NOT NULL',
    [c.keys.tenant],
  )) as [{ sku: string; components: string }[]];
  const pipeline = c.redis.pipeline();
  for (const l of locs) {
    pipeline.hset(
      c.keys.locations,
      l.location_id,
      JSON.stringify({
        name: l.name,
        priority: Number(l.priority),
        shipsTo: JSON.parse(l.ships_to) as string[],
      }),
    );
  }
  for (let i = 0; i < binds.length; i += c.pageSize) {
    const page = binds.slice(i, i + c.pageSize).flatMap((b) => [pairOf(b.sku, b.location_id), '1']);
    pipeline.hset(c.keys.bindings, ...page);
  }
  for (let i = 0; i < kits.length; i += c.pageSize) {
    const page = kits
      .slice(i, i + c.pageSize)
      .flatMap((k) => [k.sku, encodeKit(parseKit(k.components))]);
    pipeline.hset(c.keys.kits, ...page);
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([e]) => e);
  if (failed) throw failed[0];
  return locs.length + binds.length + kits.length;
}
