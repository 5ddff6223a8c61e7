import type amqp from 'amqplib';
import { connectFirst } from '../broker/amqp-nodes.js';
import type { Command } from 'commander';
import { amqpUser, tenantListed } from '../broker/tenants.js';
import { COMMERCE_EXCHANGE } from '../broker/topology.js';
import type { Config } from '../config.js';
import { createKnex, migrate, type Knex } from '../ledger/db.js';
import { EXIT, intArg, within, tenantArg } from './exit.js';
import { CliError } from '../errors/cli-error.js';
import { amqpSocketOptions } from '../tls.js';
import { printTable, progress } from './output.js';

const SOURCE = '/demo';
const TEE = 'DEMO-TEE-M';
const MUG = 'DEMO-MUG';
const CAP = 'DEMO-CAP';
/** a kit (kit.defined): a T-shirt and a cap, no stock of its own */
const GIFT = 'DEMO-GIFT';
const SKUS = [TEE, MUG, CAP];

interface DemoEvent {
  type: string;
  id: string;
  data: Record<string, unknown>;
}

interface DemoOptions {
  tenant: string;
  maxWait: number;
  timeout: number;
}

/** Publishes to commerce.events as a platform would, and reads back what the worker made of it. */
class Demo {
  private n = 0;
  private readonly run = Date.now().toString(36);

  constructor(
    private readonly channel: amqp.ConfirmChannel,
    private readonly knex: Knex,
    private readonly o: DemoOptions,
    /** the operator's own AMQP user: with TENANT_FROM_USER it may act for every tenant */
    private readonly userId: string,
  ) {}

  /** Ids unique to this run, so the demo can run again (the worker de-duplicates by id). */
  ref(name: string): string {
    return `${name}-${this.run}`;
  }

  ev(type: string, data: Record<string, unknown>): DemoEvent {
    return { type, id: `demo-${this.run}-${++this.n}`, data };
  }

