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
import { kitsAvailable, type KitComponent } from '../domain/kits.js';
import { parseKit } from '../engine/network.js';

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

/** One location's kits: what its components give, and each component's figure there. */
export interface KitLocation {
  locationId: string;
  /** kits available: the least, over the components, of floor(available / quantity) */
  available: number;
  components: { sku: string; quantity: number; available: number }[];
}

/**
 * A kit SKU's stock: it has none of its own, so what its components give. A kit is assembled at
 * one location, so the total is the sum of the locations' kits, not what the components' totals
 * would give.
 */
export interface KitStockResponse {
  sku: string;
  tenant: string;
  /** the kit's definition */
  kit: KitComponent[];
  /** kits available over the locations */
  available: number;
  byLocation: KitLocation[];
  /** each component's own figures */
  components: StockResponse[];
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

/**
 * A kit's stock from its components' figures: every location where one of them has a stock
 * record (or `default` when none has one), each with the kits its components give there.
 */
export function kitStockResponse(
  tenant: string,
  sku: string,
  kit: KitComponent[],
  components: StockResponse[],
  location?: string,
): KitStockResponse {
  const at = new Map<string, Map<string, number>>();
  for (const c of components)
    for (const l of c.byLocation) {
      if (!at.has(l.locationId)) at.set(l.locationId, new Map());
      at.get(l.locationId)!.set(c.sku, l.available);
    }
  if (at.size === 0) at.set(location ?? 'default', new Map());
  const byLocation = [...at.keys()]
    .sort((a, b) => a.localeCompare(b))
    .map((locationId): KitLocation => {
      const figures = at.get(locationId)!;
      const available = (s: string) => figures.get(s) ?? 0;
      return {
        locationId,
        available: kitsAvailable(kit, available),
        components: kit.map((c) => ({ ...c, available: available(c.sku) })),
      };
    });
  return {
    sku,
    tenant,
    kit,
    available: byLocation.reduce((n, l) => n + l.available, 0),
    byLocation,
    components,
  };
}

/**
 * Live figures of a SKU from Redis (the tenant is loaded from MySQL first if Redis lost it); of
 * a kit SKU, the kits its components give.
 */
export async function readStock(
  config: Config,
  tenant: string,
  sku: string,
  location?: string,
): Promise<StockResponse | KitStockResponse> {
  const services = await openServices(config, createLogger('silent'));
  try {
    await services.loader.ensureTenant(tenant);
    const keys = new TenantKeys(config.REDIS_PREFIX, tenant);
    const json = await services.redis.hget(keys.kits, sku);
    if (json !== null) {
      const kit = parseKit(json);
      const components: StockResponse[] = [];
      for (const c of kit)
        components.push(
          stockResponse(tenant, c.sku, await readLocations(services.redis, keys, c.sku, location)),
        );
      return kitStockResponse(tenant, sku, kit, components, location);
    }
    return stockResponse(tenant, sku, await readLocations(services.redis, keys, sku, location));
  } finally {
    await services.close();
  }
}

/** Prints a kit's stock: the kits at each location, with each component's figure there. */
function printKitStock(s: KitStockResponse): void {
  const kit = s.kit.map((c) => `${c.quantity} × ${c.sku}`).join(' + ');
  console.log(`${s.sku}: kit of ${kit}: available ${s.available} kits`);
  const columns = s.kit.map((c) => `${c.sku} (×${c.quantity})`);
  printTable(
    s.byLocation.map((l) => ({
      locationId: l.locationId,
      kits: l.available,
      ...Object.fromEntries(l.components.map((c, i) => [columns[i]!, c.available])),
    })),
    ['locationId', 'kits', ...columns],
  );
}

export function registerStock(program: Command, config: () => Config): void {
  program
    .command('stock <sku>')
    .description(
      'live stock figures of a SKU from Redis: totals and each location (of a kit SKU, the kits its components give)',
    )
    .option('--location <id>', 'one location only')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option(
      '--json',
      'print JSON: available, reserved, onHand, byLocation, reorderLevel, ...; of a kit: kit, available, byLocation, components',
    )
    .addHelpText(
      'after',
      '\nA kit SKU has no stock of its own: at each location where one of its components has\n' +
        'stock (else --location, or default), the kits available are the least, over the\n' +
        'components, of available / quantity (rounded down); the total is the sum over the\n' +
        'locations.\n' +
        '\nExit status 4 when the SKU has no stock record (JSON still printed); never for a kit.',
    )
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
      if ('kit' in s) {
        if (o.json) printJson(s);
        else printKitStock(s);
        return;
      }
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
