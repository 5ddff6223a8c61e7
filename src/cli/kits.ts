import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { KitComponent } from '../domain/kits.js';
import { compareBytes } from '../domain/pairs.js';
import { DEFAULT_TENANT } from '../domain/types.js';
import { TenantKeys } from '../engine/keys.js';
import { parseKit } from '../engine/network.js';
import { CliError } from '../errors/cli-error.js';
import { createLogger } from '../logger.js';
import { openServices } from '../services.js';
import { EXIT, tenantArg, within } from './exit.js';
import { cliId } from './ids.js';
import { publishEvent } from './locations.js';
import { printJson, printTable } from './output.js';

export interface KitRow {
  sku: string;
  components: KitComponent[];
}

/**
 * The tenant's kits as the workers use them (the `kits` hash in Redis; the tenant is loaded from
 * MySQL first if Redis lost it), in byte order of their SKUs; only `sku` when given.
 */
export async function readKits(config: Config, tenant: string, sku?: string): Promise<KitRow[]> {
  const services = await openServices(config, createLogger('silent'));
  try {
    await services.loader.ensureTenant(tenant);
    const keys = new TenantKeys(config.REDIS_PREFIX, tenant);
    if (sku !== undefined) {
      const json = await services.redis.hget(keys.kits, sku);
      return json === null ? [] : [{ sku, components: parseKit(json) }];
    }
    const all = await services.redis.hgetall(keys.kits);
    return Object.keys(all)
      .sort(compareBytes)
      .map((s) => ({ sku: s, components: parseKit(all[s]!) }));
  } finally {
    await services.close();
  }
}

const describeKit = (components: KitComponent[]) =>
  components.map((c) => `${c.quantity} × ${c.sku}`).join(' + ');

/** `SKU=QUANTITY`, or `SKU` alone for one unit. */
function componentArg(arg: string): KitComponent {
  const m = /^(.*)=(\d+)$/s.exec(arg);
  const quantity = m ? Number(m[2]) : 1;
  if (!Number.isSafeInteger(quantity) || quantity < 1)
    throw new CliError(`a component's quantity must be a whole number ≥ 1: ${arg}`, EXIT.usage);
  return { sku: cliId('sku', m ? m[1]! : arg), quantity };
}

/** `inventory kit`: show kits; define and remove them (publishes kit.defined / kit.removed). */
export function registerKits(program: Command, config: () => Config): void {
  const kit = program
    .command('kit')
    .description('kits (bundles): show them; define and remove them (publishes kit.* events)');
  kit
    .command('show [sku]')
    .description("a kit's components; without sku, every kit of the tenant")
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--json', 'print JSON: sku, components [{sku, quantity}] (a list without sku)')
    .addHelpText('after', '\nExit status 4 when the SKU is not a kit.')
    .action(async (sku: string | undefined, o: { tenant: string; json?: boolean }) => {
      const id = sku === undefined ? undefined : cliId('sku', sku);
      const rows = await within(readKits(config(), o.tenant, id), 30_000, 'Redis or MySQL');
      if (id !== undefined) {
        const one = rows[0];
        if (!one) throw new CliError(`${sku} is not a kit (tenant ${o.tenant})`, EXIT.notFound);
        if (o.json) return printJson(one);
        console.log(`${one.sku}: kit of ${describeKit(one.components)}`);
        printTable(one.components as unknown as Record<string, unknown>[], ['sku', 'quantity']);
        return;
      }
      if (o.json) return printJson(rows);
      printTable(
        rows.map((r) => ({ sku: r.sku, components: describeKit(r.components) })),
        ['sku', 'components'],
      );
    });
  kit
    .command('define <sku> <components...>')
    .description('create or replace a kit (kit.defined); components as SKU=QUANTITY (SKU: 1 unit)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .action(async (sku: string, components: string[], o: { tenant: string }) => {
      const id = await publishEvent(config(), o.tenant, 'kit.defined', {
        sku: cliId('sku', sku),
        components: components.map(componentArg),
      });
      console.error(`published kit.defined ${id}`);
    });
  kit
    .command('remove <sku>')
    .description('the SKU is no longer a kit (kit.removed)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .action(async (sku: string, o: { tenant: string }) => {
      const id = await publishEvent(config(), o.tenant, 'kit.removed', { sku: cliId('sku', sku) });
      console.error(`published kit.removed ${id}`);
    });
}