  /** Publishes the events (in this order, with confirms) and waits until the worker applied each. */
  async publish(...events: DemoEvent[]): Promise<Map<string, string>> {
    for (const e of events) {
      const body = { specversion: '1.0', source: SOURCE, tenant: this.o.tenant, ...e };
      this.channel.publish(COMMERCE_EXCHANGE, e.type, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        contentType: 'application/cloudevents+json',
        messageId: e.id,
        userId: this.userId,
      });
    }
    await this.channel.waitForConfirms();
    return this.waitApplied(events.map((e) => e.id));
  }

  /** Polls processed_events until every id is there: id → result (applied, rejected, ...). */
  private async waitApplied(ids: string[]): Promise<Map<string, string>> {
    const until = Date.now() + this.o.timeout * 1000;
    for (;;) {
      const rows = (await this.knex('processed_events')
        .where({ tenant: this.o.tenant, event_source: SOURCE })
        .whereIn('event_id', ids)
        .select('event_id', 'result')) as { event_id: string; result: string }[];
      if (rows.length === ids.length) return new Map(rows.map((r) => [r.event_id, r.result]));
      if (Date.now() > until)
        throw new CliError(
          `the worker applied ${rows.length} of ${ids.length} demo events within ${this.o.timeout} s: ` +
            'is it running (npm start) with the same AMQP_URL, MYSQL_URL and REDIS_PREFIX?',
          EXIT.unavailable,
        );
      await sleep(200);
    }
  }

  async available(sku: string): Promise<number> {
    const row = (await this.knex('stock_levels')
      .where({ tenant: this.o.tenant, sku })
      .sum({ n: 'available' })
      .first()) as { n: unknown } | undefined;
    return Number(row?.n ?? 0);
  }

  async hold(kind: string, id: string) {
    return (await this.knex('reservations')
      .where({ tenant: this.o.tenant, ref_type: kind, ref_id: id })
      .first('state', 'expires_at')) as { state: string; expires_at: Date | null } | undefined;
  }

  async printStock(title: string): Promise<void> {
    const rows = (await this.knex('stock_levels')
      .where({ tenant: this.o.tenant })
      .whereIn('sku', SKUS)
      .orderBy(['sku', 'location_id'])
      .select(
        'sku',
        'location_id',
        'on_hand',
        'reserved',
        'committed',
        'unavailable',
        'available',
        'reorder_level',
      )) as Record<string, unknown>[];
    console.log(`\n${title} (stock_levels, tenant ${this.o.tenant}):`);
    printTable(
      rows.map((r) => ({
        ...r,
        on_hand: Number(r.on_hand),
        reserved: Number(r.reserved),
        committed: Number(r.committed),
        unavailable: Number(r.unavailable),
        available: Number(r.available),
      })),
      [
        'sku',
        'location_id',
        'on_hand',
        'reserved',
        'committed',
        'unavailable',
        'available',
        'reorder_level',
      ],
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => console.log(`\n▶ ${s}`);

async function scenario(d: Demo, o: DemoOptions): Promise<void> {
  await d.printStock('Before');

  // the flash sale is for exactly 5 mugs, however many a previous run left
  const mugs = Math.max(0, 5 - (await d.available(MUG)));
  say('Stock arrives: purchase order PO-1001 is received; the mug gets a reorder level of 2');
  await d.publish(
    d.ev('stock.received', { sku: TEE, quantity: 10, reference: 'PO-1001' }),
    ...(mugs > 0
      ? [d.ev('stock.received', { sku: MUG, quantity: mugs, reference: 'PO-1001' })]
      : []),
    d.ev('stock.received', { sku: CAP, quantity: 8, reference: 'PO-1001' }),
    d.ev('stock.configured', { sku: MUG, reorderLevel: 2, reorderQuantity: 20 }),
  );
  console.log(`  received 10 T-shirts, ${mugs} mugs (5 available now) and 8 caps`);

  say('Flash sale: 8 shoppers add the last 5 mugs to their carts at the same moment');
  const shoppers = Array.from({ length: 8 }, (_, i) => d.ref(`flash-cart-${i + 1}`));
  const adds = shoppers.map((cartId) => d.ev('cart.added', { cartId, sku: MUG, quantity: 1 }));
  const results = await d.publish(...adds);
  const winners = shoppers.filter((_, i) => results.get(adds[i]!.id) === 'applied');
  console.log(
    `  ${winners.length} got a mug, ${shoppers.length - winners.length} were refused ` +
      '(inventory.reservation-failed); never more than the stock, whatever the timing',
  );
  const orders = winners.map((cartId) => ({ cartId, orderId: cartId.replace('cart', 'order') }));
  await d.publish(
    ...orders.map(({ cartId, orderId }) =>
      d.ev('order.placed', { orderId, cartId, lines: [{ sku: MUG, quantity: 1 }] }),
    ),
  );
  const [declined, ...paid] = orders;
  await d.publish(
    ...paid.map(({ orderId }) =>
      d.ev('payment.succeeded', { orderId, paymentId: `pay-${orderId}` }),
    ),
    ...(declined
      ? [
          d.ev('payment.failed', {
            orderId: declined.orderId,
            paymentId: `pay-${declined.orderId}`,
          }),
        ]
      : []),
  );
  console.log(
    `  ${orders.length} checked out: ${paid.length} paid (committed), 1 card declined (its mug is released)`,
  );

  say('An abandoned cart: someone puts 2 caps in a cart and walks away');
  const abandoned = d.ref('cart-abandoned');
  await d.publish(d.ev('cart.added', { cartId: abandoned, sku: CAP, quantity: 2 }));
  const hold = await d.hold('cart', abandoned);
  const waitMs = hold?.expires_at ? hold.expires_at.getTime() - Date.now() : Infinity;
  if (waitMs <= o.maxWait * 1000) {
    const bar = progress('waiting for the cart to expire');
    const total = Math.max(1, Math.ceil(waitMs / 1000));
    console.log(`  the hold expires in ${total} s (the tenant's cart TTL): waiting for it`);
    const until = Date.now() + waitMs + o.timeout * 1000;
    for (;;) {
      const state = (await d.hold('cart', abandoned))?.state;
      if (state === 'expired') break;
      if (Date.now() > until)
        throw new CliError(`the cart hold did not expire (state ${state})`, EXIT.error);
      bar.update(
        Math.min(total, total - Math.ceil((hold!.expires_at!.getTime() - Date.now()) / 1000)),
        total,
      );
      await sleep(500);
    }
    bar.end();
    console.log('  expired: its 2 caps are available again (inventory.expired)');
  } else {
    console.log(
      `  its hold would expire in ${Math.round(waitMs / 1000)} s (longer than --max-wait ${o.maxWait} s); ` +
        `the demo clears the cart instead. To watch it expire, run the worker with ` +
        `CART_TTL_BY_TENANT=${o.tenant}=10`,
    );
    await d.publish(d.ev('cart.cleared', { cartId: abandoned }));
    console.log('  released: its 2 caps are available again (inventory.released)');
  }

  say('A paid and shipped order: order-1001, 2 T-shirts and a cap; and the mugs ship');
  const order = d.ref('order-1001');
  const lines = [
    { sku: TEE, quantity: 2 },
    { sku: CAP, quantity: 1 },
  ];
  await d.publish(d.ev('order.placed', { orderId: order, lines }));
  await d.publish(d.ev('payment.succeeded', { orderId: order, paymentId: `pay-${order}` }));
  await d.publish(
    d.ev('shipment.created', { shipmentId: `ship-${order}`, orderId: order, lines }),
    ...paid.map(({ orderId }) =>
      d.ev('shipment.created', {
        shipmentId: `ship-${orderId}`,
        orderId,
        lines: [{ sku: MUG, quantity: 1 }],
      }),
    ),
  );
  console.log(`  shipped: 2 T-shirts, 1 cap, ${paid.length} mugs leave the warehouse`);

  say('An order edited, a shipment voided: order-1002 for 1 T-shirt becomes 2, then ships');
  const edited = d.ref('order-1002');
  await d.publish(d.ev('order.placed', { orderId: edited, lines: [{ sku: TEE, quantity: 1 }] }));
  await d.publish(d.ev('order.updated', { orderId: edited, lines: [{ sku: TEE, quantity: 2 }] }));
  await d.publish(d.ev('payment.succeeded', { orderId: edited, paymentId: `pay-${edited}` }));
  const both = [{ sku: TEE, quantity: 2 }];
  await d.publish(
    d.ev('shipment.created', { shipmentId: `ship-${edited}-a`, orderId: edited, lines: both }),
  );
  await d.publish(d.ev('shipment.cancelled', { shipmentId: `ship-${edited}-a`, orderId: edited }));
  console.log('  edited to 2 T-shirts (inventory.reserved for the second); the first shipment is');
  console.log('  voided at the dock: its T-shirts are back on hand and in the paid hold');
  await d.publish(
    d.ev('shipment.created', { shipmentId: `ship-${edited}-b`, orderId: edited, lines: both }),
  );
  console.log('  shipped again: 2 T-shirts leave');

  say(`A gift set: ${GIFT} is a kit of a T-shirt and a cap; one is bought and shipped`);
  const gift = [{ sku: GIFT, quantity: 1 }];
  const giftCart = d.ref('cart-gift');
  const giftOrder = d.ref('order-1003');
  await d.publish(
    d.ev('kit.defined', {
      sku: GIFT,
      components: [
        { sku: TEE, quantity: 1 },
        { sku: CAP, quantity: 1 },
      ],
    }),
  );
  await d.publish(d.ev('cart.added', { cartId: giftCart, sku: GIFT, quantity: 1 }));
  await d.publish(d.ev('order.placed', { orderId: giftOrder, cartId: giftCart, lines: gift }));
  await d.publish(d.ev('payment.succeeded', { orderId: giftOrder, paymentId: `pay-${giftOrder}` }));
  await d.publish(
    d.ev('shipment.created', { shipmentId: `ship-${giftOrder}`, orderId: giftOrder, lines: gift }),
  );
  console.log(
    `  a T-shirt and a cap held, paid and shipped as ${GIFT} (inventory_ledger.kit names it); ` +
      `npx inventory stock ${GIFT} --tenant ${o.tenant} shows how many can still be sold`,
  );

  say('A return: one T-shirt of order-1001 comes back and passes inspection; a cap is damaged');
  await d.publish(
    d.ev('rma.passed', {
      rmaId: d.ref('rma-1'),
      orderId: order,
      lines: [{ sku: TEE, quantity: 1, disposition: 'restock' }],
    }),
    d.ev('stock.adjusted', { sku: CAP, delta: -1, reason: 'damaged' }),
  );

  await d.printStock('After');
  console.log(
    `\nTry: npx inventory history ${TEE} --tenant ${o.tenant} · npx inventory low-stock --tenant ${o.tenant} · ` +
      `npx inventory stats --tenant ${o.tenant}`,
  );
}

export function registerDemo(program: Command, config: () => Config): void {
  program
    .command('demo')
    .description(
      'publish a short realistic scenario to a running worker (stock arrives, a flash sale, an ' +
        'abandoned cart, a paid and shipped order, a return) and print the stock before and after',
    )
    .option('--tenant <tenant>', 'tenant the demo uses', tenantArg, 'demo')
    .option(
      '--max-wait <s>',
      "wait for the abandoned cart to expire if the worker's TTL is at most this",
      intArg(0),
      90,
    )
    .option(
      '--timeout <s>',
      'give up when the worker has not applied an event after this',
      intArg(1),
      30,
    )
    .addHelpText(
      'after',
      '\nStart the worker first, e.g. CART_TTL_BY_TENANT=demo=10 npm start (the 10 s TTL lets\n' +
        'the abandoned cart expire during the demo). Each run uses new ids, so figures add up.',
    )
    .action(async (o: DemoOptions) => {
      const c = config();
      if (!tenantListed(c, o.tenant))
        throw new CliError(
          `tenant "${o.tenant}" is not in TENANTS: the worker would dead-letter the demo`,
          EXIT.usage,
        );
      await within(migrate(c.MYSQL_URL, c.tls.mysql), 30_000, 'MySQL');
      const knex = createKnex(c.MYSQL_URL, { max: 2, tls: c.tls.mysql });
      const conn = await within(
        connectFirst(c.AMQP_URL, amqpSocketOptions(c.tls.amqp)),
        10_000,
        'RabbitMQ',
      );
      try {
        const channel = await conn.createConfirmChannel();
        await channel.assertExchange(COMMERCE_EXCHANGE, 'topic', { durable: true });
        await scenario(new Demo(channel, knex, o, amqpUser(c.AMQP_URL)), o);
      } finally {
        await conn.close().catch(() => undefined);
        await knex.destroy();
      }
    });
}
