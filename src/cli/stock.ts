import { scanKeys, type RedisClient } from '../engine/redis-client.js';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { DEFAULT_TENANT, type SellPolicy } from '../domain/types.js';
import { pairOf, TenantKeys } from '../engine/keys.js';
import { createLogger } from '../logger.js';
import { openServices } from '../services.js';
import { EXIT, within, tenantArg } from './exit.js';
import { CliError } from '../errors/cli-error.js';
import { cliId, cliIdOption } from './ids.js';
import { printJson, printTable } from './output.js';

export interface LocationFigures {
  locationId: string;
  available: number;
  reserved: number;
  onHand: number;
  committed: number;
  unavailable: number;
  incoming: number;
  reorderLevel: number | null;
  reorderQuantity: number | null;
  /** units held by carts and orders waiting for stock, under a backorder policy */
  backordered: number;
  /** the same under a pre-order policy */
  preordered: number;
  policy: SellPolicy;
  /** the most units that may wait under the policy */
  policyLimit: number;
  /** pre-orders only: no new pre-ordered units from this time (ISO); null: no end */
  preorderUntil: string | null;
}

/** The seed's stock response: totals over the locations, and each location. */
export interface StockResponse {
  sku: string;
  tenant: string;
  available: number;
  reserved: number;
  onHand: number;
  /** units waiting for stock, over the locations */
  backordered: number;
  preordered: number;
  byLocation: LocationFigures[];
  reorderLevel: number | null;
  reorderQuantity: number | null;
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));
const glob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

/** One location's figures from its Redis stock hash. */
export function locationFigures(locationId: string, h: Record<string, string>): LocationFigures {
  const onHand = num(h.onHand);
  const reserved = num(h.reserved);
  const unavailable = num(h.unavailable);
  return {
    locationId,
    available: onHand - reserved - unavailable,
    reserved,
    onHand,
    committed: num(h.committed),
    unavailable,
    incoming: num(h.incoming),
    reorderLevel: h.reorderLevel === undefined ? null : Number(h.reorderLevel),
    reorderQuantity: h.reorderQuantity === undefined ? null : Number(h.reorderQuantity),
    backordered: num(h.backordered),
    preordered: num(h.preordered),
    policy: h.pol === 'backorder' || h.pol === 'preorder' ? h.pol : 'deny',
    policyLimit: num(h.plim),
    preorderUntil: h.pto === undefined ? null : new Date(Number(h.pto)).toISOString(),
  };
}

/** Every location of a SKU (or the one asked for) with its live figures, sorted by location. */
export async function readLocations(
  redis: RedisClient,
  keys: TenantKeys,
  sku: string,
  location?: string,
): Promise<LocationFigures[]> {
  const base = keys.stock(pairOf(sku, ''));
  if (location !== undefined) {
    const h = await redis.hgetall(base + location);
    return Object.keys(h).length ? [locationFigures(location, h)] : [];
  }
  const byLocation: LocationFigures[] = [];
  await scanKeys(redis, `${glob(base)}*`, 1000, async (found) => {
    for (const key of found)
      byLocation.push(locationFigures(key.slice(base.length), await redis.hgetall(key)));
  });
  return byLocation.sort((a, b) => a.locationId.localeCompare(b.locationId));
}

/** Totals over the locations, in the shape of the seed's stock response. */
export function stockResponse(
  tenant: string,
  sku: string,
  byLocation: LocationFigures[],
): StockResponse {
  const sum = (f: 'available' | 'reserved' | 'onHand' | 'backordered' | 'preordered') =>
    byLocation.reduce((s, l) => s + l[f], 0);
  const levels = byLocation.filter((l) => l.reorderLevel !== null);
  return {
    sku,
    tenant,
    available: sum('available'),
    reserved: sum('reserved'),
    onHand: sum('onHand'),
    backordered: sum('backordered'),
    preordered: sum('preordered'),
    byLocation,
    reorderLevel: levels.length ? levels.reduce((s, l) => s + l.reorderLevel!, 0) : null,
    reorderQuantity: levels.length
      ? levels.reduce((s, l) => s + (l.reorderQuantity ?? 0), 0)
      : null,
  };
}

/** Live figures of a SKU from Redis (the tenant is loaded from MySQL first if Redis lost it). */
export async function readStock(
  config: Config,
  tenant: string,
  sku: string,
  location?: string,
): Promise<StockResponse> {
  const services = await openServices(config, createLogger('silent'));
  try {
    await services.loader.ensureTenant(tenant);
    const keys = new TenantKeys(config.REDIS_PREFIX, tenant);
    return stockResponse(tenant, sku, await readLocations(services.redis, keys, sku, location));
  } finally {
    await services.close();
  }
}

export function registerStock(program: Command, config: () => Config): void {
  program
    .command('stock <sku>')
    .description('live stock figures of a SKU from Redis: totals and each location')
    .option('--location <id>', 'one location only')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--json', 'print JSON: available, reserved, onHand, byLocation, reorderLevel, ...')
    .addHelpText('after', '\nExit status 4 when the SKU has no stock record (JSON still printed).')
    .action(async (sku: string, o: { location?: string; tenant: string; json?: boolean }) => {
      const s = await within(
        readStock(config(), o.tenant, cliId('sku', sku), cliIdOption('--location', o.location)),
        30_000,
        'Redis or MySQL',
      );
      const where = o.location === undefined ? '' : ` at ${o.location}`;
      const missing = new CliError(
        `no stock record for ${sku}${where} (tenant ${o.tenant})`,
        EXIT.notFound,
      );
      if (o.json) {
        printJson(s);
        if (s.byLocation.length === 0) process.exitCode = EXIT.notFound;
        return;
      }
      if (s.byLocation.length === 0) throw missing;
      // the waiting units only when there are some: the line stays as it was for the rest
      const waiting =
        s.backordered || s.preordered
          ? `, backordered ${s.backordered}, preordered ${s.preordered}`
          : '';
      console.log(
        `${s.sku}: available ${s.available}, reserved ${s.reserved}, on hand ${s.onHand}${waiting}`,
      );
      printTable(s.byLocation as unknown as Record<string, unknown>[], [
        'locationId',
        'available',
        'reserved',
        'committed',
        'onHand',
        'unavailable',
        'incoming',
        'backordered',
        'preordered',
        'policy',
        'policyLimit',
        'preorderUntil',
        'reorderLevel',
        'reorderQuantity',
      ]);
    });
}
