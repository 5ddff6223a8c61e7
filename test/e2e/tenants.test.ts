/**
 * Tenants are authorised, not just named (docs/security.md, "Tenants"), through the real broker:
 * TENANTS lets only listed tenants through, REQUIRE_TENANT refuses an event that names none,
 * and TENANT_FROM_USER ties a tenant to the RabbitMQ user that publishes it: two users of their
 * own, each can move its own stock and neither can move the other's, whatever it puts in the
 * message, and an event keeps its publisher through the retry tiers, the DLQ and a replay. A
 * refused event changes nothing: no tenant_epochs row, no processed_events row, no Redis key.
 */
import { randomBytes } from 'node:crypto';
import amqp, { type GetMessage, type Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters, replayDeadLetters } from '../../src/broker/dlq.js';
import { DLQ, MAIN_QUEUE, retryQueueName } from '../../src/broker/topology.js';
import { publishEvent } from '../../src/cli/locations.js';
import { CliError } from '../../src/errors/cli-error.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createTestUser, deleteTestUser } from '../support/rabbit.js';
import { bodyOf, D, E2E, fig, mv, waitFor, type Ev } from './harness.js';

const listed = [`ok${randomBytes(3).toString('hex')}`, `ok${randomBytes(3).toString('hex')}`];
let x: E2E;
const users: string[] = [];

beforeAll(async () => {
  x = await E2E.start(
    'e2e_tenants',
    { TENANTS: listed.join(' , '), DELIVERY_LIMIT: '2' },
    { announcements: false },
  );
});

afterAll(async () => {
  await x?.close();
  for (const u of users) await deleteTestUser(u);
});

/** Restarts the worker with other settings (same vhost, database and Redis prefix). */
async function reconfigure(settings: Partial<Config>): Promise<void> {
  Object.assign(x.t.config, settings);
  await x.t.restart();
}

/** An event that names no tenant. */
function untenanted(e: Ev): Ev {
  delete (e as Partial<Ev>).tenant;
  return e;
}

/** Everything a tenant has anywhere: all zero for a tenant whose events were all refused. */
async function footprint(tenant: string) {
  const count = async (table: string) =>
    Number(((await x.knex(table).where({ tenant }).count({ n: '*' })) as { n: number }[])[0]!.n);
  const keys = await x.t.worker.services.redis.keys(`${x.t.config.REDIS_PREFIX}:{${tenant}}:*`);
  return {
    tenant_epochs: await count('tenant_epochs'),
    processed_events: await count('processed_events'),
    inventory_ledger: await count('inventory_ledger'),
    stock_levels: await count('stock_levels'),
    redisKeys: keys.length,
  };
}
const NOTHING = {
  tenant_epochs: 0,
  processed_events: 0,
  inventory_ledger: 0,
  stock_levels: 0,
  redisKeys: 0,
};

const headersOf = (m: GetMessage) => (m.properties.headers ?? {}) as Record<string, unknown>;

/** Waits for `n` dead letters, takes them out of the DLQ and returns them by message id. */
async function deadLetters(n: number): Promise<Map<string, GetMessage>> {
  await waitFor(async () => (await x.queueCounts()).dlq >= n, 15_000, `${n} dead letters`);
  await x.quiesce();
  const taken = await x.takeDeadLetters();
  expect(taken.length).toBe(n);
  return new Map(taken.map((m) => [String(m.properties.messageId), m]));
}

