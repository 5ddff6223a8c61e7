import type { Command } from 'commander';
import type { Config } from '../config.js';
import { TenantKeys } from '../engine/keys.js';
import { openServices } from '../services.js';
import { createLogger } from '../logger.js';
import { printJson, printTable } from './output.js';
import { DEFAULT_TENANT } from '../domain/types.js';

interface LocationFigures {
  locationId: string;
  available: number;
  reserved: number;
  onHand: number;
  committed: number;
  unavailable: number;
  incoming: number;
  reorderLevel: number | null;
  reorderQuantity: number | null;
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));

/** Live figures of a SKU from Redis, in the shape of the seed's stock response. */
export async function readStock(
  config: Config,
  tenant: string,
  sku: string,
  location?: string,
): Promise<{
  sku: string;
  tenant: string;
  available: number;
  reserved: number;
  onHand: number;
  byLocation: LocationFigures[];
  reorderLevel: number | null;
  reorderQuantity: number | null;
}> {
  const services = await openServices(config, createLogger('silent'));
  try {
    const { redis, loader } = services;
    await loader.ensureTenant(tenant);
    const keys = new TenantKeys(config.REDIS_PREFIX, tenant);
    const glob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');
    const pattern =
      keys.stock(`${sku}\x1f`).replace(/[*?[\]\\]/g, '\\$&') +
      (location === undefined ? '*' : glob(location));
    const byLocation: LocationFigures[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        const h = await redis.hgetall(key);
        const onHand = num(h.onHand);
        const reserved = num(h.reserved);
        const unavailable = num(h.unavailable);
        byLocation.push({
          locationId: key.slice(keys.stock(`${sku}\x1f`).length),
          available: onHand - reserved - unavailable,
          reserved,
          onHand,
          committed: num(h.committed),
          unavailable,
          incoming: num(h.incoming),
          reorderLevel: h.reorderLevel === undefined ? null : Number(h.reorderLevel),
          reorderQuantity: h.reorderQuantity === undefined ? null : Number(h.reorderQuantity),
        });
      }
    } while (cursor !== '0');
    byLocation.sort((a, b) => a.locationId.localeCompare(b.locationId));
    const sum = (f: keyof LocationFigures) => byLocation.reduce((s, l) => s + Number(l[f] ?? 0), 0);
    const levels = byLocation.filter((l) => l.reorderLevel !== null);
    return {
      sku,
      tenant,
      available: sum('available'),
      reserved: sum('reserved'),
      onHand: sum('onHand'),
      byLocation,
      reorderLevel: levels.length ? levels.reduce((s, l) => s + l.reorderLevel!, 0) : null,
      reorderQuantity: levels.length
        ? levels.reduce((s, l) => s + (l.reorderQuantity ?? 0), 0)
        : null,
    };
  } finally {
    await services.close();
  }
}

export function registerStock(program: Command, config: () => Config): void {
  program
    .command('stock <sku>')
    .description('live stock figures of a SKU (all locations, or one)')
    .option('--location <id>', 'one location only')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--json', 'print JSON')
    .action(async (sku: string, o: { location?: string; tenant: string; json?: boolean }) => {
      const s = await readStock(config(), o.tenant, sku, o.location);
      if (o.json) return printJson(s);
      if (s.byLocation.length === 0) {
        console.error(`no stock record for ${sku} (tenant ${o.tenant})`);
        process.exitCode = 1;
        return;
      }
      console.log(
        `${s.sku}: available ${s.available}, reserved ${s.reserved}, on hand ${s.onHand}`,
      );
      printTable(s.byLocation as unknown as Record<string, unknown>[], [
        'locationId',
        'available',
        'reserved',
        'committed',
        'onHand',
        'unavailable',
        'incoming',
        'reorderLevel',
        'reorderQuantity',
      ]);
    });
}
