/**
 * Kit definitions end to end through RabbitMQ: kit.defined and kit.removed applied in order
 * (outcomes in processed_events, nothing announced), the `kits` table BI reads, a kit SKU
 * refused as stock of its own, an invalid definition dead-lettered, and a tenant reloaded from
 * MySQL after Redis lost it keeping its kits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix, testRedis } from '../support/isolation.js';
import { E2E, waitFor } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_kits');
});

afterAll(async () => {
  await x?.close();
});

const kitRows = async (t: string) =>
  (
    (await x.knex('kits').where({ tenant: t }).orderBy('sku').select('sku', 'components')) as {
      sku: string;
      components: string | null;
    }[]
  ).map((r) => [r.sku, r.components === null ? null : (JSON.parse(r.components) as unknown)]);

describe('kits end to end', () => {
  it('kit.defined and kit.removed: outcomes, nothing announced, the kits table', async () => {
    const t = x.tenant();
    const starter = x.ev(t, 'kit.defined', {
      sku: 'STARTER',
      components: [
        { sku: 'SOCK', quantity: 2 },
        { sku: 'SHOE', quantity: 1 },
      ],
    });
    const duo = x.ev(t, 'kit.defined', { sku: 'DUO', components: [{ sku: 'CAP', quantity: 1 }] });
    await x.run(starter, duo);
    const same = x.ev(t, 'kit.defined', {
      sku: 'STARTER',
      components: [
        { sku: 'SHOE', quantity: 1 },
        { sku: 'SOCK', quantity: 2 },
      ],
    });
    const nested = x.ev(t, 'kit.defined', {
      sku: 'BIG',
      components: [{ sku: 'STARTER', quantity: 1 }],
    });
    const inside = x.ev(t, 'kit.defined', { sku: 'SOCK', components: [{ sku: 'X', quantity: 1 }] });
    await x.run(same, nested, inside);
    const redefined = x.ev(t, 'kit.defined', {
      sku: 'DUO',
      components: [
        { sku: 'CAP', quantity: 1 },
        { sku: 'MUG', quantity: 2 },
      ],
    });
    const removed = x.ev(t, 'kit.removed', { sku: 'STARTER' });
    await x.run(redefined, removed);
    const unknown = x.ev(t, 'kit.removed', { sku: 'STARTER' });
    await x.run(unknown);

    expect(await x.outcome(starter)).toEqual({ result: 'applied', reason: null });
    expect(await x.outcome(same)).toEqual({ result: 'ignored', reason: 'unchanged' });
    expect(await x.outcome(nested)).toEqual({ result: 'rejected', reason: 'kit-in-kit' });
    expect(await x.outcome(inside)).toEqual({ result: 'rejected', reason: 'kit-in-kit' });
    expect(await x.outcome(redefined)).toEqual({ result: 'applied', reason: null });
    expect(await x.outcome(removed)).toEqual({ result: 'applied', reason: null });
    expect(await x.outcome(unknown)).toEqual({ result: 'ignored', reason: 'unknown-kit' });
    await x.quiesce();
    for (const e of [starter, duo, same, nested, inside, redefined, removed, unknown])
      expect(x.announcementsOf(e)).toEqual([]);
    expect(await kitRows(t)).toEqual([
      [
        'DUO',
        [
          ['CAP', 1],
          ['MUG', 2],
        ],
      ],
      ['STARTER', null],
    ]);
  });

  it('a kit SKU takes no stock of its own; an invalid definition is dead-lettered', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'kit.defined', { sku: 'K', components: [{ sku: 'A', quantity: 3 }] }));
    const receipt = x.ev(t, 'stock.received', { sku: 'K', quantity: 5 });
    const transfer = x.ev(t, 'transfer.created', {
      transferId: 'tr1',
      fromLocationId: 'default',
      toLocationId: 'store',
      lines: [{ sku: 'K', quantity: 1 }],
    });
    await x.run(receipt, transfer);
    expect(await x.outcome(receipt)).toEqual({ result: 'rejected', reason: 'kit-sku' });
    expect(await x.outcome(transfer)).toEqual({ result: 'rejected', reason: 'kit-sku' });
    expect(await x.level(t, 'K')).toBeUndefined();
    expect(await x.knex('reservations').where({ tenant: t })).toEqual([]);

    const invalid = x.ev(t, 'kit.defined', {
      sku: 'K2',
      components: [
        { sku: 'A', quantity: 1 },
        { sku: 'A', quantity: 2 },
      ],
    });
    await x.publishInvalid(invalid);
    let dead: Awaited<ReturnType<E2E['takeDeadLetters']>> = [];
    await waitFor(
      async () => {
        dead = [...dead, ...(await x.takeDeadLetters())];
        return dead.length > 0;
      },
      20_000,
      'the invalid kit.defined dead-lettered',
    );
    expect(dead).toHaveLength(1);
    expect(String(dead[0]!.properties.headers?.['x-error-reason'])).toMatch(
      /^invalid: .*component SKUs must be distinct/,
    );
    expect(await x.outcome(invalid)).toBeUndefined();
  });

  it('a tenant reloaded from MySQL keeps its kits', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'kit.defined', { sku: 'K', components: [{ sku: 'A', quantity: 1 }] }));
    const redis = testRedis();
    try {
      await dropRedisPrefix(redis, `${x.t.config.REDIS_PREFIX}:{${t}}`);
      const refused = x.ev(t, 'stock.received', { sku: 'K', quantity: 1 });
      await x.run(refused);
      expect(await x.outcome(refused)).toEqual({ result: 'rejected', reason: 'kit-sku' });
      expect(await redis.hgetall(`${x.t.config.REDIS_PREFIX}:{${t}}:kits`)).toEqual({
        K: JSON.stringify([['A', 1]]),
      });
    } finally {
      await redis.quit();
    }
  });
});
