import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Engine } from '../../src/engine/engine.js';
import { PermanentError } from '../../src/errors/permanent-error.js';
import { InventoryModel } from '../../src/domain/model.js';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { dumpPrefix, mustApply, testEngine } from '../support/engine-harness.js';

const prefix = uniqueName('badinput');
let redis: Redis;
let engine: Engine;

const meta = (over: Partial<EventMeta> = {}): EventMeta => ({
  tenant: 'acme',
  source: '/shop',
  id: 'evt-1',
  type: 'cart.added',
  occurredAt: '2026-11-23T10:15:00Z',
  ...over,
});

const add = (over: Record<string, unknown> = {}): Command =>
  ({
    op: 'reserveCart',
    cartId: 'c1',
    sku: 'A',
    locationId: 'default',
    quantity: 1,
    ttlMs: 60_000,
    ...over,
  }) as Command;
const order = (lines: unknown): Command => ({ op: 'placeOrder', orderId: 'o1', lines }) as Command;
const okLine = { sku: 'A', locationId: 'default', quantity: 1 };

beforeAll(async () => {
  redis = testRedis();
  engine = testEngine(redis, prefix);
  // a tenant with stock and a cart, so "nothing changed" compares real content
  await mustApply(engine, meta({ id: 'seed-1' }), {
    op: 'receiveStock',
    sku: 'A',
    locationId: 'default',
    quantity: 5,
  });
  await mustApply(engine, meta({ id: 'seed-2' }), add({ quantity: 2 }));
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

/** [what, meta, command, text the error must contain (the field)] */
const cases: [string, EventMeta, Command, string][] = [
  ['zero quantity', meta(), add({ quantity: 0 }), 'quantity: must be positive'],
  ['negative quantity', meta(), add({ quantity: -3 }), 'quantity: must be positive'],
  ['fractional quantity', meta(), add({ quantity: 1.5 }), 'quantity: must be a whole number'],
  ['NaN quantity', meta(), add({ quantity: Number.NaN }), 'quantity:'],
  ['quantity as a string', meta(), add({ quantity: '1' }), 'quantity:'],
  ['huge quantity', meta(), add({ quantity: 1e12 }), 'quantity:'],
  [
    'zero receive',
    meta(),
    { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 0 },
    'quantity:',
  ],
  [
    'zero delta',
    meta(),
    { op: 'adjustStock', sku: 'A', locationId: 'default', delta: 0, reason: 'x' },
    'delta: must not be zero',
  ],
  [
    'fractional delta',
    meta(),
    { op: 'adjustStock', sku: 'A', locationId: 'default', delta: -0.5, reason: 'x' },
    'delta:',
  ],
  [
    'negative count',
    meta(),
    { op: 'countStock', sku: 'A', locationId: 'default', onHand: -1 },
    'onHand: must not be negative',
  ],
  ['fractional line', meta(), order([{ ...okLine, quantity: 2.5 }]), 'lines.0.quantity'],
  ['zero line', meta(), order([okLine, { ...okLine, quantity: 0 }]), 'lines.1.quantity'],
  ['no lines', meta(), order([]), 'lines: must have at least one line'],
  ['empty cart id', meta(), add({ cartId: '' }), 'cartId: must not be empty'],
  [
    '129-char cart id',
    meta(),
    add({ cartId: 'c'.repeat(129) }),
    'cartId: must be at most 128 characters',
  ],
  ['empty sku', meta(), add({ sku: '' }), 'sku: must not be empty'],
  ['129-char sku', meta(), add({ sku: 's'.repeat(129) }), 'sku: must be at most 128 characters'],
  ['newline in sku', meta(), add({ sku: 'A\nB' }), 'sku: must be printable characters only'],
  [
    'NUL in location',
    meta(),
    add({ locationId: 'a\u0000b' }),
    'locationId: must be printable characters only',
  ],
  [
    'pair separator in sku',
    meta(),
    add({ sku: 'A\u001fdefault' }),
    'sku: must be printable characters only',
  ],
  [
    'DEL in order id',
    meta(),
    { op: 'releaseOrder', mode: 'cancel', orderId: 'o\u007f1' },
    'orderId: must be printable characters only',
  ],
  ['unknown field', meta(), add({ color: 'red' }), 'Unrecognized key: "color"'],
  [
    'unknown line field',
    meta(),
    order([{ ...okLine, gift: true }]),
    'lines.0: Unrecognized key: "gift"',
  ],
  ['unknown op', meta(), { op: 'teleport' } as unknown as Command, 'op:'],
  [
    'transfer to itself',
    meta(),
    {
      op: 'shipTransfer',
      transferId: 't',
      fromLocationId: 'x',
      toLocationId: 'x',
      lines: [{ sku: 'A', quantity: 1 }],
    },
    'fromLocationId must differ from toLocationId',
  ],
  [
    'kit without components',
    meta(),
    { op: 'defineKit', sku: 'K', components: [] },
    'components: Too small',
  ],
  [
    'kit of 51 components',
    meta(),
    {
      op: 'defineKit',
      sku: 'K',
      components: Array.from({ length: 51 }, (_, i) => ({ sku: `c${i}`, quantity: 1 })),
    },
    'components: Too big',
  ],
  [
    'kit component twice',
    meta(),
    {
      op: 'defineKit',
      sku: 'K',
      components: [
        { sku: 'A', quantity: 1 },
        { sku: 'A', quantity: 2 },
      ],
    },
    'components: component SKUs must be distinct and differ from the kit SKU',
  ],
  [
    'kit of itself',
    meta(),
    { op: 'defineKit', sku: 'K', components: [{ sku: 'K', quantity: 1 }] },
    'components: component SKUs must be distinct and differ from the kit SKU',
  ],
  [
    'kit component of 0',
    meta(),
    { op: 'defineKit', sku: 'K', components: [{ sku: 'A', quantity: 0 }] },
    'components.0.quantity: must be positive',
  ],
  ['empty event id', meta({ id: '' }), add(), 'id: must not be empty'],
  ['129-char event id', meta({ id: 'e'.repeat(129) }), add(), 'id: must be at most 128 characters'],
  ['tab in event id', meta({ id: 'e\t1' }), add(), 'id: must be printable characters only'],
  [
    'control character in source',
    meta({ source: '/shop\r' }),
    add(),
    'source: must be printable characters only',
  ],
  [
    'unknown envelope field',
    { ...meta(), extra: 1 } as EventMeta,
    add(),
    'Unrecognized key: "extra"',
  ],
  ['hash tag in tenant', meta({ tenant: 'a{b}' }), add(), 'tenant:'],
  ['empty tenant', meta({ tenant: '' }), add(), 'tenant:'],
  ['65-char tenant', meta({ tenant: 't'.repeat(65) }), add(), 'tenant:'],
  ['tenant with a space', meta({ tenant: 'a b' }), add(), 'tenant:'],
  ['tenant starting with a dot', meta({ tenant: '.acme' }), add(), 'tenant:'],
];

describe('invalid events are permanent errors and change nothing', () => {
  it.each(cases)('%s', async (_what, m, c, field) => {
    const before = await dumpPrefix(redis, prefix);
    const err = await engine.apply(m, c).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).name).toBe('PermanentError');
    expect((err as PermanentError).reason).toBe('invalid');
    expect((err as Error).message).toContain(field);
    expect(await dumpPrefix(redis, prefix)).toEqual(before);
    // the model refuses the same input with the same message
    expect(() => new InventoryModel().apply(m, c, 0)).toThrow((err as Error).message);
  });

  it('a 128-character id and a 64-character tenant are still fine', async () => {
    const r = await engine.apply(
      meta({ id: 'e'.repeat(128), tenant: 't'.repeat(64) }),
      add({ cartId: 'c'.repeat(128) }),
    );
    expect(r.status).toBe('applied');
  });
});