describe('TENANTS', () => {
  it('is checked at start: a name that is no tenant stops the worker, naming the variable', () => {
    expect(() => loadConfig({ TENANTS: 'acme, two words' })).toThrow(
      /TENANTS="acme, two words": "two words" is not a tenant name/,
    );
    expect(loadConfig({ TENANTS: ' acme,beta ,' }).TENANTS).toEqual(['acme', 'beta']);
    expect(loadConfig({}).TENANTS).toEqual([]);
  });

  it('applies the listed tenants and dead-letters any other, changing nothing of it', async () => {
    const [ok] = listed;
    const other = `no${randomBytes(3).toString('hex')}`;
    const applied = x.ev(ok!, 'stock.received', { sku: 'A', quantity: 5 });
    const refused = x.ev(other, 'stock.received', { sku: 'A', quantity: 5 });
    const cart = x.ev(other, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 });
    const noTenant = untenanted(x.ev(D, 'stock.received', { sku: 'A', quantity: 5 }));
    await x.publish(refused, cart, noTenant, applied);
    await x.waitProcessed([applied]);
    const dead = await deadLetters(3);
    expect(headersOf(dead.get(refused.id)!)['x-error-reason']).toBe(
      `unknown-tenant: tenant "${other}" is not in TENANTS`,
    );
    expect(headersOf(dead.get(cart.id)!)['x-error-reason']).toBe(
      `unknown-tenant: tenant "${other}" is not in TENANTS`,
    );
    expect(headersOf(dead.get(noTenant.id)!)['x-error-reason']).toBe(
      'unknown-tenant: tenant "default" (the event names none) is not in TENANTS',
    );
    expect(await x.level(ok!, 'A')).toEqual(fig(5));
    expect(await footprint(other)).toEqual(NOTHING);
    expect(await footprint(D)).toEqual(NOTHING);
  });

  it("the CLI refuses to publish an event for a tenant the worker would refuse, and publishes a listed one's", async () => {
    const config = { ...x.t.config, AMQP_URL: x.url };
    const err = await publishEvent(config, 'elsewhere', 'location.upserted', {
      locationId: 'L1',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    const id = await publishEvent(config, listed[1]!, 'location.upserted', { locationId: 'L1' });
    await x.waitProcessed([
      { id, source: '/cli', tenant: listed[1]!, type: 'location.upserted', data: {} },
    ]);
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});

describe('REQUIRE_TENANT', () => {
  it('dead-letters an event that names no tenant instead of applying it to default', async () => {
    await reconfigure({ TENANTS: [], REQUIRE_TENANT: true });
    const t = x.tenant();
    const named = x.ev(t, 'stock.received', { sku: 'A', quantity: 1 });
    const unnamed = untenanted(x.ev(D, 'stock.received', { sku: 'A', quantity: 1 }));
    await x.publish(unnamed, named);
    await x.waitProcessed([named]);
    const dead = await deadLetters(1);
    expect(headersOf(dead.get(unnamed.id)!)['x-error-reason']).toBe(
      'invalid: the event names no tenant (REQUIRE_TENANT is set)',
    );
    expect(await footprint(D)).toEqual(NOTHING);
    expect(await x.level(t, 'A')).toEqual(fig(1));
  });
});

describe('TENANT_FROM_USER: two RabbitMQ users, each its own tenant', () => {
  /** a platform that may publish to commerce.events only */
  let a: { user: string; url: string };
  /** a platform given more than it needs: it may also publish to any queue directly */
  let b: { user: string; url: string };

  const urlOf = (user: string, password: string) => {
    const u = new URL(x.url);
    u.username = user;
    u.password = password;
    return u.toString();
  };

  /** Publishes as a user, confirmed; rejects if the broker refuses the message. */
  async function publishAs(
    who: { url: string },
    items: { exchange?: string; routingKey: string; body: Buffer; options?: Options.Publish }[],
  ): Promise<void> {
    const conn = await amqp.connect(who.url);
    try {
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => undefined); // the rejection below says why
      for (const i of items)
        ch.publish(i.exchange ?? 'commerce.events', i.routingKey, i.body, {
          persistent: true,
          contentType: 'application/cloudevents+json',
          ...i.options,
        });
      await ch.waitForConfirms();
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
  const event = (e: Ev, options: Options.Publish = {}) => ({
    routingKey: e.type,
    body: bodyOf(e),
    options: { messageId: e.id, ...options },
  });

  beforeAll(async () => {
    const ua = await createTestUser(x.t.vhost, 'pa', {
      configure: '^$',
      write: '^commerce\\.events$',
      read: '^$',
    });
    users.push(ua.user);
    const ub = await createTestUser(x.t.vhost, 'pb', {
      configure: '^$',
      write: '^(commerce\\.events|amq\\.default)$',
      read: '^$',
    });
    users.push(ub.user);
    a = { user: ua.user, url: urlOf(ua.user, ua.password) };
    b = { user: ub.user, url: urlOf(ub.user, ub.password) };
    await reconfigure({ REQUIRE_TENANT: false, TENANT_FROM_USER: true, MAX_MESSAGE_BYTES: 1024 });
  });

  it('each user moves its own tenant', async () => {
    const ea = x.ev(a.user, 'stock.received', { sku: 'A', quantity: 10 });
    const eb = x.ev(b.user, 'stock.received', { sku: 'A', quantity: 5 });
    await publishAs(a, [event(ea, { userId: a.user })]);
    await publishAs(b, [event(eb, { userId: b.user })]);
    await x.waitProcessed([ea, eb]);
    expect(await x.level(a.user, 'A')).toEqual(fig(10));
    expect(await x.level(b.user, 'A')).toEqual(fig(5));
  });

  it("the broker refuses a user_id that is not the publisher's own", async () => {
    const forged = x.ev(a.user, 'stock.received', { sku: 'A', quantity: 1000 });
    await expect(publishAs(b, [event(forged, { userId: a.user })])).rejects.toThrow();
    await x.quiesce();
    expect(await x.level(a.user, 'A')).toEqual(fig(10));
  });

  it("nothing else a user can put in a message lets it touch another user's tenant", async () => {
    const claim = { 'x-original-user-id': a.user };
    const cases = {
      named: x.ev(a.user, 'stock.received', { sku: 'A', quantity: 100 }),
      claimed: x.ev(a.user, 'stock.received', { sku: 'A', quantity: 100 }),
      straightToQueue: x.ev(a.user, 'stock.received', { sku: 'A', quantity: 100 }),
      throughRetryTier: x.ev(a.user, 'stock.received', { sku: 'A', quantity: 100 }),
      anonymous: x.ev(a.user, 'stock.received', { sku: 'A', quantity: 100 }),
      noTenant: untenanted(x.ev(D, 'stock.received', { sku: 'A', quantity: 100 })),
    };
    await publishAs(b, [
      event(cases.named, { userId: b.user }),
      event(cases.claimed, { userId: b.user, headers: claim }),
      {
        ...event(cases.straightToQueue, { userId: b.user, headers: { ...claim, 'x-attempts': 1 } }),
        exchange: '',
        routingKey: MAIN_QUEUE,
      },
      {
        ...event(cases.throughRetryTier, {
          userId: b.user,
          headers: { ...claim, 'x-original-routing-key': 'stock.received', 'x-attempts': 1 },
        }),
        exchange: '',
        routingKey: retryQueueName(1000),
      },
    ]);
    await publishAs(a, [
      event(cases.anonymous, { headers: claim }),
      event(cases.noTenant, { userId: a.user }),
    ]);
    const dead = await deadLetters(6);
    const byB = `unauthorised-tenant: tenant "${a.user}" was published by AMQP user "${b.user}" (TENANT_FROM_USER is set)`;
    const reasons = Object.fromEntries(
      Object.entries(cases).map(([k, e]) => [k, headersOf(dead.get(e.id)!)['x-error-reason']]),
    );
    expect(reasons).toEqual({
      named: byB,
      claimed: byB,
      straightToQueue: byB,
      throughRetryTier: byB,
      anonymous: `unauthorised-tenant: tenant "${a.user}" needs a publisher's AMQP user_id (TENANT_FROM_USER is set); the message has none`,
      noTenant: `unauthorised-tenant: tenant "default" (the event names none) was published by AMQP user "${a.user}" (TENANT_FROM_USER is set)`,
    });
    // each dead letter says who really published it, sealed by the worker's own user
    const named = dead.get(cases.named.id)!;
    expect([named.properties.userId, headersOf(named)['x-original-user-id']]).toEqual([
      'guest',
      b.user,
    ]);
    const anonymous = dead.get(cases.anonymous.id)!;
    expect([anonymous.properties.userId, headersOf(anonymous)['x-original-user-id']]).toEqual([
      undefined,
      undefined,
    ]);
    expect(await x.level(a.user, 'A')).toEqual(fig(10));
    expect((await x.ledger(a.user)).length).toBe(1);
    expect(await footprint(D)).toEqual(NOTHING);
  });

  it('an event retried through the back-off tiers keeps its publisher', async () => {
    const received = x.ev(a.user, 'transfer.received', { transferId: 'tr-1' });
    const shipped = x.ev(a.user, 'transfer.shipped', {
      transferId: 'tr-1',
      fromLocationId: D,
      toLocationId: 'store-1',
      lines: [{ sku: 'A', quantity: 4 }],
    });
    // the same transfer: applied in this order, so the receipt is "not yet" and retried once
    await publishAs(a, [event(received, { userId: a.user }), event(shipped, { userId: a.user })]);
    await x.waitProcessed([shipped, received], 20_000);
    await x.expectRows(received, [
      mv('A', 'transfer_received', 4, [4, 0, 0, 0, -4], 'transfer', 'tr-1', '', 'store-1'),
    ]);
    await x.quiesce();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });

  it('a replayed dead letter keeps its publisher: authorised again, or refused again', async () => {
    const large = x.ev(a.user, 'cart.added', {
      cartId: 'c1',
      sku: 'A',
      quantity: 1,
      note: 'n'.repeat(1200),
    });
    const stolen = x.ev(a.user, 'cart.added', { cartId: 'c2', sku: 'A', quantity: 1 });
    await publishAs(a, [event(large, { userId: a.user })]);
    await publishAs(b, [event(stolen, { userId: b.user })]);
    await waitFor(async () => (await x.queueCounts()).dlq === 2, 10_000, '2 dead letters');
    await reconfigure({ MAX_MESSAGE_BYTES: 256 * 1024 });
    expect(
      await replayDeadLetters(x.url, { reason: 'too-large' }, { dryRun: false, limit: 100 }),
    ).toEqual({ matched: 1, replayed: 1, kept: 1, unroutable: 0 });
    await x.waitProcessed([large]);
    expect(
      await replayDeadLetters(x.url, { id: stolen.id }, { dryRun: false, limit: 100 }),
    ).toEqual({ matched: 1, replayed: 1, kept: 0, unroutable: 0 });
    const back = await deadLetters(1);
    expect(headersOf(back.get(stolen.id)!)['x-error-reason']).toMatch(
      /^unauthorised-tenant: .* was published by AMQP user "t_pb_/,
    );
    expect(await x.level(a.user, 'A')).toEqual(fig(6, 1));
  });

  it('a dead letter the broker made itself (delivery limit) is listed, then replayed as its publisher', async () => {
    await x.t.stop();
    const e = x.ev(a.user, 'cart.added', { cartId: 'c3', sku: 'A', quantity: 1 });
    await publishAs(a, [event(e, { userId: a.user })]);
    const conn = await amqp.connect(x.url);
    try {
      const ch = await conn.createChannel();
      await waitFor(
        async () => {
          const m = await ch.get(MAIN_QUEUE, { noAck: false });
          if (m) ch.nack(m, false, true);
          return (await ch.checkQueue(DLQ)).messageCount === 1;
        },
        10_000,
        'the broker to dead-letter it',
      );
    } finally {
      await conn.close();
    }
    await x.t.restart();
    // Listing copies it back to the DLQ, published by the reader: the broker would refuse the
    // publisher's user_id from it, so the next listing shows that user in the header instead.
    const [first] = await listDeadLetters(x.url, 10);
    expect(first).toMatchObject({ id: e.id, reason: 'broker: delivery_limit' });
    const [second] = await listDeadLetters(x.url, 10);
    expect(second).toMatchObject({ id: e.id, reason: 'broker: delivery_limit' });
    expect(second!.headers['x-original-user-id']).toBe(a.user);
    expect(
      await replayDeadLetters(x.url, { reason: 'delivery_limit' }, { dryRun: false, limit: 100 }),
    ).toEqual({ matched: 1, replayed: 1, kept: 0, unroutable: 0 });
    await x.waitProcessed([e]);
    expect(await x.level(a.user, 'A')).toEqual(fig(6, 2));
  });

  it("the operator (the worker's own user) may act for any tenant", async () => {
    const id = await publishEvent({ ...x.t.config, AMQP_URL: x.url }, b.user, 'location.upserted', {
      locationId: 'L1',
    });
    await x.waitProcessed([
      { id, source: '/cli', tenant: b.user, type: 'location.upserted', data: {} },
    ]);
    await x.quiesce();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});
