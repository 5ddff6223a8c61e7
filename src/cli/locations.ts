import { randomUUID } from 'node:crypto';
import { connectFirst } from '../broker/amqp-nodes.js';
import type { Command } from 'commander';
import { amqpUser, tenantListed } from '../broker/tenants.js';
import { COMMERCE_EXCHANGE } from '../broker/topology.js';
import type { Config } from '../config.js';
import { DEFAULT_TENANT } from '../domain/types.js';
import { createKnex, migrate, type Knex } from '../ledger/db.js';
import { listLocations, listTransfers, setUnitCost } from '../ledger/network-queries.js';
import { amqpSocketOptions } from '../tls.js';
import { EXIT, within, tenantArg } from './exit.js';
import { CliError } from '../errors/cli-error.js';
import { cliId, cliIdOption } from './ids.js';
import { printJson, printTable } from './output.js';

export async function withKnex<T>(config: Config, f: (knex: Knex) => Promise<T>): Promise<T> {
  await within(migrate(config.MYSQL_URL, config.tls.mysql), 30_000, 'MySQL');
  const knex = createKnex(config.MYSQL_URL, { max: 2, tls: config.tls.mysql });
  try {
    return await f(knex);
  } finally {
    await knex.destroy();
  }
}

/**
 * Locations and bindings change only through events (so every worker, the ledger and BI see
 * the change in order): the CLI publishes them to commerce.events, confirmed by the broker.
 */
export async function publishEvent(
  config: Config,
  tenant: string,
  type: string,
  data: Record<string, unknown>,
): Promise<string> {
  if (!tenantListed(config, tenant))
    throw new CliError(
      `tenant "${tenant}" is not in TENANTS: the worker would dead-letter the event`,
      EXIT.usage,
    );
  const id = `cli-${randomUUID()}`;
  const conn = await connectFirst(config.AMQP_URL, amqpSocketOptions(config.tls.amqp));
  try {
    const ch = await conn.createConfirmChannel();
    const body = {
      specversion: '1.0',
      id,
      source: '/cli',
      type,
      time: new Date().toISOString(),
      tenant,
      datacontenttype: 'application/json',
      data,
    };
    ch.publish(COMMERCE_EXCHANGE, type, Buffer.from(JSON.stringify(body)), {
      contentType: 'application/cloudevents+json',
      messageId: id,
      // the operator's own user: with TENANT_FROM_USER it may act for every tenant
      userId: amqpUser(config.AMQP_URL),
      persistent: true,
    });
    await ch.waitForConfirms();
    await ch.close();
  } finally {
    await conn.close();
  }
  return id;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function registerLocations(program: Command, config: () => Config): void {
  registerLocationList(program, config);
  registerLocationChanges(program, config);
  registerPolicy(program, config);
  registerTransfers(program, config);
  registerCost(program, config);
}

/** `inventory locations`: the tenant. */
function registerLocationList(program: Command, config: () => Config): void {
  program
    .command('locations')
    .description("the tenant's locations in routing order: priority, ships to, SKUs stocked")
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; json?: boolean }) => {
      const rows = await withKnex(config(), (knex) => listLocations(knex, o.tenant));
      if (o.json) return printJson(rows);
      printTable(
        rows.map((r) => ({ ...r, shipsTo: r.shipsTo.join(',') || '(anywhere)' })),
        ['locationId', 'name', 'priority', 'shipsTo', 'skus'],
      );
    });
}

/** `inventory location`: change locations and bindings (publishes location.* events to commerce.events). */
function registerLocationChanges(program: Command, config: () => Config): void {
  const location = program
    .command('location')
    .description('change locations and bindings (publishes location.* events to commerce.events)');
  location
    .command('upsert <locationId>')
    .description('create or replace a location (location.upserted)')
    .option('--name <name>', 'display name (default: the id)')
    .option('--priority <n>', 'routing priority, lower first (default 100)')
    .option('--ships-to <codes>', 'comma-separated US, US-CA, ... (default: anywhere)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .action(
      async (
        locationId: string,
        o: { name?: string; priority?: string; shipsTo?: string; tenant: string },
      ) => {
        const priority = o.priority === undefined ? undefined : Number(o.priority);
        if (priority !== undefined && !Number.isInteger(priority))
          throw new CliError(`--priority must be a whole number: ${o.priority}`, EXIT.usage);
        const id = await publishEvent(config(), o.tenant, 'location.upserted', {
          locationId: cliId('locationId', locationId),
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(priority !== undefined ? { priority } : {}),
          ...(o.shipsTo !== undefined ? { shipsTo: list(o.shipsTo) } : {}),
        });
        console.error(`published location.upserted ${id}`);
      },
    );
  for (const [verb, type] of [
    ['bind', 'location.bound'],
    ['unbind', 'location.unbound'],
  ] as const) {
    location
      .command(`${verb} <locationId> <skus...>`)
      .description(`${verb} SKUs ${verb === 'bind' ? 'to' : 'from'} a location (${type})`)
      .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
      .action(async (locationId: string, skus: string[], o: { tenant: string }) => {
        const id = await publishEvent(config(), o.tenant, type, {
          locationId: cliId('locationId', locationId),
          skus: skus.map((s) => cliId('sku', s)),
        });
        console.error(`published ${type} ${id}`);
      });
  }
}

/** `inventory policy`: sell ahead of stock or not: deny, backorder or preorder (publishes stock.configured). */
function registerPolicy(program: Command, config: () => Config): void {
  program
    .command('policy <sku> <policy>')
    .description(
      'sell ahead of stock or not: deny, backorder or preorder (publishes stock.configured)',
    )
    .option('--limit <n>', 'the most units that may wait under the policy')
    .option('--until <time>', 'preorder: no new pre-orders from this RFC 3339 time; none: no end')
    .option('--location <locationId>', 'location (default: default)')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .action(
      async (
        sku: string,
        policy: string,
        o: { limit?: string; until?: string; location?: string; tenant: string },
      ) => {
        if (!['deny', 'backorder', 'preorder'].includes(policy))
          throw new CliError(`policy must be deny, backorder or preorder: ${policy}`, EXIT.usage);
        const limit = o.limit === undefined ? undefined : Number(o.limit);
        if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0))
          throw new CliError(`--limit must be a whole number ≥ 0: ${o.limit}`, EXIT.usage);
        const until =
          o.until === undefined ? undefined : o.until === 'none' ? null : new Date(o.until);
        if (until && Number.isNaN(until.getTime()))
          throw new CliError(`--until must be a time (RFC 3339) or none: ${o.until}`, EXIT.usage);
        const locationId = cliIdOption('--location', o.location);
        const id = await publishEvent(config(), o.tenant, 'stock.configured', {
          sku: cliId('sku', sku),
          ...(locationId !== undefined ? { locationId } : {}),
          policy,
          ...(limit !== undefined ? { policyLimit: limit } : {}),
          ...(until !== undefined ? { preorderUntil: until && until.toISOString() } : {}),
        });
        console.error(`published stock.configured ${id}`);
      },
    );
}

/** `inventory transfers`: transfers, newest first: state, from, to, units, in transit, received. */
function registerTransfers(program: Command, config: () => Config): void {
  program
    .command('transfers')
    .description('transfers, newest first: state, from, to, units, in transit, received')
    .option('--state <state>', 'created, shipped, receiving, received or cancelled')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .option('--json', 'print JSON, with lines')
    .action(async (o: { state?: string; tenant: string; json?: boolean }) => {
      const rows = await withKnex(config(), (knex) =>
        listTransfers(knex, o.tenant, o.state ? { state: o.state } : {}),
      );
      if (o.json) return printJson(rows);
      printTable(rows as unknown as Record<string, unknown>[], [
        'transferId',
        'state',
        'fromLocationId',
        'toLocationId',
        'units',
        'inTransit',
        'received',
      ]);
    });
}

/** `inventory cost`: set a SKU\. */
function registerCost(program: Command, config: () => Config): void {
  program
    .command('cost <sku> <unitCost>')
    .description('set a SKU\'s unit cost (for the stock value in stats); "none" removes it')
    .option('--tenant <tenant>', 'tenant', tenantArg, DEFAULT_TENANT)
    .action(async (sku: string, unitCost: string, o: { tenant: string }) => {
      const cost = unitCost === 'none' ? null : Number(unitCost);
      if (cost !== null && !(Number.isFinite(cost) && cost >= 0))
        throw new CliError(`unit cost must be a number ≥ 0 or "none": ${unitCost}`, EXIT.usage);
      const id = cliId('sku', sku);
      await withKnex(config(), (knex) => setUnitCost(knex, o.tenant, id, cost));
    });
}
